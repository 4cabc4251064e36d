package controller

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/yakt/yakt/internal/metadata"
)

// Paging over 30,000 topics returns each exactly once, in name order,
// while other topics are created and deleted between the pages (each
// page is read from the image of its moment, as each request is).
func TestTopicPagesReturnEachStableTopicOnce(t *testing.T) {
	const stable = 30_000
	recs := make([]metadata.Record, 0, stable)
	for i := range stable {
		recs = append(recs, metadata.Record{Body: top(fmt.Sprintf("stable-%05d", i), fmt.Sprintf("us-%05d", i))})
	}
	img := replayOK(t, metadata.Empty, recs)
	rng := rand.New(rand.NewPCG(1, 2))
	churn := map[string]bool{} // churn topics now present
	seq := 0
	change := func() {
		var batch []metadata.Record
		for range 50 {
			// Names spread over the whole range, before, among and after
			// the stable ones, so creates land on both sides of the cursor.
			name := fmt.Sprintf("stable-%05d-c%d", rng.IntN(stable+100)-50, seq)
			if rng.IntN(3) == 0 {
				name = fmt.Sprintf("a-%d", seq)
			}
			seq++
			batch = append(batch, metadata.Record{Body: top(name, "uc-"+name)})
			churn[name] = true
		}
		for name := range churn {
			if rng.IntN(4) == 0 {
				batch = append(batch, metadata.Record{Body: &metadata.RemoveTopicRecord{TopicUUID: "uc-" + name, Name: name}})
				delete(churn, name)
			}
		}
		img = replayOK(t, img, batch)
	}

	seen := map[string]int{}
	page := TopicPage{Limit: 997}
	last, pages := "", 0
	for {
		got := topicPage(img, page)
		pages++
		for _, tv := range got.Topics {
			if tv.Name <= last {
				t.Fatalf("page %d: %q after %q: out of order or repeated", pages, tv.Name, last)
			}
			last = tv.Name
			seen[tv.Name]++
		}
		if len(got.Topics) > page.Limit {
			t.Fatalf("page %d holds %d topics, over the limit %d", pages, len(got.Topics), page.Limit)
		}
		if got.Next == nil {
			break
		}
		if *got.Next != got.Topics[len(got.Topics)-1].Name {
			t.Fatalf("next %q is not the page's last name", *got.Next)
		}
		page.After = *got.Next
		change()
	}
	for i := range stable {
		if n := seen[fmt.Sprintf("stable-%05d", i)]; n != 1 {
			t.Fatalf("stable-%05d listed %d times", i, n)
		}
	}
	if pages < stable/997 {
		t.Fatalf("%d pages for %d topics at 997 a page", pages, stable)
	}
	// The unpaged form is the whole list, without a cursor.
	if all := topicPage(img, TopicPage{}); all.Next != nil || len(all.Topics) != stable+len(churn) {
		t.Fatalf("unpaged list: %d topics, next %v; want %d and none", len(all.Topics), all.Next, stable+len(churn))
	}
}

func TestBrokerPagesFilterByStatus(t *testing.T) {
	var groups [][]metadata.Body
	for id := int32(0); id < 25; id++ {
		st := metadata.StatusAlive
		if id%5 == 4 {
			st = metadata.StatusFenced
		}
		groups = append(groups, broker(id, st, 0))
	}
	img := imageOf(t, groups...)
	for _, tc := range []struct {
		status string
		want   int
	}{{metadata.StatusAlive, 20}, {metadata.StatusFenced, 5}, {BrokersAll, 25}, {metadata.StatusClosed, 0}} {
		var got []int32
		page := BrokerPage{Limit: 3}
		for {
			p := brokerPage(img, tc.status, page)
			for _, b := range p.Brokers {
				if (tc.status != BrokersAll && b.BrokerStatus != tc.status) || (len(got) > 0 && b.BrokerID <= got[len(got)-1]) {
					t.Fatalf("%s: broker %d (%s) after %v", tc.status, b.BrokerID, b.BrokerStatus, got)
				}
				got = append(got, b.BrokerID)
			}
			if p.Next == nil {
				break
			}
			if len(p.Brokers) == 0 || *p.Next != p.Brokers[len(p.Brokers)-1].BrokerID {
				t.Fatalf("%s: next %d with page %v", tc.status, *p.Next, p.Brokers)
			}
			page.After = p.Next
		}
		if len(got) != tc.want {
			t.Fatalf("%s: listed %v, want %d brokers", tc.status, got, tc.want)
		}
	}
	// The last possible id as a cursor is an empty last page.
	end := maxBrokerID
	if p := brokerPage(img, BrokersAll, BrokerPage{Limit: 3, After: &end}); len(p.Brokers) != 0 || p.Next != nil {
		t.Fatalf("after the largest id: %+v", p)
	}
}
