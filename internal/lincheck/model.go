// Package lincheck checks that histories of concurrent YAKt API calls are
// linearizable, with porcupine (github.com/anishathalye/porcupine, the
// checker etcd's robustness tests use). It holds a sequential model of the
// parts of the metadata API the fault tests exercise — topics, brokers and
// producer-id blocks — and a Recorder that clients write their calls into.
//
// The model is partitioned by key (one topic name, one broker id, the
// producer-id counter): operations on different keys commute, so porcupine
// checks each key's history on its own, which keeps checking fast for tens
// of thousands of operations.
//
// A call whose outcome is unknown (a timeout, a connection lost after the
// request was sent, 504) may or may not have taken effect. It is recorded
// with Unknown set and an open-ended return time: porcupine may then place
// its effect anywhere after its call, including after everything else,
// which is the same as never.
package lincheck

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Kind names an operation of the model.
type Kind string

// The operations the model knows.
const (
	TopicCreate Kind = "topic.create"
	TopicDelete Kind = "topic.delete"
	TopicGet    Kind = "topic.get"

	BrokerRegister   Kind = "broker.register"
	BrokerPatch      Kind = "broker.patch"
	BrokerUnregister Kind = "broker.unregister"
	BrokerGet        Kind = "broker.get"

	ProducerIDsAllocate Kind = "pid.allocate"
)

// IsWrite reports whether k changes state (everything but the gets).
func (k Kind) IsWrite() bool { return k != TopicGet && k != BrokerGet }

// Result is how a call ended, as the API answered it.
type Result string

// Results. Every documented error a workload call can get maps to one of
// them; anything else is a test failure, not a history entry.
const (
	OK        Result = "ok"
	NotFound  Result = "not-found"  // 404 TOPIC_NOT_FOUND / BROKER_NOT_FOUND
	Exists    Result = "exists"     // 409 TOPIC_ALREADY_EXISTS / BROKER_ALREADY_REGISTERED
	NotActive Result = "not-active" // 409 BROKER_NOT_ACTIVE
)

// Input is a call: what was asked of which key.
type Input struct {
	Kind Kind
	Key  string // "topic/<name>", "broker/<id>" or "pids"
	// Host is the unique value a broker register or patch writes.
	Host string
}

// Output is an answer. For an unknown outcome only Unknown is set.
type Output struct {
	Unknown bool
	Result  Result
	// Topic: the topic's UUID (create, get).
	TopicID string
	// KnownCreate (gets only, set by Recorder.Operations): TopicID is the
	// id a create with a known answer returned. Such an id cannot belong
	// to an incarnation made by a create of unknown outcome.
	KnownCreate bool
	// Broker: host, epoch and status after the call (get), or the epoch
	// the written record carries (register, patch, unregister).
	Host   string
	Epoch  int64
	Status string
	// Producer ids: the block given.
	FirstProducerID int64
	Size            int64
}

// state is one key's value. Only the fields of the key's kind are used;
// it is a comparable struct so porcupine can compare and cache states.
type state struct {
	// topic
	Exists  bool
	TopicID string // "" while a create whose outcome is unknown may hold it

	// broker
	Registered bool
	Host       string
	Epoch      int64
	Status     string // ALIVE or CLOSED (the workload never fences)

	// producer ids: the lowest id a new block may start at
	NextProducerID int64
}

// Model is the porcupine model of the API, partitioned by Input.Key.
func Model() porcupine.Model {
	return porcupine.Model{
		Partition:         partitionByKey,
		Init:              func() any { return state{} },
		Step:              func(s, in, out any) (bool, any) { return step(s.(state), in.(Input), out.(Output)) },
		Equal:             func(a, b any) bool { return a.(state) == b.(state) },
		DescribeOperation: describe,
		DescribeState:     func(s any) string { return fmt.Sprintf("%+v", s.(state)) },
	}
}

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(Input).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// step applies one call to s: whether the answer is possible in s, and the
// state after it. An unknown outcome is applied as if it took effect (its
// open-ended return lets porcupine linearize it last, i.e. never).
func step(s state, in Input, out Output) (bool, state) {
	switch in.Kind {
	case TopicCreate, TopicDelete, TopicGet:
		return stepTopic(s, in, out)
	case BrokerRegister, BrokerPatch, BrokerUnregister, BrokerGet:
		return stepBroker(s, in, out)
	case ProducerIDsAllocate:
		return stepProducerIDs(s, out)
	}
	return false, s
}

func stepTopic(s state, in Input, out Output) (bool, state) {
	switch in.Kind {
	case TopicCreate:
		switch {
		case out.Unknown:
			if !s.Exists {
				s.Exists, s.TopicID = true, ""
			}
			return true, s
		case out.Result == OK:
			if s.Exists {
				return false, s
			}
			s.Exists, s.TopicID = true, out.TopicID
			return true, s
		case out.Result == Exists:
			return s.Exists, s
		}
	case TopicDelete:
		switch {
		case out.Unknown:
			return true, state{}
		case out.Result == OK:
			return s.Exists, state{}
		case out.Result == NotFound:
			return !s.Exists, s
		}
	case TopicGet:
		switch out.Result {
		case OK:
			// A create of unknown outcome leaves the id open; the first
			// read that sees the topic fixes it, unless the id is another
			// create's (a stale read of an earlier incarnation).
			if !s.Exists || (s.TopicID != "" && s.TopicID != out.TopicID) || (s.TopicID == "" && out.KnownCreate) {
				return false, s
			}
			s.TopicID = out.TopicID
			return true, s
		case NotFound:
			return !s.Exists, s
		}
	}
	return false, s
}

func stepBroker(s state, in Input, out Output) (bool, state) {
	active := s.Registered && s.Status != "CLOSED"
	switch in.Kind {
	case BrokerRegister:
		next := s
		if !active {
			next.Epoch = 0
			if s.Registered {
				next.Epoch = s.Epoch + 1 // re-registering a CLOSED id
			}
			next.Registered, next.Host, next.Status = true, in.Host, "ALIVE"
		}
		switch {
		case out.Unknown:
			return true, next
		case out.Result == OK:
			return !active && out.Epoch == next.Epoch, next
		case out.Result == Exists:
			return active, s
		}
	case BrokerPatch, BrokerUnregister:
		next := s
		if active {
			next.Epoch = s.Epoch + 1
			if in.Kind == BrokerPatch {
				next.Host = in.Host
			} else {
				next.Status = "CLOSED"
			}
		}
		switch {
		case out.Unknown:
			return true, next
		case out.Result == OK:
			return active && out.Epoch == next.Epoch, next
		case out.Result == NotFound:
			return !s.Registered, s
		case out.Result == NotActive:
			return s.Registered && !active, s
		}
	case BrokerGet:
		switch out.Result {
		case OK:
			return s.Registered && out.Host == s.Host && out.Epoch == s.Epoch && out.Status == s.Status, s
		case NotFound:
			return !s.Registered, s
		}
	}
	return false, s
}

// stepProducerIDs: a new block starts at or after the end of every block
// given before it (the server may skip ids, never reuse them). A block of
// unknown outcome leaves the bound where it is: weaker, never wrong.
func stepProducerIDs(s state, out Output) (bool, state) {
	switch {
	case out.Unknown:
		return true, s
	case out.Result == OK:
		if out.FirstProducerID < s.NextProducerID || out.Size <= 0 {
			return false, s
		}
		s.NextProducerID = out.FirstProducerID + out.Size
		return true, s
	}
	return false, s
}

func describe(in, out any) string {
	i, o := in.(Input), out.(Output)
	call := fmt.Sprintf("%s %s", i.Kind, i.Key)
	if i.Host != "" {
		call += " host=" + i.Host
	}
	if o.Unknown {
		return call + " -> ?"
	}
	ans := string(o.Result)
	switch {
	case o.TopicID != "":
		ans += " id=" + o.TopicID
	case o.Size > 0:
		ans += fmt.Sprintf(" [%d,+%d)", o.FirstProducerID, o.Size)
	case o.Status != "" || o.Epoch != 0 || o.Host != "":
		ans += fmt.Sprintf(" host=%s epoch=%d %s", o.Host, o.Epoch, o.Status)
	}
	return call + " -> " + ans
}
