package lincheck

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder collects the calls of concurrent clients. It is safe for
// concurrent use.
type Recorder struct {
	start time.Time // times are monotonic offsets from here

	mu  sync.Mutex
	ops []porcupine.Operation
}

// NewRecorder returns an empty history starting now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Call is a call in flight; End records it.
type Call struct {
	r      *Recorder
	client int
	in     Input
	at     int64
}

// Begin notes that client (a small, zero-based id; one call at a time per
// client) is about to send in.
func (r *Recorder) Begin(client int, in Input) *Call {
	return &Call{r: r, client: client, in: in, at: r.now()}
}

// Input is what the call asked.
func (c *Call) Input() Input { return c.in }

// End records the call with its answer. A call with out.Unknown gets an
// open-ended return (see the package doc).
func (c *Call) End(out Output) {
	ret := c.r.now()
	if out.Unknown {
		ret = -1 // made "after everything" by Check
	}
	c.r.mu.Lock()
	c.r.ops = append(c.r.ops, porcupine.Operation{ClientId: c.client, Input: c.in, Call: c.at, Output: out, Return: ret})
	c.r.mu.Unlock()
}

func (r *Recorder) now() int64 { return int64(time.Since(r.start)) }

// Stats counts recorded calls.
type Stats struct {
	Ops     int
	Unknown int
	ByKind  map[Kind]int
}

func (s Stats) String() string {
	kinds := make([]string, 0, len(s.ByKind))
	for k, n := range s.ByKind {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%d ops (%d of unknown outcome): %v", s.Ops, s.Unknown, kinds)
}

// Len is the number of calls recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops)
}

// Stats counts the calls recorded so far.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Stats{Ops: len(r.ops), ByKind: map[Kind]int{}}
	for _, op := range r.ops {
		st.ByKind[op.Input.(Input).Kind]++
		if op.Output.(Output).Unknown {
			st.Unknown++
		}
	}
	return st
}

// Operations returns the history with open-ended returns set after the
// last return, ready for porcupine.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	ops := append([]porcupine.Operation(nil), r.ops...)
	r.mu.Unlock()
	var last int64
	created := map[string]bool{} // topic ids answered by creates
	for _, op := range ops {
		last = max(last, op.Call, op.Return)
		if in, out := op.Input.(Input), op.Output.(Output); in.Kind == TopicCreate && out.Result == OK {
			created[out.TopicID] = true
		}
	}
	for i := range ops {
		if ops[i].Return < 0 {
			ops[i].Return = last + 1
		}
		if out := ops[i].Output.(Output); ops[i].Input.(Input).Kind == TopicGet && created[out.TopicID] {
			out.KnownCreate = true
			ops[i].Output = out
		}
	}
	return ops
}

// Check runs porcupine on the history. Anything but porcupine.Ok is an
// error: Illegal (not linearizable) or Unknown (the check ran out of
// time, which proves nothing). When the history is not Ok and
// visualization is not empty, porcupine's HTML view of the history is
// written there.
func (r *Recorder) Check(timeout time.Duration, visualization string) (porcupine.CheckResult, error) {
	model := Model()
	ops := r.Operations()
	res := porcupine.CheckOperationsTimeout(model, ops, timeout)
	if res == porcupine.Ok {
		return res, nil
	}
	// Again with the linearization data the visualization needs.
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	err := fmt.Errorf("lincheck: history of %s is %s", r.Stats(), res)
	if visualization != "" {
		if verr := porcupine.VisualizePath(model, info, visualization); verr != nil {
			return res, fmt.Errorf("%w (writing the visualization: %v)", err, verr)
		}
		err = fmt.Errorf("%w; visualization: %s", err, visualization)
	}
	return res, err
}
