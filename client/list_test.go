package client_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yakt/yakt/client"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/testcluster"
)

// Topics follows the server's pages: while other topics are created and
// deleted, every topic that exists throughout is listed exactly once,
// in name order.
func TestTopicsFollowsPagesUnderChurn(t *testing.T) {
	const stable = 600
	c := testcluster.New(t, testcluster.Options{})
	cl, err := client.New(client.Config{Endpoints: c.URLs(), ListPageSize: 37})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	create := func(names []string) {
		var wg sync.WaitGroup
		errs := make(chan error, len(names))
		sem := make(chan struct{}, 8)
		for _, n := range names {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: n}); err != nil {
					errs <- fmt.Errorf("create %s: %w", n, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	var names []string
	for i := range stable {
		names = append(names, fmt.Sprintf("s-%04d", i))
	}
	create(names)

	stop := make(chan struct{})
	churnDone := make(chan error, 1)
	go func() { // creates and deletes topics among the stable ones until stopped
		for i := 0; ; i++ {
			select {
			case <-stop:
				churnDone <- nil
				return
			default:
			}
			name := fmt.Sprintf("s-%04d-x%d", (i*37)%stable, i)
			if _, _, err := cl.CreateTopic(ctx, client.CreateTopicRequest{Name: name}); err != nil {
				churnDone <- err
				return
			}
			if i%2 == 0 {
				if _, _, err := cl.DeleteTopic(ctx, name); err != nil {
					churnDone <- err
					return
				}
			}
		}
	}()
	for round := range 3 {
		got, err := cl.Topics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSortedFunc(got, func(a, b client.TopicSummary) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("round %d: not in name order", round)
		}
		count := map[string]int{}
		for _, tp := range got {
			count[tp.Name]++
		}
		for _, n := range names {
			if count[n] != 1 {
				t.Fatalf("round %d: %s listed %d times", round, n, count[n])
			}
		}
		for n, k := range count {
			if k != 1 {
				t.Fatalf("round %d: %s listed %d times", round, n, k)
			}
		}
	}
	close(stop)
	if err := <-churnDone; err != nil {
		t.Fatal(err)
	}

	// Brokers follows pages too (12 brokers, pages of 5).
	small, err := client.New(client.Config{Endpoints: c.URLs(), ListPageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	for id := range int32(12) {
		if _, _, err := small.RegisterBroker(ctx, client.RegisterBrokerRequest{BrokerID: &id, BrokerHost: "10.0.0.1", BrokerPort: contract.PortOf("9092")}); err != nil {
			t.Fatal(err)
		}
	}
	brokers, err := small.Brokers(ctx, "all")
	if err != nil || len(brokers) != 12 {
		t.Fatalf("Brokers: %d %v, want 12", len(brokers), err)
	}
	for i, b := range brokers {
		if b.BrokerID != int32(i) {
			t.Fatalf("Brokers: %d at %d", b.BrokerID, i)
		}
	}
}
