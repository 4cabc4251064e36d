package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/yakt/yakt/internal/testcluster"
)

// The list endpoints' paging over HTTP, through a follower: pages with a
// next cursor, the unpaged answer as before, and the refusals of bad
// paging parameters.
func TestListPagesOverHTTP(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{})
	lead := c.MustLeader()
	f := followerOf(c, lead)
	for _, n := range []string{"e", "a", "d", "c", "b"} {
		c.Must(t, lead, http.MethodPost, "/v1/topics", map[string]any{"name": n}, http.StatusCreated, "")
	}
	for id := range 5 {
		c.Must(t, lead, http.MethodPost, "/v1/brokers", map[string]any{"brokerId": id * 10, "brokerHost": "10.0.0.1", "brokerPort": 9092}, http.StatusCreated, "")
	}
	type topicPage struct {
		Topics []struct {
			Name string `json:"name"`
		} `json:"topics"`
		Next *string `json:"next"`
	}
	var names []string
	path := "/v1/topics?limit=2"
	for pages := 0; ; pages++ {
		var p topicPage
		if err := c.Must(t, f, http.MethodGet, path, nil, http.StatusOK, "").JSON(&p); err != nil {
			t.Fatal(err)
		}
		for _, tp := range p.Topics {
			names = append(names, tp.Name)
		}
		if p.Next == nil {
			break
		}
		if pages > 5 {
			t.Fatalf("no end of pages: %v", names)
		}
		path = "/v1/topics?limit=2&after=" + url.QueryEscape(*p.Next)
	}
	if strings.Join(names, ",") != "a,b,c,d,e" {
		t.Fatalf("topics over pages of 2: %v", names)
	}
	// Unpaged: everything, no cursor, as before paging.
	body := string(c.Must(t, f, http.MethodGet, "/v1/topics", nil, http.StatusOK, "").Body)
	if strings.Contains(body, `"next"`) || strings.Count(body, `"name"`) != 5 {
		t.Fatalf("unpaged list: %s", body)
	}

	var bp struct {
		Brokers []struct {
			BrokerID int32 `json:"brokerId"`
		} `json:"brokers"`
		Next *int32 `json:"next"`
	}
	if err := c.Must(t, f, http.MethodGet, "/v1/brokers?status=all&limit=2&after=10", nil, http.StatusOK, "").JSON(&bp); err != nil {
		t.Fatal(err)
	}
	if len(bp.Brokers) != 2 || bp.Brokers[0].BrokerID != 20 || bp.Brokers[1].BrokerID != 30 || bp.Next == nil || *bp.Next != 30 {
		t.Fatalf("brokers after 10, 2 a page: %+v next %v", bp.Brokers, bp.Next)
	}
	bp.Brokers, bp.Next = nil, nil
	if err := c.Must(t, f, http.MethodGet, "/v1/brokers?after=30", nil, http.StatusOK, "").JSON(&bp); err != nil {
		t.Fatal(err)
	}
	if len(bp.Brokers) != 1 || bp.Brokers[0].BrokerID != 40 || bp.Next != nil {
		t.Fatalf("last page of brokers: %+v next %v", bp.Brokers, bp.Next)
	}

	for _, bad := range []string{
		"/v1/topics?limit=0", "/v1/topics?limit=10001", "/v1/topics?limit=x", "/v1/topics?after=",
		"/v1/brokers?after=x", "/v1/brokers?after=-1", "/v1/brokers?limit=2&limit=3", "/v1/topics?cursor=a",
	} {
		c.Must(t, f, http.MethodGet, bad, nil, http.StatusBadRequest, "INVALID_REQUEST")
	}
}
