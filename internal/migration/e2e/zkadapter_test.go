package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/yakt/yakt/contract"

	"github.com/yakt/yakt/client"

	"github.com/yakt/yakt/internal/zktest"
)

// Placeholders until zktest's Kafka writer and reader land.

func newKafkaZK(t testing.TB, srv *zktest.Server, chroot string) *kafkaZK {
	return &kafkaZK{t: t, srv: srv, chroot: chroot}
}

func (k *kafkaZK) populate(ctx context.Context, t testing.TB, l layout) {
	t.Fatal("zktest writer missing")
}
func (k *kafkaZK) createTopic(ctx context.Context, name, id string, assign [][]int32) error {
	return nil
}
func (k *kafkaZK) deleteTopic(ctx context.Context, name string) error                { return nil }
func (k *kafkaZK) addPartitions(ctx context.Context, name string, a [][]int32) error { return nil }
func (k *kafkaZK) setPartitionState(ctx context.Context, name string, p, leader int32, isr []int32) (int64, error) {
	return 0, nil
}
func (k *kafkaZK) setRaw(ctx context.Context, t testing.TB, path string, data []byte) {}
func (k *kafkaZK) read(ctx context.Context) (state, error)                            { return state{}, nil }
func (k *kafkaZK) topic(ctx context.Context, name string) (zkTopic, bool, error) {
	return zkTopic{}, false, nil
}
func (k *kafkaZK) controllerEpoch(t testing.TB) int32 { return 0 }

// stopZooKeeper stops the ZooKeeper server under a following migration,
// waits until the driver reports it lost its connection, and starts the
// server again.
func stopZooKeeper(ctx context.Context, t testing.TB, srv *zktest.Server, cl *client.Client) {
	t.Helper()
	srv.Stop()
	waitDriver(ctx, t, cl, "driver disconnected from the stopped ZooKeeper", 30*time.Second, func(st contract.MigrationStatus) bool {
		return st.Driver != nil && !st.Driver.ZkConnected
	})
	srv.Restart(t)
}
