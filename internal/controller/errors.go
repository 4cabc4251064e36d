package controller

import (
	"errors"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// codeByReason maps replay's reasons to the API's codes: the controller
// is where the log's vocabulary meets the contract's.
var codeByReason = [...]contract.Code{
	metadata.ReasonNone:                       contract.CodeInternal,
	metadata.ReasonInvalid:                    contract.CodeInvalidRequest,
	metadata.ReasonInvalidTopicName:           contract.CodeInvalidTopicName,
	metadata.ReasonInvalidReplicaAssignment:   contract.CodeInvalidReplicaAssignment,
	metadata.ReasonBrokerNotFound:             contract.CodeBrokerNotFound,
	metadata.ReasonTopicNotFound:              contract.CodeTopicNotFound,
	metadata.ReasonBrokerAlreadyRegistered:    contract.CodeBrokerAlreadyRegistered,
	metadata.ReasonTopicAlreadyExists:         contract.CodeTopicAlreadyExists,
	metadata.ReasonPartitionAlreadyExists:     contract.CodePartitionAlreadyExists,
	metadata.ReasonBrokerNotActive:            contract.CodeBrokerNotActive,
	metadata.ReasonStaleBrokerEpoch:           contract.CodeStaleBrokerEpoch,
	metadata.ReasonProducerIDAlreadyAllocated: contract.CodeProducerIDAlreadyAllocated,
	metadata.ReasonStalePartitionEpoch:        contract.CodeStalePartitionEpoch,
	metadata.ReasonIdempotencyKeyReused:       contract.CodeIdempotencyKeyReused,
	metadata.ReasonMigrationPhase:             contract.CodeMigrationPhase,
	metadata.ReasonInvalidConfig:              contract.CodeInvalidConfig,
}

// CodeForReason is the API code a replay error of reason r is answered
// with.
func CodeForReason(r metadata.Reason) contract.Code {
	if int(r) < len(codeByReason) {
		return codeByReason[r]
	}
	return contract.CodeInternal
}

// APIError is the coded error err answers with: the first *contract.Error
// or replay error (*metadata.Error, mapped by CodeForReason) in its chain;
// ok is false for any other error (an internal one). The controller's
// operations return either kind, so every front door maps their errors
// through here.
func APIError(err error) (_ *contract.Error, ok bool) {
	if err == nil {
		return nil, false
	}
	if ce, ok := errors.AsType[*contract.Error](err); ok {
		return ce, true
	}
	if me, ok := errors.AsType[*metadata.Error](err); ok {
		return &contract.Error{Code: CodeForReason(me.Reason), Message: me.Message}, true
	}
	return nil, false
}

// CodeOf is the code err answers with: "" for nil, CodeInternal for an
// error that is neither coded nor a replay error.
func CodeOf(err error) contract.Code {
	if err == nil {
		return ""
	}
	if ce, ok := APIError(err); ok {
		return ce.Code
	}
	return contract.CodeInternal
}
