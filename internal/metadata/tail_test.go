package metadata

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// tr is a tail record: offset and timestamp (ms after t0); bodies name both.
func tr(offset int64, ms int) Record {
	return Record{Offset: offset, Timestamp: t0.Add(time.Duration(ms) * time.Millisecond),
		Body: top(fmt.Sprintf("o%d-t%d", offset, ms), "u")}
}

func offsets(recs []Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.Body.(*TopicRecord).Name)
	}
	return out
}

func TestTailSince(t *testing.T) {
	// Offsets 1, 2, 2, 2, 3, 5 (4 had no records), then 6.
	recs := []Record{tr(1, 1), tr(2, 2), tr(2, 2), tr(2, 2), tr(3, 3), tr(5, 5), tr(6, 6)}
	for i := range recs {
		recs[i].Body = top(fmt.Sprintf("r%d@%d", i, recs[i].Offset), "u")
	}
	tests := []struct {
		name   string
		max    int
		offset int64
		limit  int
		want   []string
		err    error
	}{
		{"from the start", 100, 0, 0, []string{"r0@1", "r1@2", "r2@2", "r3@2", "r4@3", "r5@5", "r6@6"}, nil},
		{"after offset 2", 100, 2, 0, []string{"r4@3", "r5@5", "r6@6"}, nil},
		{"after a gap offset", 100, 4, 0, []string{"r5@5", "r6@6"}, nil},
		{"up to date", 100, 6, 0, []string{}, nil},
		{"ahead of the tail", 100, 99, 0, []string{}, nil},
		{"limit cuts before a split offset", 100, 0, 3, []string{"r0@1"}, nil},
		{"limit on an offset boundary", 100, 0, 4, []string{"r0@1", "r1@2", "r2@2", "r3@2"}, nil},
		{"first offset bigger than limit comes whole", 100, 1, 2, []string{"r1@2", "r2@2", "r3@2"}, nil},
		{"limit 1", 100, 2, 1, []string{"r4@3"}, nil},
		{"negative offset before a full tail", 100, -1, 0, nil, ErrOffsetCompacted},
		// max 4: offsets 1 and 2 are evicted whole (2 would not fit with 3, 5, 6).
		{"evicted", 4, 0, 0, nil, ErrOffsetCompacted},
		{"evicted: just below the floor", 4, 1, 0, nil, ErrOffsetCompacted},
		{"evicted: at the floor", 4, 2, 0, []string{"r4@3", "r5@5", "r6@6"}, nil},
		{"max 1 keeps the newest offset", 1, 5, 0, []string{"r6@6"}, nil},
		{"max 1 below it", 1, 4, 0, nil, ErrOffsetCompacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail := NewTail(tt.max)
			tail.Append(recs[:3]) // appends in pieces, one offset split across calls
			tail.Append(recs[3:])
			got, err := tail.Since(tt.offset, tt.limit)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Since(%d, %d) error = %v, want %v", tt.offset, tt.limit, err, tt.err)
			}
			if err != nil {
				return
			}
			if g := offsets(got); !reflect.DeepEqual(tt.want, g) {
				t.Errorf("Since(%d, %d) (-want +got):\n%s", tt.offset, tt.limit, diffJSON(tt.want, g))
			}
			enc, err := tail.SinceEncoded(tt.offset, tt.limit)
			checkEncoded(t, got, enc, err)
		})
	}
}

func TestTailBounds(t *testing.T) {
	tail := NewTail(5)
	if got := tail.FirstOffset(); got != 1 {
		t.Errorf("new tail FirstOffset = %d, want 1", got)
	}
	for o := int64(1); o <= 20; o++ {
		tail.Append([]Record{tr(o, int(o))})
		if n := tail.Len(); n > 5 {
			t.Fatalf("after offset %d the tail holds %d records, max 5", o, n)
		}
	}
	if got, want := [3]int64{tail.FirstOffset(), tail.LastOffset(), int64(tail.Len())}, [3]int64{16, 20, 5}; got != want {
		t.Errorf("(FirstOffset, LastOffset, Len) = %v, want %v", got, want)
	}
	if _, err := tail.Since(tail.FirstOffset()-1, 0); err != nil {
		t.Errorf("Since(FirstOffset()-1) = %v", err)
	}
	if _, err := tail.Since(tail.FirstOffset()-2, 0); !errors.Is(err, ErrOffsetCompacted) {
		t.Errorf("Since(FirstOffset()-2) = %v, want ErrOffsetCompacted", err)
	}
	// A batch larger than the tail leaves only whole offsets.
	big := []Record{tr(21, 21), tr(21, 21), tr(22, 22), tr(22, 22), tr(22, 22), tr(22, 22), tr(22, 22), tr(22, 22)}
	tail.Append(big)
	if got, want := [3]int64{tail.FirstOffset(), tail.LastOffset(), int64(tail.Len())}, [3]int64{23, 22, 0}; got != want {
		t.Errorf("after an oversized offset (FirstOffset, LastOffset, Len) = %v, want %v", got, want)
	}
}

func TestTailReset(t *testing.T) {
	tail := NewTail(10)
	tail.Append([]Record{tr(1, 1), tr(2, 2), tr(3, 3)})
	tail.Reset(100)
	if got, want := [3]int64{tail.FirstOffset(), tail.LastOffset(), int64(tail.Len())}, [3]int64{101, 100, 0}; got != want {
		t.Errorf("after Reset(100) (FirstOffset, LastOffset, Len) = %v, want %v", got, want)
	}
	if _, err := tail.Since(99, 0); !errors.Is(err, ErrOffsetCompacted) {
		t.Errorf("Since(99) = %v, want ErrOffsetCompacted", err)
	}
	if got, err := tail.Since(100, 0); err != nil || len(got) != 0 {
		t.Errorf("Since(100) = %v, %v; want nothing, no error", got, err)
	}
	// Records the snapshot already covers are ignored.
	tail.Append([]Record{tr(99, 4), tr(100, 4), tr(101, 5), tr(102, 6)})
	got, err := tail.Since(100, 0)
	if want := []string{"o101-t5", "o102-t6"}; err != nil || !reflect.DeepEqual(want, offsets(got)) {
		t.Errorf("Since(100) after appends = %v, %v; want %v", offsets(got), err, want)
	}
	// Reset forgets the timestamps of what it replaced; ResetAt knows them.
	if _, err := tail.SinceTime(t0.Add(time.Hour), 0); !errors.Is(err, ErrOffsetCompacted) {
		t.Errorf("SinceTime after Reset = %v, want ErrOffsetCompacted", err)
	}
	tail.ResetAt(200, t0.Add(10*time.Millisecond))
	tail.Append([]Record{tr(201, 11), tr(202, 12)})
	if _, err := tail.SinceTime(t0.Add(9*time.Millisecond), 0); !errors.Is(err, ErrOffsetCompacted) {
		t.Errorf("SinceTime before the snapshot's max = %v, want ErrOffsetCompacted", err)
	}
	got, err = tail.SinceTime(t0.Add(10*time.Millisecond), 0)
	if want := []string{"o201-t11", "o202-t12"}; err != nil || !reflect.DeepEqual(want, offsets(got)) {
		t.Errorf("SinceTime(snapshot max) = %v, %v; want %v", offsets(got), err, want)
	}
}

func TestTailSinceTime(t *testing.T) {
	monotone := []Record{tr(1, 10), tr(2, 20), tr(2, 20), tr(3, 30), tr(4, 40)}
	skewed := []Record{tr(1, 10), tr(2, 50), tr(3, 20), tr(4, 40), tr(5, 60)} // a leader with a fast clock at 2
	tests := []struct {
		name  string
		recs  []Record
		max   int
		ms    int
		limit int
		want  []string
		err   error
	}{
		{"all", monotone, 10, 0, 0, []string{"o1-t10", "o2-t20", "o2-t20", "o3-t30", "o4-t40"}, nil},
		{"strictly after", monotone, 10, 20, 0, []string{"o3-t30", "o4-t40"}, nil},
		{"between", monotone, 10, 25, 0, []string{"o3-t30", "o4-t40"}, nil},
		{"none newer", monotone, 10, 40, 0, []string{}, nil},
		{"limit keeps offsets whole", monotone, 10, 10, 1, []string{"o2-t20", "o2-t20"}, nil},
		{"evicted newer than ts", monotone, 3, 15, 0, nil, ErrOffsetCompacted},
		{"evicted but all older than ts", monotone, 3, 20, 0, []string{"o3-t30", "o4-t40"}, nil},
		{"skewed clocks: filtered by time", skewed, 10, 30, 0, []string{"o2-t50", "o4-t40", "o5-t60"}, nil},
		{"skewed clocks: limit", skewed, 10, 30, 2, []string{"o2-t50", "o4-t40"}, nil},
		// evicting 1 and 2 drops a record at t50
		{"skewed clocks: evicted newer", skewed, 3, 45, 0, nil, ErrOffsetCompacted},
		{"skewed clocks: after eviction, in order again", skewed, 3, 50, 0, []string{"o5-t60"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tail := NewTail(tt.max)
			tail.Append(tt.recs)
			got, err := tail.SinceTime(t0.Add(time.Duration(tt.ms)*time.Millisecond), tt.limit)
			if !errors.Is(err, tt.err) {
				t.Fatalf("SinceTime error = %v, want %v", err, tt.err)
			}
			if err == nil && !reflect.DeepEqual(tt.want, offsets(got)) {
				t.Errorf("SinceTime (-want +got):\n%s", diffJSON(tt.want, offsets(got)))
			}
			enc, encErr := tail.SinceTimeEncoded(t0.Add(time.Duration(tt.ms)*time.Millisecond), tt.limit)
			if !errors.Is(encErr, tt.err) {
				t.Fatalf("SinceTimeEncoded error = %v, want %v", encErr, tt.err)
			}
			if err == nil {
				checkEncoded(t, got, enc, encErr)
			}
		})
	}
}

func TestTailInversionsTracked(t *testing.T) {
	// After the out-of-order records are evicted, the binary search path
	// must give the same answers as a scan.
	tail := NewTail(4)
	tail.Append([]Record{tr(1, 50), tr(2, 10)})
	if tail.inversions != 1 {
		t.Fatalf("inversions = %d, want 1", tail.inversions)
	}
	tail.Append([]Record{tr(3, 20), tr(4, 30), tr(5, 40), tr(6, 45)})
	if tail.inversions != 0 {
		t.Errorf("inversions after eviction = %d, want 0", tail.inversions)
	}
	got, err := tail.SinceTime(t0.Add(50*time.Millisecond), 0)
	if err != nil || len(got) != 0 {
		t.Errorf("SinceTime(50) = %v, %v", offsets(got), err)
	}
}

func TestTailAppendDecreasingPanics(t *testing.T) {
	tail := NewTail(10)
	tail.Append([]Record{tr(5, 1)})
	defer func() {
		if recover() == nil {
			t.Errorf("appending offset 4 after 5 did not panic")
		}
	}()
	tail.Append([]Record{tr(4, 1)})
}

func TestTailReturnsCopies(t *testing.T) {
	tail := NewTail(10)
	tail.Append([]Record{tr(1, 1), tr(2, 2)})
	got, _ := tail.Since(0, 0)
	got[0] = tr(9, 9)
	again, _ := tail.Since(0, 0)
	if again[0].Offset != 1 {
		t.Errorf("changing a returned slice changed the tail")
	}
}

func TestTailChanged(t *testing.T) {
	tail := NewTail(10)
	ch := tail.Changed()
	select {
	case <-ch:
		t.Fatal("Changed closed before any append")
	default:
	}
	tail.Append(nil)
	select {
	case <-ch:
		t.Fatal("Changed closed by an empty append")
	default:
	}
	tail.Append([]Record{tr(1, 1)})
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by an append")
	}
	ch = tail.Changed()
	tail.Reset(10)
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Reset")
	}
}

func TestTailConcurrent(t *testing.T) {
	tail := NewTail(50)
	const last = 2000
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var seen int64
			for seen < last {
				ch := tail.Changed()
				recs, err := tail.Since(seen, 7)
				if errors.Is(err, ErrOffsetCompacted) {
					seen = tail.FirstOffset() - 1 // what a snapshot would give
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				for i, r := range recs {
					if r.Offset <= seen || i > 0 && r.Offset < recs[i-1].Offset {
						t.Errorf("offset %d after %d", r.Offset, seen)
						return
					}
				}
				if n := len(recs); n > 0 {
					if n%2 != 0 {
						t.Errorf("Since split an offset: %d records", n)
					}
					seen = recs[n-1].Offset
				}
				if len(recs) == 0 {
					<-ch
				}
			}
		})
	}
	for o := int64(1); o <= last; o++ {
		tail.Append([]Record{tr(o, int(o)), tr(o, int(o))})
	}
	wg.Wait()
}

func TestTailLastRegistration(t *testing.T) {
	tail := NewTail(3)
	tail.Append(recsAt(2, brk(1, 0, StatusAlive), brk(2, 0, StatusAlive), top("a", "u"), brk(1, 1, StatusAlive)))
	// Max 3 keeps offsets 3-5 (floor 2); broker 2 registered at 3, and
	// broker 3 never did.
	for _, tt := range []struct {
		id   int32
		want int64
	}{{1, 5}, {2, 3}, {3, 2}} {
		if got := tail.LastRegistration(tt.id); got != tt.want {
			t.Errorf("LastRegistration(%d) = %d, want %d", tt.id, got, tt.want)
		}
	}
	tail.Append(recsAt(6, top("b", "v"), top("c", "w")))
	if got := tail.LastRegistration(2); got != 4 {
		t.Errorf("LastRegistration(2) after its record was evicted = %d, want the floor 4", got)
	}
}

// SinceEncoded hands out the tail's own entries: what it returned stays
// as it was through appends, evictions, compaction and Reset, and an
// append to it never writes into the tail.
func TestTailEncodedSlicesStayPut(t *testing.T) {
	tail := NewTail(4)
	for o := int64(1); o <= 4; o++ {
		tail.Append([]Record{tr(o, int(o))})
	}
	got, err := tail.SinceEncoded(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{1, 2, 3, 4}
	check := func(when string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", when, len(got), len(want))
		}
		for i, r := range got {
			if r.Record().Offset != want[i] {
				t.Fatalf("%s: record %d has offset %d, want %d", when, i, r.Record().Offset, want[i])
			}
		}
	}
	_ = append(got, TailRecord{})     // must reallocate, not write past got into the tail
	for o := int64(5); o <= 12; o++ { // evicts 1..8 and compacts on the way
		tail.Append([]Record{tr(o, int(o))})
	}
	check("after appends")
	if now, _ := tail.SinceEncoded(8, 0); len(now) != 4 || now[0].Record().Offset != 9 {
		t.Fatalf("tail after appends starts at %v", now)
	}
	tail.Reset(20)
	tail.Append([]Record{tr(21, 21)})
	check("after Reset")
}
