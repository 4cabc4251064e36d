package testcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/lincheck"
)

// Workload is a set of concurrent clients calling the metadata API on
// random nodes and recording every call in History for the
// linearizability check. Keys are few (Topics names, Brokers ids, one
// producer-id counter) so that clients contend on them.
type Workload struct {
	Targets func() []string // base URLs to call, down nodes included
	Clients int             // default 12
	Topics  int             // topic names t0..t(n-1); default 6
	Brokers int             // broker ids 1..n; default 4
	// PIDBroker is an ALIVE broker the workload never touches; producer
	// ids are allocated for it. Register it before Run (Setup does).
	PIDBroker int32
	// EpochTopic, if set, names a topic whose partitions the clients
	// move replicas of (not modelled; it makes partition epochs change
	// for the invariant monitor). MoveBroker is the replica they add and
	// remove.
	EpochTopic string
	MoveBroker int32
	Seed       int64
	Timeout    time.Duration // per call; default 3s
	// TLS, if set, is the clients' HTTPS configuration (Cluster.ClientTLS).
	TLS     *tls.Config
	History *lincheck.Recorder
	Acks    *Acks
}

// Acks are acknowledged writes the after-run invariants check against
// the final state.
type Acks struct {
	mu           sync.Mutex
	PIDBlocks    [][2]int64      // [first, size]
	BrokerEpochs map[int32]int64 // highest acknowledged epoch per broker
	Writes       int             // acknowledged writes of any kind
	Faults       map[string]int  // faults injected, by kind
	Errors       []string        // unexpected answers
	// Failed counts calls that definitely failed (nothing answered, or
	// 503): the history leaves them out.
	Failed int
}

// NewAcks returns empty Acks.
func NewAcks() *Acks { return &Acks{Faults: map[string]int{}} }

// Acknowledged is how many writes were acknowledged so far.
func (a *Acks) Acknowledged() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Writes
}

// Fault counts one injected fault of kind.
func (a *Acks) Fault(kind string) {
	a.mu.Lock()
	a.Faults[kind]++
	a.mu.Unlock()
}

func (a *Acks) unexpected(format string, args ...any) {
	a.mu.Lock()
	if len(a.Errors) < 20 {
		a.Errors = append(a.Errors, fmt.Sprintf(format, args...))
	}
	a.mu.Unlock()
}

func (w *Workload) defaults() {
	if w.Clients == 0 {
		w.Clients = 12
	}
	if w.Topics == 0 {
		w.Topics = 6
	}
	if w.Brokers == 0 {
		w.Brokers = 4
	}
	if w.Timeout == 0 {
		w.Timeout = 3 * time.Second
	}
	if w.History == nil {
		w.History = lincheck.NewRecorder()
	}
	if w.Acks == nil {
		w.Acks = NewAcks()
	}
}

// Run calls until ctx ends and waits for every client's last call.
func (w *Workload) Run(ctx context.Context) {
	w.defaults()
	var wg sync.WaitGroup
	for i := range w.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc := w.client(i)
			defer wc.http.CloseIdleConnections()
			for ctx.Err() == nil {
				if !wc.one() {
					// Nothing answered (all down, no leader): do not spin.
					_ = PaceBetween(ctx, wc.rng, 5*time.Millisecond, 20*time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

// FinalReads reads every key once through target, after the faults have
// healed, as client id Clients: the check then proves that the final
// state holds every acknowledged write.
func (w *Workload) FinalReads(target string) {
	w.defaults()
	wc := w.client(w.Clients)
	wc.targets = func() []string { return []string{target} }
	defer wc.http.CloseIdleConnections()
	// Each read is retried until it gets an answer: a final read that is
	// left out would leave the check of that key's last writes undone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	read := func(get func()) {
		for get(); wc.failed && ctx.Err() == nil; get() {
			_ = Pace(ctx, 20*time.Millisecond)
		}
		if wc.failed {
			w.Acks.unexpected("final read through %s got no answer in 30s", target)
		}
	}
	for i := range w.Topics {
		read(func() { wc.topicGet(topicName(i)) })
	}
	for id := int32(1); id <= int32(w.Brokers); id++ {
		read(func() { wc.brokerGet(id) })
	}
}

// workloadClient sends raw requests rather than using package client on
// purpose: the history needs each call's own outcome (one attempt, no
// idempotency key, no retry), as the linearizability check models it.
type workloadClient struct {
	w       *Workload
	id      int
	rng     *rand.Rand
	http    *http.Client
	targets func() []string
	seq     int
	failed  bool // the last call definitely did not apply (nothing answered, 503)
}

func (w *Workload) client(id int) *workloadClient {
	return &workloadClient{
		w: w, id: id,
		rng:     rand.New(rand.NewPCG(uint64(w.Seed), uint64(id))),
		http:    &http.Client{Timeout: w.Timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 2, TLSClientConfig: w.TLS}},
		targets: w.Targets,
	}
}

func topicName(i int) string { return "t" + strconv.Itoa(i) }

// one makes one random call and reports whether it got an answer (false:
// nothing was reachable or the cluster had no leader).
func (c *workloadClient) one() bool {
	c.failed = false
	c.randomCall()
	return !c.failed
}

func (c *workloadClient) randomCall() {
	r := c.rng.IntN(100)
	switch {
	case r < 14:
		c.topicCreate(topicName(c.rng.IntN(c.w.Topics)))
	case r < 22:
		c.topicDelete(topicName(c.rng.IntN(c.w.Topics)))
	case r < 45:
		c.topicGet(topicName(c.rng.IntN(c.w.Topics)))
	case r < 51:
		c.brokerRegister(c.broker())
	case r < 59:
		c.brokerPatch(c.broker())
	case r < 62:
		c.brokerUnregister(c.broker())
	case r < 80:
		c.brokerGet(c.broker())
	case r < 92:
		c.allocatePIDs()
	default:
		if c.w.EpochTopic != "" {
			c.moveReplica()
		} else {
			c.topicGet(topicName(c.rng.IntN(c.w.Topics)))
		}
	}
}

func (c *workloadClient) broker() int32 { return int32(1 + c.rng.IntN(c.w.Brokers)) }

func (c *workloadClient) host() string {
	c.seq++
	return fmt.Sprintf("h%d-%d", c.id, c.seq)
}

// outcome classifies an answer: done (a definite answer the model knows:
// resp is set), failed (definitely not applied: drop it from the history),
// or unknown (a write that may have been applied).
type outcome int

const (
	done outcome = iota
	failed
	unknown
)

// outcomeOf classifies a call's HTTP answer or error. A 503 is definite
// (the server answers it only when nothing was proposed or the proposal
// can never commit), as is a connection that could not be made; a 504 or
// a connection lost after sending leaves a write unknown. A read that got
// no answer is simply failed.
func outcomeOf(write bool, resp *Response, err error) outcome {
	switch {
	case err != nil:
		var op *net.OpError
		if !write || (errors.As(err, &op) && op.Op == "dial") {
			return failed
		}
		return unknown
	case resp.Status == http.StatusServiceUnavailable:
		return failed
	case resp.Status == http.StatusGatewayTimeout:
		if write {
			return unknown
		}
		return failed
	}
	return done
}

// call sends one request to a random target and classifies the answer.
// Definite answers with other statuses than the listed ones are recorded
// as unexpected.
func (c *workloadClient) call(write bool, method, path string, body any, ok ...int) (outcome, *Response) {
	o, resp := c.send(write, method, path, body, ok...)
	c.failed = o == failed
	if c.failed {
		c.w.Acks.mu.Lock()
		c.w.Acks.Failed++
		c.w.Acks.mu.Unlock()
	}
	return o, resp
}

func (c *workloadClient) send(write bool, method, path string, body any, ok ...int) (outcome, *Response) {
	ts := c.targets()
	base := ts[c.rng.IntN(len(ts))]
	ctx, cancel := context.WithTimeout(context.Background(), c.w.Timeout)
	defer cancel()
	resp, err := Do(ctx, c.http, base, method, path, body)
	if o := outcomeOf(write, resp, err); o != done {
		return o, nil
	}
	for _, s := range ok {
		if resp.Status == s {
			return done, resp
		}
	}
	c.w.Acks.unexpected("%s %s via %s: %d %s", method, path, base, resp.Status, resp.Body)
	if write {
		return unknown, nil
	}
	return failed, nil
}

// record ends call with the classified answer; decode maps a definite
// answer to the model's output.
func (c *workloadClient) record(call *lincheck.Call, o outcome, resp *Response, decode func(*Response) lincheck.Output) {
	switch o {
	case unknown:
		call.End(lincheck.Output{Unknown: true})
	case done:
		out := decode(resp)
		if call.Input().Kind.IsWrite() && out.Result == lincheck.OK {
			c.w.Acks.mu.Lock()
			c.w.Acks.Writes++
			c.w.Acks.mu.Unlock()
		}
		call.End(out)
	}
}

// errorResult maps the documented error codes of the workload's calls;
// any other is an unexpected answer.
func (c *workloadClient) errorResult(resp *Response) lincheck.Result {
	switch resp.ErrorCode() {
	case "TOPIC_NOT_FOUND", "BROKER_NOT_FOUND":
		return lincheck.NotFound
	case "TOPIC_ALREADY_EXISTS", "BROKER_ALREADY_REGISTERED":
		return lincheck.Exists
	case "BROKER_NOT_ACTIVE":
		return lincheck.NotActive
	}
	c.w.Acks.unexpected("%d %s", resp.Status, resp.Body)
	return lincheck.Result("unexpected " + resp.ErrorCode())
}

func (c *workloadClient) topicCreate(name string) {
	in := lincheck.Input{Kind: lincheck.TopicCreate, Key: "topic/" + name}
	call := c.w.History.Begin(c.id, in)
	o, resp := c.call(true, http.MethodPost, "/v1/topics", map[string]any{"name": name}, http.StatusCreated, http.StatusConflict)
	c.record(call, o, resp, func(r *Response) lincheck.Output {
		if r.Status != http.StatusCreated {
			return lincheck.Output{Result: c.errorResult(r)}
		}
		var body contract.TopicDetail
		if err := r.JSON(&body); err != nil || body.Topic.TopicUUID == "" {
			c.w.Acks.unexpected("create topic %s: undecodable %s", name, r.Body)
		}
		return lincheck.Output{Result: lincheck.OK, TopicID: body.Topic.TopicUUID}
	})
}

func (c *workloadClient) topicDelete(name string) {
	call := c.w.History.Begin(c.id, lincheck.Input{Kind: lincheck.TopicDelete, Key: "topic/" + name})
	o, resp := c.call(true, http.MethodDelete, "/v1/topics/"+name, nil, http.StatusOK, http.StatusNotFound)
	c.record(call, o, resp, func(r *Response) lincheck.Output {
		if r.Status != http.StatusOK {
			return lincheck.Output{Result: c.errorResult(r)}
		}
		return lincheck.Output{Result: lincheck.OK}
	})
}

func (c *workloadClient) topicGet(name string) {
	call := c.w.History.Begin(c.id, lincheck.Input{Kind: lincheck.TopicGet, Key: "topic/" + name})
	o, resp := c.call(false, http.MethodGet, "/v1/topics/"+name, nil, http.StatusOK, http.StatusNotFound)
	c.record(call, o, resp, func(r *Response) lincheck.Output {
		if r.Status != http.StatusOK {
			return lincheck.Output{Result: c.errorResult(r)}
		}
		var body contract.TopicDetail
		if err := r.JSON(&body); err != nil || body.Topic.TopicUUID == "" {
			c.w.Acks.unexpected("get topic %s: undecodable %s", name, r.Body)
		}
		return lincheck.Output{Result: lincheck.OK, TopicID: body.Topic.TopicUUID}
	})
}

func brokerKey(id int32) string { return "broker/" + strconv.Itoa(int(id)) }

// brokerWrite records a register, patch or unregister: the answer is the
// written record, whose epoch the model checks.
func (c *workloadClient) brokerWrite(kind lincheck.Kind, id int32, host, method, path string, body any, okStatus int) {
	call := c.w.History.Begin(c.id, lincheck.Input{Kind: kind, Key: brokerKey(id), Host: host})
	o, resp := c.call(true, method, path, body, okStatus, http.StatusNotFound, http.StatusConflict)
	c.record(call, o, resp, func(r *Response) lincheck.Output {
		if r.Status != okStatus {
			return lincheck.Output{Result: c.errorResult(r)}
		}
		var rec contract.Record
		epoch := int64(-1)
		if err := r.JSON(&rec); err == nil {
			switch b := rec.Body.(type) {
			case *contract.Broker:
				epoch = b.Epoch
			case *contract.BrokerRegistrationChangeBrokerRecord:
				epoch = b.Epoch
			}
		}
		if epoch < 0 {
			c.w.Acks.unexpected("%s broker %d: undecodable %s", kind, id, r.Body)
		}
		return lincheck.Output{Result: lincheck.OK, Epoch: epoch}
	})
}

func (c *workloadClient) brokerRegister(id int32) {
	host := c.host()
	c.brokerWrite(lincheck.BrokerRegister, id, host, http.MethodPost, "/v1/brokers",
		map[string]any{"brokerId": id, "brokerHost": host, "brokerPort": "9092", "securityProtocol": "PLAINTEXT", "rackId": "r1"},
		http.StatusCreated)
}

func (c *workloadClient) brokerPatch(id int32) {
	host := c.host()
	c.brokerWrite(lincheck.BrokerPatch, id, host, http.MethodPatch, "/v1/brokers/"+strconv.Itoa(int(id)),
		map[string]any{"brokerHost": host}, http.StatusOK)
}

func (c *workloadClient) brokerUnregister(id int32) {
	c.brokerWrite(lincheck.BrokerUnregister, id, "", http.MethodDelete, "/v1/brokers/"+strconv.Itoa(int(id)), nil, http.StatusOK)
}

func (c *workloadClient) brokerGet(id int32) {
	call := c.w.History.Begin(c.id, lincheck.Input{Kind: lincheck.BrokerGet, Key: brokerKey(id)})
	o, resp := c.call(false, http.MethodGet, "/v1/brokers/"+strconv.Itoa(int(id)), nil, http.StatusOK, http.StatusNotFound)
	c.record(call, o, resp, func(r *Response) lincheck.Output {
		if r.Status != http.StatusOK {
			return lincheck.Output{Result: c.errorResult(r)}
		}
		var b contract.Broker
		if err := r.JSON(&b); err != nil || b.BrokerStatus == "" {
			c.w.Acks.unexpected("get broker %d: undecodable %s", id, r.Body)
		}
		return lincheck.Output{Result: lincheck.OK, Host: b.BrokerHost, Epoch: b.Epoch, Status: b.BrokerStatus}
	})
}

func (c *workloadClient) allocatePIDs() {
	call := c.w.History.Begin(c.id, lincheck.Input{Kind: lincheck.ProducerIDsAllocate, Key: "pids"})
	o, resp := c.call(true, http.MethodPost, "/v1/producer-ids", map[string]any{"brokerId": c.w.PIDBroker}, http.StatusCreated)
	if o == unknown {
		// The model cannot use it (a block of unknown outcome moves no
		// bound), and every pending unknown call makes checking the key
		// slower; the final overlap check still covers its block.
		return
	}
	c.record(call, o, resp, func(r *Response) lincheck.Output {
		var b contract.ProducerIDsResponse
		if err := r.JSON(&b); err != nil || b.Size <= 0 {
			c.w.Acks.unexpected("allocate producer ids: undecodable %s", r.Body)
		}
		c.w.Acks.mu.Lock()
		c.w.Acks.PIDBlocks = append(c.w.Acks.PIDBlocks, [2]int64{b.FirstProducerID, b.Size})
		c.w.Acks.mu.Unlock()
		return lincheck.Output{Result: lincheck.OK, FirstProducerID: b.FirstProducerID, Size: b.Size}
	})
}

// moveReplica adds or removes MoveBroker as a replica of a partition of
// EpochTopic. Not modelled: it exists to move partition epochs. Refusals
// (already a replica, not one, the last replica) are expected.
func (c *workloadClient) moveReplica() {
	p := c.rng.IntN(4)
	path := fmt.Sprintf("/v1/topics/%s/partitions/%d/replicas", c.w.EpochTopic, p)
	if c.rng.IntN(2) == 0 {
		c.call(true, http.MethodPost, path, map[string]any{"brokerId": c.w.MoveBroker}, http.StatusOK, http.StatusBadRequest, http.StatusConflict)
	} else {
		c.call(true, http.MethodDelete, path+"/"+strconv.Itoa(int(c.w.MoveBroker)), nil, http.StatusOK, http.StatusBadRequest, http.StatusConflict, http.StatusNotFound)
	}
}
