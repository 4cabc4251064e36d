package controller

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/yakt/yakt/internal/metadata"
)

// WriteFullJSON writes a full fetch answer for img — docs/api.md's
// {"mode":"snapshot","highWatermark":H,"snapshot":{...}} — to w, byte for
// byte what encoding/json makes of the same answer (HTML-safe escaping,
// no newline at the end). It reads the immutable image a few topics at a
// time (fullSegments), so its memory is one segment, whatever the
// image's size.
func WriteFullJSON(w io.Writer, img *metadata.Image, withProducerIDs bool) error {
	var buf []byte
	for _, seg := range fullSegments(img, withProducerIDs) {
		var err error
		if buf, err = seg(buf[:0]); err != nil {
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write full fetch: %w", err)
		}
	}
	return nil
}

// segment appends one piece of a full answer's JSON to buf. The pieces
// of fullSegments, in order, are the whole answer; each can be encoded
// on its own, so several can be encoded (and compressed) at once.
type segment func(buf []byte) ([]byte, error)

// Segment sizes: about segmentPartitions partitions (whole topics, so a
// topic's partitions are copied out of the image once) or segmentTopics
// topic rows or segmentBrokers brokers, which is 0.5–2 MB of JSON.
const (
	segmentPartitions = 5000
	segmentTopics     = 10_000
	segmentBrokers    = 5000
)

// fullSegments cuts img's full answer into segments.
func fullSegments(img *metadata.Image, withProducerIDs bool) []segment {
	off := img.Offset()
	brokers := img.Brokers()
	topics := img.Topics()
	var segs []segment
	for i := 0; i == 0 || i < len(brokers); i += segmentBrokers {
		part := brokers[i:min(i+segmentBrokers, len(brokers))]
		first := i == 0
		segs = append(segs, func(buf []byte) ([]byte, error) {
			e := fullEncoder{buf: buf}
			if first {
				e.raw(`{"mode":"snapshot","highWatermark":`)
				e.buf = strconv.AppendInt(e.buf, off, 10)
				e.raw(`,"snapshot":{"offset":`)
				e.buf = strconv.AppendInt(e.buf, off, 10)
				e.raw(`,"brokers":[`)
			}
			for j, b := range part {
				if !first || j > 0 {
					e.raw(",")
				}
				if err := e.marshal(b); err != nil {
					return nil, err
				}
			}
			return e.buf, nil
		})
	}
	for i := 0; i == 0 || i < len(topics); i += segmentTopics {
		part := topics[i:min(i+segmentTopics, len(topics))]
		first := i == 0
		segs = append(segs, func(buf []byte) ([]byte, error) {
			e := fullEncoder{buf: buf}
			if first {
				e.raw(`],"topics":[`)
			}
			for j, t := range part {
				if !first || j > 0 {
					e.raw(",")
				}
				e.raw(`{"name":`)
				e.str(t.Name)
				e.raw(`,"topicUUID":`)
				e.str(t.TopicUUID)
				e.raw(`,"partitions":`)
				e.buf = strconv.AppendInt(e.buf, int64(img.PartitionCount(t.TopicUUID)), 10)
				e.raw("}")
			}
			return e.buf, nil
		})
	}
	segs = append(segs, func(buf []byte) ([]byte, error) { return append(buf, `],"partitions":[`...), nil })
	// Partitions: runs of whole topics of about segmentPartitions.
	emitted := 0 // partitions in the segments so far, for the commas
	for i := 0; i < len(topics); {
		j, n := i, 0
		for j < len(topics) && (j == i || n < segmentPartitions) {
			n += img.PartitionCount(topics[j].TopicUUID)
			j++
		}
		part, leading := topics[i:j], emitted > 0
		emitted += n
		segs = append(segs, func(buf []byte) ([]byte, error) {
			e := fullEncoder{buf: buf}
			comma := leading
			for _, t := range part {
				img.EachPartition(t.TopicUUID, func(p *metadata.PartitionRecord) {
					if comma {
						e.raw(",")
					}
					comma = true
					e.partition(p)
				})
			}
			return e.buf, nil
		})
		i = j
	}
	segs = append(segs, func(buf []byte) ([]byte, error) {
		e := fullEncoder{buf: buf}
		e.raw("]")
		if withProducerIDs {
			e.raw(`,"producerIds":`)
			if err := e.marshal(img.ProducerIDs()); err != nil {
				return nil, err
			}
		}
		if cfgs := img.ConfigRecords(); len(cfgs) > 0 {
			e.raw(`,"configs":`)
			if err := e.marshal(cfgs); err != nil {
				return nil, err
			}
		}
		e.raw("}}")
		return e.buf, nil
	})
	return segs
}

// fullEncoder appends a segment's JSON to buf.
type fullEncoder struct{ buf []byte }

func (e *fullEncoder) raw(s string) { e.buf = append(e.buf, s...) }

// marshal appends encoding/json's form of v: for the few values (brokers,
// producer ids) whose count is small next to the partitions.
func (e *fullEncoder) marshal(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode full fetch: %w", err)
	}
	e.buf = append(e.buf, b...)
	return nil
}

// str appends s as a JSON string. Strings of plain printable ASCII
// (every topic name, every generated UUID) are copied as they are;
// anything else goes through encoding/json, so escaping is always its.
func (e *fullEncoder) str(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			e.buf = append(e.buf, b...)
			return
		}
	}
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, '"')
}

// partition appends p as PartitionRecord.MarshalJSON does (nil slices as
// []), field for field, without reflection: partitions are nearly all of
// a full answer.
func (e *fullEncoder) partition(p *metadata.PartitionRecord) {
	e.raw(`{"partitionId":`)
	e.buf = strconv.AppendInt(e.buf, int64(p.PartitionID), 10)
	e.raw(`,"topicUUID":`)
	e.str(p.TopicUUID)
	e.raw(`,"replicas":`)
	e.ints(p.Replicas)
	e.raw(`,"ISR":`)
	e.ints(p.ISR)
	e.raw(`,"removingReplicas":`)
	e.ints(p.RemovingReplicas)
	e.raw(`,"addingReplicas":`)
	e.ints(p.AddingReplicas)
	e.raw(`,"leader":`)
	e.buf = strconv.AppendInt(e.buf, int64(p.Leader), 10)
	e.raw(`,"partitionEpoch":`)
	e.buf = strconv.AppendInt(e.buf, p.PartitionEpoch, 10)
	e.raw("}")
}

func (e *fullEncoder) ints(v []int32) {
	e.buf = append(e.buf, '[')
	for i, x := range v {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = strconv.AppendInt(e.buf, int64(x), 10)
	}
	e.buf = append(e.buf, ']')
}
