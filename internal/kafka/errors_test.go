package kafka

import (
	"errors"
	"fmt"
	"testing"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// TestErrorCodes pins the mapping Kafka clients depend on (docs/kafka.md).
func TestErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{nil, 0},
		{contract.Errorf(contract.CodeTopicAlreadyExists, "x"), 36},
		{fmt.Errorf("wrapped: %w", contract.Errorf(contract.CodeTopicNotFound, "x")), 3},
		{contract.Errorf(contract.CodePartitionNotFound, "x"), 3},
		{contract.Errorf(contract.CodeInvalidTopicName, "x"), 17},
		{metadata.ValidateTopicName("a/b"), 17},
		{contract.Errorf(contract.CodeInvalidReplicaAssignment, "x"), 39},
		{contract.Errorf(contract.CodeInvalidConfig, "x"), 40},
		{contract.Errorf(contract.CodeNoLeader, "x"), 41},
		{contract.Errorf(contract.CodeInvalidRequest, "x"), 42},
		{contract.Errorf(contract.CodeTimeout, "x"), 7},
		{contract.Errorf(contract.CodeStaleBrokerEpoch, "x"), 77},
		{contract.Errorf(contract.CodeBrokerNotFound, "x"), 102},
		{contract.Errorf(contract.CodeStalePartitionEpoch, "x"), 95},
		{contract.Errorf(contract.CodeNotPartitionLeader, "x"), 6},
		{contract.Errorf(contract.CodeElectionNotNeeded, "x"), 84},
		{contract.Errorf(contract.CodePreferredLeaderNotAvailable, "x"), 80},
		{contract.Errorf(contract.CodeEligibleLeadersNotAvailable, "x"), 83},
		{contract.Errorf(contract.CodeNoReassignmentInProgress, "x"), 85},
		{contract.Errorf(contract.CodeMigrationInProgress, "x"), 44},
		{errors.New("disk on fire"), -1},
	} {
		code, msg := errorMessage(tc.err)
		if code != tc.want {
			t.Errorf("%v: Kafka error %d, want %d", tc.err, code, tc.want)
		}
		if (msg == nil) != (tc.err == nil) || msg != nil && *msg != tc.err.Error() {
			t.Errorf("%v: message %v", tc.err, msg)
		}
	}
}
