package kafka

import (
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/controller"
)

// Kafka's error codes this listener answers (Kafka's
// org.apache.kafka.common.protocol.Errors).
const (
	errNone                        int16 = 0
	errUnknownServerError          int16 = -1
	errUnknownTopicOrPartition     int16 = 3
	errNotLeaderOrFollower         int16 = 6
	errRequestTimedOut             int16 = 7
	errBrokerNotAvailable          int16 = 8
	errInvalidTopicException       int16 = 17
	errUnsupportedVersion          int16 = 35
	errTopicAlreadyExists          int16 = 36
	errInvalidPartitions           int16 = 37
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
	errThrottlingQuotaExceeded     int16 = 89
	errInvalidUpdateVersion        int16 = 95
	errUnknownTopicID              int16 = 100
	errDuplicateBrokerRegistration int16 = 101
	errBrokerIDNotRegistered       int16 = 102
	errInconsistentClusterID       int16 = 104
	errIneligibleReplica           int16 = 107
	errUnsupportedEndpointType     int16 = 115
)

// kafkaCodes maps the contract's error codes (what the controller
// returns, the same the HTTP API answers) to Kafka's. A code not listed
// is UNKNOWN_SERVER_ERROR (-1), with the message as error_message where
// the version has one. Helpers that add controller operations add their
// rows here.
var kafkaCodes = map[contract.Code]int16{
	contract.CodeTopicAlreadyExists:          errTopicAlreadyExists,
	contract.CodeTopicNotFound:               errUnknownTopicOrPartition,
	contract.CodePartitionNotFound:           errUnknownTopicOrPartition,
	contract.CodeInvalidTopicName:            errInvalidTopicException,
	contract.CodeInvalidReplicaAssignment:    errInvalidReplicaAssignment,
	contract.CodeInvalidConfig:               errInvalidConfig,
	contract.CodeInvalidRequest:              errInvalidRequest,
	contract.CodeNoLeader:                    errNotController,
	contract.CodeNotReady:                    errNotController,
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
	contract.CodePayloadTooLarge:             errInvalidRequest,
	contract.CodeOverloaded:                  errThrottlingQuotaExceeded,
	contract.CodeBrokerAlreadyRegistered:     errDuplicateBrokerRegistration,
	contract.CodeBrokerNotActive:             errBrokerNotAvailable,
}

// errorCode is the Kafka error code of a controller error (0 for nil) and
// its message.
func errorCode(err error) (int16, string) {
	if err == nil {
		return errNone, ""
	}
	code := controller.CodeOf(err) // the contract's code, or a replay reason's
	if k, ok := kafkaCodes[code]; ok {
		return k, err.Error()
	}
	return errUnknownServerError, err.Error()
}

// errorMessage is errorCode's message as a nullable string: nil for no
// error.
func errorMessage(err error) (int16, *string) {
	code, msg := errorCode(err)
	if code == errNone {
		return code, nil
	}
	return code, &msg
}
