package client

import "github.com/yakt/yakt/contract"

// The client's requests and answers are the contract's types; these
// names are aliases of them (not copies), so code written against the
// client needs no second import.
type (
	Record                 = contract.Record
	Broker                 = contract.Broker
	Topic                  = contract.Topic
	Partition              = contract.Partition
	TopicDetail            = contract.TopicDetail
	TopicSummary           = contract.TopicSummary
	CreateTopicRequest     = contract.CreateTopicRequest
	CreatePartitionRequest = contract.CreatePartitionRequest
	RegisterBrokerRequest  = contract.RegisterBrokerRequest
	PatchBrokerRequest     = contract.PatchBrokerRequest
	// BrokerPatch is PatchBrokerRequest's older name.
	BrokerPatch     = contract.PatchBrokerRequest
	ProducerIDBlock = contract.ProducerIDsResponse
	FetchResult     = contract.FetchResponse
	LogPage         = contract.LogPage
	Voter           = contract.Voter
	Quorum          = contract.Quorum
	Snapshot        = contract.Snapshot
	// Quorum membership.
	QuorumMember          = contract.QuorumMember
	PromoteVoterRequest   = contract.PromoteVoterRequest
	TransferLeaderRequest = contract.TransferLeaderRequest
	NodeIdentity          = contract.NodeIdentity
)
