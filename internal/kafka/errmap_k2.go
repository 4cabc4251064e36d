package kafka

import (
	"errors"

	"github.com/yakt/yakt/contract"
)

// Kafka error codes the handlers of this file set answer with directly.
const (
	errNone                        int16 = 0
	errUnknownServer               int16 = -1
	errUnknownTopicOrPartition     int16 = 3
	errNotLeaderOrFollower         int16 = 6
	errRequestTimedOut             int16 = 7
	errBrokerNotAvailable          int16 = 8
	errTopicAlreadyExists          int16 = 36
	errInvalidReplicationFactor    int16 = 38
	errInvalidReplicaAssignment    int16 = 39
	errInvalidConfig               int16 = 40
	errNotController               int16 = 41
	errInvalidRequest              int16 = 42
	errPolicyViolation             int16 = 44
	errStaleBrokerEpoch            int16 = 77
	errPreferredLeaderNotAvailable int16 = 80
	errEligibleLeadersNotAvailable int16 = 83
	errElectionNotNeeded           int16 = 84
	errNoReassignmentInProgress    int16 = 85
	errInvalidUpdateVersion        int16 = 95
	errUnknownTopicID              int16 = 100
	errDuplicateBrokerRegistration int16 = 101
	errBrokerIDNotRegistered       int16 = 102
	errInconsistentClusterID       int16 = 104
	errIneligibleReplica           int16 = 107
)

// k2Codes is the contract code -> Kafka error code table until the
// listener core's own table is merged.
var k2Codes = map[contract.Code]int16{
	contract.CodeTopicAlreadyExists:          errTopicAlreadyExists,
	contract.CodeTopicNotFound:               errUnknownTopicOrPartition,
	contract.CodePartitionNotFound:           errUnknownTopicOrPartition,
	contract.CodeInvalidReplicaAssignment:    errInvalidReplicaAssignment,
	contract.CodeInvalidConfig:               errInvalidConfig,
	contract.CodeInvalidRequest:              errInvalidRequest,
	contract.CodeNoLeader:                    errNotController,
	contract.CodeTimeout:                     errRequestTimedOut,
	contract.CodeStaleBrokerEpoch:            errStaleBrokerEpoch,
	contract.CodeBrokerNotFound:              errBrokerIDNotRegistered,
	contract.CodeStalePartitionEpoch:         errInvalidUpdateVersion,
	contract.CodeNotPartitionLeader:          errNotLeaderOrFollower,
	contract.CodeElectionNotNeeded:           errElectionNotNeeded,
	contract.CodePreferredLeaderNotAvailable: errPreferredLeaderNotAvailable,
	contract.CodeEligibleLeadersNotAvailable: errEligibleLeadersNotAvailable,
	contract.CodeNoReassignmentInProgress:    errNoReassignmentInProgress,
	contract.CodeMigrationInProgress:         errPolicyViolation,
	contract.CodeBrokerAlreadyRegistered:     errDuplicateBrokerRegistration,
	contract.CodeBrokerNotActive:             errBrokerNotAvailable,
}

// errorCodeOf is the Kafka error code and message for a controller error.
func errorCodeOf(err error) (int16, *string) {
	if err == nil {
		return errNone, nil
	}
	msg := err.Error()
	if e, ok := errors.AsType[*contract.Error](err); ok {
		if k, ok := k2Codes[e.Code]; ok {
			return k, &msg
		}
	}
	return errUnknownServer, &msg
}

// detailCode is errorCodeOf for an error carried in a result.
func detailCode(d *contract.ErrorDetail) (int16, *string) {
	if d == nil {
		return errNone, nil
	}
	return errorCodeOf(&contract.Error{Code: d.Code, Message: d.Message})
}
