package transport

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// FuzzReadStream decodes arbitrary bytes as what an acceptor reads: a
// hello, then frames or snapshot records. It must never panic, and a hello
// it accepts must re-encode to exactly the bytes it consumed.
func FuzzReadStream(f *testing.F) {
	msgHello := (&hello{kind: streamMessage, from: 1, to: 2, clusterID: "c", httpAddr: "h:1"}).marshal()
	snapHello := (&hello{kind: streamSnapshot, from: 1, to: 2, clusterID: "c"}).marshal()
	v5Hello := (&hello{kind: streamRequest, from: 1, to: 2, incarnation: 9, clusterID: "c", httpAddr: "h:1",
		dirID: [16]byte{1, 2, 3, 15: 0xff}, peerAddr: "p:2", kafkaAddr: "k:3"}).marshal()
	v4Hello := (&hello{version: minProtocolVersion, kind: streamMessage, from: 1, to: 2, clusterID: "c", httpAddr: "h:1"}).marshal()
	var frames bytes.Buffer
	fw := frameWriter{w: &frames}
	for _, m := range []raftpb.Message{app(1, 2, 1), {Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 4}} {
		if err := fw.write(&m); err != nil {
			f.Fatal(err)
		}
	}
	var snap bytes.Buffer
	fw = frameWriter{w: &snap}
	hdr := raftpb.Message{Type: raftpb.MsgSnap, From: 1, To: 2,
		Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 9, Term: 2}}}
	if err := fw.write(&hdr); err != nil {
		f.Fatal(err)
	}
	snap.Write(binary.BigEndian.AppendUint64(nil, 4))
	snap.WriteString("data")
	snap.Write(binary.BigEndian.AppendUint32(nil, crc32.Checksum([]byte("data"), castagnoli)))

	f.Add(append(msgHello, frames.Bytes()...))
	f.Add(append(snapHello, snap.Bytes()...))
	f.Add(append(msgHello, 0xff, 0xff, 0xff, 0xff))
	f.Add(v5Hello)
	f.Add(v5Hello[:len(v5Hello)-3])
	f.Add(append(v4Hello, frames.Bytes()...))
	f.Add(notAdmittedAnswer("node 1 is not a member"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		// The dialer's side of a refusal: the reason after ack 5.
		if len(data) > 0 && ack(data[0]) == ackNotAdmitted {
			if reason, err := readAdmitReason(bytes.NewReader(data[1:])); err == nil && len(reason) > maxAdmitReasonBytes {
				t.Fatalf("reason of %d bytes accepted", len(reason))
			}
		}
		r := bytes.NewReader(data)
		h, err := readHello(r)
		if err != nil {
			return
		}
		if v := h.wireVersion(); v < minProtocolVersion || v > protocolVersion {
			t.Fatalf("accepted a hello of version %d", v)
		}
		if consumed := data[:len(data)-r.Len()]; !bytes.Equal(h.marshal(), consumed) {
			t.Fatalf("hello %+v re-encodes to %x, read from %x", h, h.marshal(), consumed)
		}
		// Small limits keep each run cheap; the production limits differ
		// only in size.
		fr := frameReader{r: r, maxFrame: 1 << 16}
		for range 64 {
			if h.kind == streamSnapshot {
				_, err = fr.readSnapshot(1 << 16)
			} else {
				_, err = fr.read()
			}
			if err != nil {
				return
			}
		}
	})
}
