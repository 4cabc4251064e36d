package controller

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/yakt/yakt/internal/metadata"
)

// legacyFullAnswer is the full answer as the API built it before it was
// streamed: the image's View in the answer, through json.Encoder. The
// streamed answer must stay byte-compatible with it.
func legacyFullAnswer(t *testing.T, img *metadata.Image, withProducerIDs bool) []byte {
	t.Helper()
	view := img.View(withProducerIDs)
	var b bytes.Buffer
	err := json.NewEncoder(&b).Encode(struct {
		Mode          string                 `json:"mode"`
		HighWatermark int64                  `json:"highWatermark"`
		Records       []metadata.Record      `json:"records,omitempty"`
		Snapshot      *metadata.SnapshotView `json:"snapshot,omitempty"`
	}{"snapshot", img.Offset(), nil, &view})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// oddImage has what escaping and empty slices can trip on: a rack with
// markup and non-ASCII characters, an empty topic, partitions in
// reassignment and without a leader, producer-id blocks.
func oddImage(t *testing.T) *metadata.Image {
	t.Helper()
	b1 := broker(1, metadata.StatusAlive, 0)
	b1[0].(*metadata.RegisterBrokerRecord).RackID = "<r&1> \u2028 é \"q\" \\ \x7f"
	b2 := broker(2, metadata.StatusFenced, 1)
	b3 := broker(3, metadata.StatusAlive, 0)
	withMove := prt("u-b", 1, 3, ids(1, 2, 3), ids(1, 2), 1)
	withMove.AddingReplicas = ids(3)
	withMove.RemovingReplicas = ids(1)
	return imageOf(t, b1, b2, b3,
		bodies(top("b-topic", "u-b"), prt("u-b", 0, 0, ids(1, 2), ids(1, 2), 1), withMove, prt("u-b", 2, 1, ids(2), ids(2), -1)),
		bodies(top("a.topic_x", "u<a>&"), prt("u<a>&", 0, 0, ids(3), ids(3), 3)),
		bodies(top("empty", "u-e")),
		bodies(&metadata.ProducerIdsRecord{BrokerID: 1, ProducerID: 0}, &metadata.ProducerIdsRecord{BrokerID: 3, ProducerID: 5000}),
		bodies(cfgRec(metadata.ConfigResourceTopic, "b-topic", "retention.ms", "1000"), cfgRec(metadata.ConfigResourceTopic, "b-topic", "cleanup.policy", "<compact>"),
			cfgRec(metadata.ConfigResourceBroker, "", "min.insync.replicas", "2"), cfgRec(metadata.ConfigResourceBroker, "7", "log.retention.hours", "\u2028")),
	)
}

func cfgRec(typ, res, name, value string) *metadata.ConfigRecord {
	return &metadata.ConfigRecord{ResourceType: typ, ResourceName: res, Name: name, Value: &value}
}

func TestWriteFullJSONMatchesTheEncodedView(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  *metadata.Image
	}{{"empty", metadata.Empty}, {"odd", oddImage(t)}} {
		for _, withPIDs := range []bool{true, false} {
			want := legacyFullAnswer(t, tc.img, withPIDs)
			var got bytes.Buffer
			if err := WriteFullJSON(&got, tc.img, withPIDs); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s, producer ids %v:\n got %s\nwant %s", tc.name, withPIDs, got.Bytes(), want)
			}
			m, err := json.Marshal(FetchResponse{Mode: "snapshot", HighWatermark: tc.img.Offset(), img: tc.img, client: !withPIDs})
			if err != nil || !bytes.Equal(append(m, '\n'), want) {
				t.Errorf("%s: MarshalJSON differs from the stream: %v\n%s", tc.name, err, m)
			}
		}
	}
}

// Readers of one image and mode share one encoding, each gets the whole
// answer, and the encoding is dropped with its last reader.
func TestOpenFullSharesOneEncoding(t *testing.T) {
	img := oddImage(t)
	c := &Controller{}
	resp := FetchResponse{Mode: "snapshot", HighWatermark: img.Offset(), img: img, client: true}
	want := legacyFullAnswer(t, img, false)

	r1 := c.OpenFull(resp)
	r2 := c.OpenFull(resp)
	other := c.OpenFull(FetchResponse{Mode: "snapshot", img: img, client: false})
	if st := c.fullStats(); st.Encodings != 2 || st.Readers != 3 {
		t.Fatalf("stats %+v, want 2 encodings (client and broker mode) with 3 readers", st)
	}
	if r1.s != r2.s || r1.s == other.s {
		t.Fatal("same image and mode not shared, or modes mixed")
	}
	ctx := context.Background()
	for _, r := range []*FullReader{r1, r2} {
		zr, err := gzip.NewReader(r.Reader(ctx))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("shared answer: %v\n got %s\nwant %s", err, got, want)
		}
	}
	// A reader joining after the encoding finished still gets all of it.
	r3 := c.OpenFull(resp)
	if r3.s != r1.s {
		t.Fatal("a finished encoding still read was not shared")
	}
	zr, err := gzip.NewReader(r3.Reader(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("late reader: %v", err)
	}
	for _, r := range []*FullReader{r1, r2, r3, other} {
		r.Close()
	}
	if st := c.fullStats(); st.Encodings != 0 || st.Readers != 0 {
		t.Fatalf("after the last reader left: %+v, want nothing kept", st)
	}
	r4 := c.OpenFull(resp)
	defer r4.Close()
	if r4.s == r1.s {
		t.Fatal("a new reader joined an encoding whose readers had all left")
	}
}

// An image cut into many segments of every kind (brokers, topic rows,
// partitions, with empty topics at segment edges) still encodes byte for
// byte as the view did, plain and through the parallel gzip encoder.
func TestFullAnswerAcrossSegments(t *testing.T) {
	var recs []metadata.Record
	for b := range int32(segmentBrokers + 3) {
		recs = append(recs, metadata.Record{Body: &metadata.RegisterBrokerRecord{BrokerID: b, BrokerHost: "h", BrokerPort: "9092",
			SecurityProtocol: metadata.ProtocolPlaintext, BrokerStatus: metadata.StatusAlive}})
	}
	for tp := range segmentTopics + 5 {
		uuid := fmt.Sprintf("u-%05d", tp)
		recs = append(recs, metadata.Record{Body: top(fmt.Sprintf("t-%05d", tp), uuid)})
		n := 0
		switch {
		case tp < 3:
			n = 0 // empty topics first: the first partition is not theirs
		case tp%1000 == 7:
			n = 2*segmentPartitions + 17 // a topic larger than a segment
		case tp%3 == 0:
			n = 1
		}
		for p := range int32(n) {
			recs = append(recs, metadata.Record{Body: prt(uuid, p, 0, ids(p%5, (p+1)%5), ids(p%5), p%5)})
		}
	}
	recs = append(recs, metadata.Record{Body: &metadata.ProducerIdsRecord{BrokerID: 1, ProducerID: 0}})
	img := replayOK(t, metadata.Empty, recs)
	segs := fullSegments(img, true)
	if len(segs) < 10 {
		t.Fatalf("only %d segments: the image does not exercise their edges", len(segs))
	}
	for _, withPIDs := range []bool{true, false} {
		want := legacyFullAnswer(t, img, withPIDs)
		var got bytes.Buffer
		if err := WriteFullJSON(&got, img, withPIDs); err != nil {
			t.Fatal(err)
		}
		got.WriteByte('\n')
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("producer ids %v: streamed answer differs from the view's (%d vs %d bytes)", withPIDs, got.Len(), len(want))
		}
		var gz bytes.Buffer
		if err := writeGzipSegments(context.Background(), &gz, fullSegments(img, withPIDs), []byte("\n")); err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(&gz)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		plain, err := io.ReadAll(zr) // checks the CRC and length too
		if err != nil || !bytes.Equal(plain, want) {
			t.Fatalf("producer ids %v: gzip answer: %v (%d vs %d bytes)", withPIDs, err, len(plain), len(want))
		}
		if rest, _ := io.ReadAll(&gz); len(rest) != 0 {
			t.Fatalf("%d bytes after the gzip member", len(rest))
		}
	}
}
