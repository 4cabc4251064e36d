package controller

import (
	"slices"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// List paging (docs/api.md): a page holds up to Limit items after the
// cursor, in the list's order (topics by name, brokers by id), and names
// the cursor of the next page when more items follow. The cursor is the
// last item's key, not a position, so items created or deleted between
// pages never make a page skip or repeat another item. The limits are
// the contract's (contract.DefaultListLimit, contract.MaxListLimit).

// TopicPage selects a page of GET /v1/topics.
type TopicPage struct {
	// Limit is the page size; 0 lists every topic in one answer (the
	// unpaged form, without a next cursor).
	Limit int
	// After is the previous page's next cursor (a topic name); "" starts
	// at the first topic.
	After string
}

// BrokerPage selects a page of GET /v1/brokers.
type BrokerPage struct {
	Limit int    // as TopicPage.Limit
	After *int32 // the previous page's next cursor (a broker id); nil starts at the first
}

// topicPage lists the topics of img in page.
func topicPage(img *metadata.Image, page TopicPage) contract.TopicList {
	topics, more := img.TopicsAfter(page.After, page.Limit)
	out := contract.TopicList{Topics: make([]metadata.TopicView, 0, len(topics))}
	for _, t := range topics {
		out.Topics = append(out.Topics, metadata.TopicView{Name: t.Name, TopicUUID: t.TopicUUID, Partitions: img.PartitionCount(t.TopicUUID)})
	}
	if more && len(topics) > 0 {
		next := topics[len(topics)-1].Name
		out.Next = &next
	}
	return out
}

// brokerPage lists the brokers of img with status (BrokersAll: every
// one) in page.
func brokerPage(img metadata.Reader, status string, page BrokerPage) contract.BrokerList {
	all := img.Brokers() // by id
	start := 0
	if page.After != nil {
		start, _ = slices.BinarySearchFunc(all, *page.After+1, func(b metadata.RegisterBrokerRecord, id int32) int {
			return int(b.BrokerID) - int(id)
		})
		if *page.After == maxBrokerID {
			start = len(all)
		}
	}
	out := contract.BrokerList{Brokers: []metadata.RegisterBrokerRecord{}}
	i := start
	for ; i < len(all) && (page.Limit == 0 || len(out.Brokers) < page.Limit); i++ {
		if status == BrokersAll || all[i].BrokerStatus == status {
			out.Brokers = append(out.Brokers, all[i])
		}
	}
	if n := len(out.Brokers); n > 0 && slices.ContainsFunc(all[i:], func(b metadata.RegisterBrokerRecord) bool {
		return status == BrokersAll || b.BrokerStatus == status
	}) {
		next := out.Brokers[n-1].BrokerID
		out.Next = &next
	}
	return out
}

const maxBrokerID = int32(^uint32(0) >> 1)
