package lincheck

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// op builds a history entry; ret < 0 marks an unknown outcome.
func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	if out.Unknown {
		ret = 1 << 40
	}
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: in, Output: out}
}

var (
	create  = Input{Kind: TopicCreate, Key: "topic/a"}
	del     = Input{Kind: TopicDelete, Key: "topic/a"}
	get     = Input{Kind: TopicGet, Key: "topic/a"}
	unknown = Output{Unknown: true}
)

func bReg(host string) Input   { return Input{Kind: BrokerRegister, Key: "broker/1", Host: host} }
func bPatch(host string) Input { return Input{Kind: BrokerPatch, Key: "broker/1", Host: host} }

var (
	bUnreg = Input{Kind: BrokerUnregister, Key: "broker/1"}
	bGet   = Input{Kind: BrokerGet, Key: "broker/1"}
	pid    = Input{Kind: ProducerIDsAllocate, Key: "pids"}
)

func TestModel(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		h    []porcupine.Operation
	}{
		{"create then get sees it", true, []porcupine.Operation{
			op(0, 0, 1, create, Output{Result: OK, TopicID: "x"}),
			op(1, 2, 3, get, Output{Result: OK, TopicID: "x"}),
		}},
		{"get after an acknowledged create misses it (stale read)", false, []porcupine.Operation{
			op(0, 0, 1, create, Output{Result: OK, TopicID: "x"}),
			op(1, 2, 3, get, Output{Result: NotFound}),
		}},
		{"get overlapping the create may miss it", true, []porcupine.Operation{
			op(0, 0, 5, create, Output{Result: OK, TopicID: "x"}),
			op(1, 1, 2, get, Output{Result: NotFound}),
		}},
		{"get sees another incarnation's id", false, []porcupine.Operation{
			op(0, 0, 1, create, Output{Result: OK, TopicID: "x"}),
			op(1, 2, 3, get, Output{Result: OK, TopicID: "y"}),
		}},
		{"two creates both succeed", false, []porcupine.Operation{
			op(0, 0, 5, create, Output{Result: OK, TopicID: "x"}),
			op(1, 1, 6, create, Output{Result: OK, TopicID: "y"}),
		}},
		{"create, delete, create again", true, []porcupine.Operation{
			op(0, 0, 1, create, Output{Result: OK, TopicID: "x"}),
			op(0, 2, 3, del, Output{Result: OK}),
			op(1, 4, 5, get, Output{Result: NotFound}),
			op(0, 6, 7, create, Output{Result: OK, TopicID: "y"}),
			op(1, 8, 9, get, Output{Result: OK, TopicID: "y"}),
		}},
		{"unknown create that took effect", true, []porcupine.Operation{
			op(0, 0, -1, create, unknown),
			op(1, 2, 3, get, Output{Result: OK, TopicID: "z"}),
			op(1, 4, 5, create, Output{Result: Exists}),
		}},
		{"unknown create that never took effect", true, []porcupine.Operation{
			op(0, 0, -1, create, unknown),
			op(1, 2, 3, get, Output{Result: NotFound}),
			op(1, 4, 5, create, Output{Result: OK, TopicID: "y"}),
		}},
		{"unknown create cannot undo an acknowledged delete", false, []porcupine.Operation{
			op(0, 0, -1, create, unknown),
			op(1, 2, 3, get, Output{Result: OK, TopicID: "z"}),
			op(1, 4, 5, del, Output{Result: OK}),
			op(1, 6, 7, get, Output{Result: OK, TopicID: "z"}),
		}},
		{"stale read of a deleted incarnation after an unknown create", false, []porcupine.Operation{
			op(0, 0, 1, create, Output{Result: OK, TopicID: "x"}),
			op(0, 2, 3, del, Output{Result: OK}),
			op(1, 4, -1, create, unknown),
			op(0, 6, 7, get, Output{Result: OK, TopicID: "x", KnownCreate: true}),
		}},
		{"lost acknowledged delete", false, []porcupine.Operation{
			op(0, 0, 1, create, Output{Result: OK, TopicID: "x"}),
			op(0, 2, 3, del, Output{Result: OK}),
			op(1, 4, 5, get, Output{Result: OK, TopicID: "x"}),
		}},
		{"broker lifecycle with epochs", true, []porcupine.Operation{
			op(0, 0, 1, bReg("h1"), Output{Result: OK, Epoch: 0}),
			op(0, 2, 3, bPatch("h2"), Output{Result: OK, Epoch: 1}),
			op(1, 4, 5, bGet, Output{Result: OK, Host: "h2", Epoch: 1, Status: "ALIVE"}),
			op(0, 6, 7, bUnreg, Output{Result: OK, Epoch: 2}),
			op(1, 8, 9, bPatch("h3"), Output{Result: NotActive}),
			op(0, 10, 11, bReg("h4"), Output{Result: OK, Epoch: 3}),
			op(1, 12, 13, bGet, Output{Result: OK, Host: "h4", Epoch: 3, Status: "ALIVE"}),
		}},
		{"broker epoch goes backwards", false, []porcupine.Operation{
			op(0, 0, 1, bReg("h1"), Output{Result: OK, Epoch: 0}),
			op(0, 2, 3, bPatch("h2"), Output{Result: OK, Epoch: 1}),
			op(1, 4, 5, bGet, Output{Result: OK, Host: "h1", Epoch: 0, Status: "ALIVE"}),
		}},
		{"unknown patch explains a later epoch", true, []porcupine.Operation{
			op(0, 0, 1, bReg("h1"), Output{Result: OK, Epoch: 0}),
			op(0, 2, -1, bPatch("h2"), unknown),
			op(1, 4, 5, bPatch("h3"), Output{Result: OK, Epoch: 2}),
		}},
		{"patch of an unknown broker", true, []porcupine.Operation{
			op(0, 0, 1, bPatch("h1"), Output{Result: NotFound}),
			op(0, 2, 3, bReg("h2"), Output{Result: OK, Epoch: 0}),
			op(1, 4, 5, bReg("h3"), Output{Result: Exists}),
		}},
		{"producer-id blocks ascend", true, []porcupine.Operation{
			op(0, 0, 1, pid, Output{Result: OK, FirstProducerID: 0, Size: 1000}),
			op(1, 0, -1, pid, unknown),
			op(0, 2, 3, pid, Output{Result: OK, FirstProducerID: 2000, Size: 1000}),
		}},
		{"producer-id blocks overlap", false, []porcupine.Operation{
			op(0, 0, 1, pid, Output{Result: OK, FirstProducerID: 0, Size: 1000}),
			op(1, 2, 3, pid, Output{Result: OK, FirstProducerID: 500, Size: 1000}),
		}},
		{"keys are independent", true, []porcupine.Operation{
			op(0, 0, 1, create, Output{Result: OK, TopicID: "x"}),
			op(1, 2, 3, Input{Kind: TopicGet, Key: "topic/b"}, Output{Result: NotFound}),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := porcupine.CheckOperationsTimeout(Model(), tc.h, 10*time.Second)
			want := porcupine.Illegal
			if tc.ok {
				want = porcupine.Ok
			}
			if res != want {
				t.Fatalf("check = %s, want %s", res, want)
			}
		})
	}
}

func TestRecorderCheckWritesVisualizationOnFailure(t *testing.T) {
	r := NewRecorder()
	r.Begin(0, create).End(Output{Result: OK, TopicID: "x"})
	r.Begin(1, pid).End(unknown)
	if res, err := r.Check(10*time.Second, ""); err != nil || res != porcupine.Ok {
		t.Fatalf("check = %s, %v; want Ok", res, err)
	}
	// Operations marks a get that returns a known create's id.
	r.Begin(2, Input{Kind: TopicCreate, Key: "topic/a"}).End(unknown)
	r.Begin(0, del).End(Output{Result: OK})
	r.Begin(1, get).End(Output{Result: OK, TopicID: "x"})
	path := filepath.Join(t.TempDir(), "history.html")
	res, err := r.Check(10*time.Second, path)
	if res != porcupine.Illegal || err == nil {
		t.Fatalf("check = %s, %v; want Illegal and an error", res, err)
	}
	if st, serr := os.Stat(path); serr != nil || st.Size() == 0 {
		t.Fatalf("visualization not written: %v", serr)
	}
	st := r.Stats()
	if st.Ops != 5 || st.Unknown != 2 || st.ByKind[TopicCreate] != 2 {
		t.Fatalf("stats = %+v", st)
	}
}
