package zktest

import (
	"fmt"
	"sync"

	"github.com/google/uuid"
)

// Dataset describes a cluster Populate writes: brokers 1..Brokers, and
// Topics topics named topic-0000, topic-0001, ... with Partitions
// partitions of ReplicationFactor replicas each, spread round-robin.
type Dataset struct {
	Brokers           int
	Topics            int
	Partitions        int
	ReplicationFactor int
}

// TopicSpec is one topic Populate created.
type TopicSpec struct {
	Name       string
	ID         string // canonical UUID text
	Assignment map[int32][]int32
}

// TopicName is the name Populate gives topic i.
func TopicName(i int) string { return fmt.Sprintf("topic-%04d", i) }

// TopicIDFor is the id Populate gives a topic: derived from its name, so
// a test can recompute it.
func TopicIDFor(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte("yakt-zktest/"+name)).String()
}

// Assignment is the replica assignment Populate gives topic i.
func (d Dataset) Assignment(i int) map[int32][]int32 {
	a := make(map[int32][]int32, d.Partitions)
	for p := range d.Partitions {
		replicas := make([]int32, d.ReplicationFactor)
		for r := range replicas {
			replicas[r] = int32((i*d.Partitions+p+r)%d.Brokers) + 1
		}
		a[int32(p)] = replicas
	}
	return a
}

// populateWorkers is how many writes Populate keeps in flight: ZooKeeper
// answers one session's requests in order, so enough of them in flight
// hide the round trips and let the server batch its log writes.
const populateWorkers = 64

// Populate registers the dataset's brokers (host broker-<id>.kafka.test,
// port 9092, rack rack-<id mod 3>) and creates its topics, each as
// CreateTopic does, many at once. Bootstrap must have run.
func (k *Kafka) Populate(d Dataset) ([]TopicSpec, error) {
	if d.Brokers < d.ReplicationFactor || d.ReplicationFactor < 1 || d.Partitions < 1 {
		return nil, fmt.Errorf("populate: bad dataset %+v", d)
	}
	err := runAll(d.Brokers, populateWorkers, func(i int) error {
		id := int32(i + 1)
		_, err := k.RegisterBroker(id, fmt.Sprintf("broker-%d.kafka.test", id), 9092, fmt.Sprintf("rack-%d", id%3))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	specs := make([]TopicSpec, d.Topics)
	for i := range specs {
		name := TopicName(i)
		specs[i] = TopicSpec{Name: name, ID: TopicIDFor(name), Assignment: d.Assignment(i)}
	}
	err = runAll(d.Topics, populateWorkers, func(i int) error {
		return k.CreateTopic(specs[i].Name, specs[i].ID, specs[i].Assignment)
	})
	if err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	return specs, nil
}

// runAll runs f(0..n-1) on the given number of goroutines and returns
// the first error (after it, the rest are skipped); every goroutine has
// ended when it returns.
func runAll(n, workers int, f func(i int) error) error {
	next := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for i := range next {
				if first == nil {
					first = f(i)
				}
			}
			errc <- first
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			return err
		}
	}
	return nil
}
