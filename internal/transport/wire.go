package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// Wire constants. The layout they describe is documented in doc.go; any
// change that an older peer could misread needs a new protocolVersion.
const (
	magic = "YAKT"
	// protocolVersion 2 added the incarnation to the hello and keepalive
	// frames to message streams; 3 a CRC-32C after the data of snapshot
	// records and fetch answers, so either can be streamed; 4 the request
	// stream (request.go), which a version 3 node would close unanswered;
	// 5 the dialer's directory id and peer address to the hello, and ack 5
	// (not admitted) with its reason; 6 the dialer's advertised Kafka
	// address to the hello.
	protocolVersion = 6
	// previousProtocolVersion is what a dialer falls back to when a peer
	// refuses protocolVersion: the previous release speaks it, so a
	// cluster can be upgraded one node at a time and keeps exchanging
	// directory ids meanwhile.
	previousProtocolVersion = 5
	// minProtocolVersion is the oldest hello an acceptor takes.
	minProtocolVersion = 4

	// maxFrameBytes bounds one length-prefixed raftpb.Message. raft's own
	// MaxSizePerMsg keeps appends far below it; a bigger prefix means a
	// broken or hostile peer, and the connection is dropped before any
	// allocation.
	maxFrameBytes = 64 << 20
	// maxSnapshotBytes bounds Snapshot.Data on a snapshot stream read
	// into memory (no SnapshotSink). That receiver allocates the announced
	// size in one piece, so this is also the most a peer that passed the
	// handshake can make us allocate.
	maxSnapshotBytes = 1 << 30
	// maxStreamedSnapshotBytes bounds the data streamed to a SnapshotSink
	// or a FetchSnapshot sink: disk, not memory.
	maxStreamedSnapshotBytes = 1 << 40
	// maxStringBytes bounds the cluster id, HTTP, peer and Kafka address in a hello.
	maxStringBytes = 1024
	// maxAdmitReasonBytes bounds the reason after an ackNotAdmitted.
	maxAdmitReasonBytes = 256
	// snapshotChunkBytes is how much snapshot data one write carries; each
	// chunk gets a fresh write deadline.
	snapshotChunkBytes = 1 << 20
	// retainBufferBytes is the largest frame buffer a reader or writer keeps
	// between frames; bigger frames get a one-off buffer.
	retainBufferBytes = 1 << 20
)

// streamKind says what a connection carries after the handshake.
type streamKind uint8

const (
	streamMessage  streamKind = 1 // long-lived: frames of raftpb.Message
	streamSnapshot streamKind = 2 // on demand: MsgSnap header frame + raw data, acked
	streamFetch    streamKind = 3 // on demand: a request for the peer's snapshot and its answer (fetch.go)
	streamRequest  streamKind = 4 // long-lived, dialed on first use: forwarded requests and their answers (request.go)
)

func (k streamKind) String() string {
	switch k {
	case streamMessage:
		return "message"
	case streamSnapshot:
		return "snapshot"
	case streamFetch:
		return "fetch"
	case streamRequest:
		return "request"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ack is the one byte an acceptor answers a hello with; after a snapshot
// record the receiver answers ackOK once the data arrived intact. Any
// value but ackOK is followed by the acceptor closing the connection.
type ack uint8

const (
	ackOK              ack = 0
	ackClusterMismatch ack = 1 // hello.clusterID is not the acceptor's
	ackBadNodeID       ack = 2 // hello.to is not the acceptor, or hello.from is invalid
	ackBadVersion      ack = 3 // protocol version not spoken by the acceptor
	ackDuplicateNode   ack = 4 // another live process is connected as hello.from
	ackNotAdmitted     ack = 5 // Config.Admit refused the hello; a reason string follows
)

// err maps a refusal to the error the dialer returns.
func (a ack) err() error {
	switch a {
	case ackOK:
		return nil
	case ackClusterMismatch:
		return ErrClusterMismatch
	case ackBadNodeID:
		return errBadNodeID
	case ackBadVersion:
		return errUnsupportedVersion
	case ackDuplicateNode:
		return ErrDuplicateNode
	case ackNotAdmitted:
		return ErrNotAdmitted
	}
	return fmt.Errorf("%w: unknown ack %d", errProtocol, uint8(a))
}

var (
	// errProtocol wraps every malformed-input error: the connection that
	// produced it is closed, nothing it carried is delivered.
	errProtocol = errors.New("transport: protocol error")
	// errUnsupportedVersion: the hello names a protocol version we do not
	// speak (acceptor side), or the acceptor said so (dialer side).
	errUnsupportedVersion = errors.New("transport: unsupported protocol version")
	// errBadNodeID: the node at the dialed address is not the one we meant,
	// or it does not accept our id.
	errBadNodeID = errors.New("transport: node id refused by peer")
)

// hello is the first thing a dialer writes on every connection.
type hello struct {
	// version is the protocol version the hello is encoded in: 0 (meaning
	// protocolVersion) or an older one down to minProtocolVersion, which
	// lack the fields added since (marshal and readHello say which).
	version  uint8
	kind     streamKind
	from, to uint64
	// incarnation identifies the process run of node from (Config.Incarnation):
	// two processes claiming one node id differ here.
	incarnation uint64
	clusterID   string
	httpAddr    string   // from's advertised HTTP address, may be empty
	dirID       [16]byte // from's data directory id; zero: unknown (or a version 4 hello)
	peerAddr    string   // from's advertised peer address, may be empty
	kafkaAddr   string   // from's advertised Kafka address, may be empty (version 6)
}

func (h *hello) wireVersion() uint8 {
	if h.version == 0 {
		return protocolVersion
	}
	return h.version
}

// helloPrefixBytes is magic + version; helloFixedBytes the fixed fields
// after it: kind, from, to, incarnation, cluster id length.
const (
	helloPrefixBytes = len(magic) + 1
	helloFixedBytes  = 1 + 8 + 8 + 8 + 2
)

// marshal encodes h. Callers keep the strings within maxStringBytes
// (Config.Validate checks them).
func (h *hello) marshal() []byte {
	v := h.wireVersion()
	b := make([]byte, 0, helloPrefixBytes+helloFixedBytes+2+len(h.clusterID)+len(h.httpAddr)+16+2+len(h.peerAddr)+2+len(h.kafkaAddr))
	b = append(b, magic...)
	b = append(b, v, byte(h.kind))
	b = binary.BigEndian.AppendUint64(b, h.from)
	b = binary.BigEndian.AppendUint64(b, h.to)
	b = binary.BigEndian.AppendUint64(b, h.incarnation)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.clusterID)))
	b = append(b, h.clusterID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.httpAddr)))
	b = append(b, h.httpAddr...)
	if v < 5 {
		return b
	}
	b = append(b, h.dirID[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.peerAddr)))
	b = append(b, h.peerAddr...)
	if v < 6 {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.kafkaAddr)))
	b = append(b, h.kafkaAddr...)
	return b
}

// readHello decodes a hello of a version from minProtocolVersion to
// protocolVersion. It returns errUnsupportedVersion (after reading only
// magic and version) for any other version, an
// errProtocol-wrapped error for anything malformed, and io errors as is.
func readHello(r io.Reader) (hello, error) {
	var h hello
	var pre [helloPrefixBytes]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return h, err
	}
	if string(pre[:len(magic)]) != magic {
		return h, fmt.Errorf("%w: bad magic %q", errProtocol, pre[:len(magic)])
	}
	v := pre[len(magic)]
	if v < minProtocolVersion || v > protocolVersion {
		return h, fmt.Errorf("%w: got %d, speak %d to %d", errUnsupportedVersion, v, minProtocolVersion, protocolVersion)
	}
	if v != protocolVersion {
		h.version = v
	}
	var fixed [helloFixedBytes]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return h, unexpected(err)
	}
	h.kind = streamKind(fixed[0])
	if h.kind != streamMessage && h.kind != streamSnapshot && h.kind != streamFetch && h.kind != streamRequest {
		return h, fmt.Errorf("%w: unknown stream %s", errProtocol, h.kind)
	}
	h.from = binary.BigEndian.Uint64(fixed[1:])
	h.to = binary.BigEndian.Uint64(fixed[9:])
	h.incarnation = binary.BigEndian.Uint64(fixed[17:])
	var err error
	if h.clusterID, err = readString(r, binary.BigEndian.Uint16(fixed[25:])); err != nil {
		return h, err
	}
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return h, unexpected(err)
	}
	if h.httpAddr, err = readString(r, binary.BigEndian.Uint16(n[:])); err != nil {
		return h, err
	}
	if v < 5 {
		return h, nil
	}
	var tail [16 + 2]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return h, unexpected(err)
	}
	copy(h.dirID[:], tail[:16])
	if h.peerAddr, err = readString(r, binary.BigEndian.Uint16(tail[16:])); err != nil {
		return h, err
	}
	if v < 6 {
		return h, nil
	}
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return h, unexpected(err)
	}
	if h.kafkaAddr, err = readString(r, binary.BigEndian.Uint16(n[:])); err != nil {
		return h, err
	}
	return h, nil
}

// notAdmittedAnswer is what an acceptor writes to refuse a hello that
// Config.Admit refused: the ack, then the reason (2-byte length, text cut
// to maxAdmitReasonBytes) so the dialer can log why.
func notAdmittedAnswer(reason string) []byte {
	if len(reason) > maxAdmitReasonBytes {
		reason = reason[:maxAdmitReasonBytes]
	}
	b := []byte{byte(ackNotAdmitted)}
	b = binary.BigEndian.AppendUint16(b, uint16(len(reason)))
	return append(b, reason...)
}

// readAdmitReason reads the reason after an ackNotAdmitted.
func readAdmitReason(r io.Reader) (string, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", unexpected(err)
	}
	if l := binary.BigEndian.Uint16(n[:]); l > maxAdmitReasonBytes {
		return "", fmt.Errorf("%w: refusal reason of %d bytes exceeds %d", errProtocol, l, maxAdmitReasonBytes)
	}
	return readString(r, binary.BigEndian.Uint16(n[:]))
}

func readString(r io.Reader, n uint16) (string, error) {
	if n > maxStringBytes {
		return "", fmt.Errorf("%w: string of %d bytes exceeds %d", errProtocol, n, maxStringBytes)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", unexpected(err)
	}
	return string(b), nil
}

// unexpected turns a clean EOF inside a structure into ErrUnexpectedEOF,
// so only an EOF between frames reads as a clean close.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// frameWriter writes length-prefixed messages, reusing one marshal buffer.
// Not safe for concurrent use.
type frameWriter struct {
	w   io.Writer
	buf []byte // scratch, at most retainBufferBytes kept
}

// errFrameTooLarge is returned, before anything is written, for a message
// that would not fit in a frame; the stream is still usable.
var errFrameTooLarge = errors.New("transport: message exceeds max frame size")

// keepaliveFrame is a frame of length zero: a sender writes it on an idle
// message stream so the acceptor can tell a live connection from one whose
// process is gone (see Transport.claim). It carries no message.
var keepaliveFrame = []byte{0, 0, 0, 0}

// write appends one frame: uint32 big-endian length, then m.Marshal().
func (fw *frameWriter) write(m *raftpb.Message) error {
	n := m.Size()
	if n > maxFrameBytes {
		return fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
	}
	need := 4 + n
	b := fw.buf
	if cap(b) < need {
		b = make([]byte, need)
		if need <= retainBufferBytes {
			fw.buf = b
		}
	}
	b = b[:need]
	binary.BigEndian.PutUint32(b, uint32(n))
	if _, err := m.MarshalToSizedBuffer(b[4:]); err != nil {
		return fmt.Errorf("marshal %s: %w", m.Type, err)
	}
	_, err := fw.w.Write(b)
	return err
}

// frameReader reads length-prefixed messages, reusing one read buffer
// (raftpb's Unmarshal copies every byte slice out of it). Not safe for
// concurrent use.
type frameReader struct {
	r        io.Reader
	maxFrame uint32
	buf      []byte // at most retainBufferBytes kept
}

// read returns the next message. io.EOF means the stream ended cleanly
// between frames; errProtocol-wrapped errors mean bad bytes.
func (fr *frameReader) read() (raftpb.Message, error) {
	m, keepalive, err := fr.next()
	if err == nil && keepalive {
		err = fmt.Errorf("%w: keepalive frame where a message belongs", errProtocol)
	}
	return m, err
}

// next is read for message streams, where a zero-length frame is a
// keepalive: it reports keepalive=true and no message for one.
func (fr *frameReader) next() (m raftpb.Message, keepalive bool, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return m, false, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return m, true, nil
	}
	if n > fr.maxFrame {
		return m, false, fmt.Errorf("%w: frame of %d bytes exceeds %d", errProtocol, n, fr.maxFrame)
	}
	b := fr.buf
	if uint32(cap(b)) < n {
		b = make([]byte, n)
		if n <= retainBufferBytes {
			fr.buf = b
		}
	}
	b = b[:n]
	if _, err := io.ReadFull(fr.r, b); err != nil {
		return m, false, unexpected(err)
	}
	if err := m.Unmarshal(b); err != nil {
		return raftpb.Message{}, false, fmt.Errorf("%w: decode message: %v", errProtocol, err)
	}
	return m, false, nil
}

// readSnapshotHeader reads the start of one snapshot record: a MsgSnap
// frame whose Snapshot.Data is empty and a uint64 big-endian data length.
// The data and its CRC-32C follow (dataReader).
func (fr *frameReader) readSnapshotHeader(maxData uint64) (raftpb.Message, uint64, error) {
	m, err := fr.read()
	if err != nil {
		return m, 0, err
	}
	if m.Type != raftpb.MsgSnap || m.Snapshot == nil {
		return raftpb.Message{}, 0, fmt.Errorf("%w: %s without snapshot on a snapshot stream", errProtocol, m.Type)
	}
	if len(m.Snapshot.Data) != 0 {
		return raftpb.Message{}, 0, fmt.Errorf("%w: snapshot header carries inline data", errProtocol)
	}
	var hdr [8]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return raftpb.Message{}, 0, unexpected(err)
	}
	n := binary.BigEndian.Uint64(hdr[:])
	if n > maxData {
		return raftpb.Message{}, 0, fmt.Errorf("%w: snapshot of %d bytes exceeds %d", errProtocol, n, maxData)
	}
	return m, n, nil
}

// readSnapshot reads one whole snapshot record into memory: the data
// straight into one buffer of the announced size.
func (fr *frameReader) readSnapshot(maxData uint64) (raftpb.Message, error) {
	m, n, err := fr.readSnapshotHeader(maxData)
	if err != nil {
		return m, err
	}
	dr := &dataReader{r: fr.r, remain: n}
	data := make([]byte, n)
	if _, err := io.ReadFull(dr, data); err != nil {
		return raftpb.Message{}, unexpected(err)
	}
	if err := dr.verify(); err != nil {
		return raftpb.Message{}, err
	}
	m.Snapshot.Data = data
	return m, nil
}

// dataReader yields the remain data bytes of a snapshot record or fetch
// answer, then reads the CRC-32C after them: io.EOF only when it matches,
// an errProtocol-wrapped error otherwise, so a consumer that stops at
// io.EOF has verified data. A stream that ends early is
// io.ErrUnexpectedEOF.
type dataReader struct {
	r      io.Reader
	remain uint64
	crc    uint32
	err    error // sticky: the outcome once the data ended or failed
}

func (d *dataReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.remain == 0 {
		d.err = d.checkSum()
		return 0, d.err
	}
	if uint64(len(p)) > d.remain {
		p = p[:d.remain]
	}
	n, err := d.r.Read(p)
	d.crc = crc32.Update(d.crc, castagnoli, p[:n])
	d.remain -= uint64(n)
	if err != nil {
		d.err = unexpected(err)
		return n, d.err
	}
	return n, nil
}

func (d *dataReader) checkSum() error {
	var b [4]byte
	if _, err := io.ReadFull(d.r, b[:]); err != nil {
		return unexpected(err)
	}
	if want := binary.BigEndian.Uint32(b[:]); want != d.crc {
		return fmt.Errorf("%w: snapshot data checksum %08x, peer sent %08x", errProtocol, d.crc, want)
	}
	return io.EOF
}

// verify reads whatever the consumer left (nothing, for one that read to
// io.EOF) and reports whether the data arrived intact.
func (d *dataReader) verify() error {
	if _, err := io.Copy(io.Discard, d); err != nil {
		return err
	}
	return nil
}

// writeSnapshotData writes n bytes of data from r to w, then their
// CRC-32C. r must then be at io.EOF: a source that returns an error
// instead (its own checksum failed) or has more bytes fails the send
// before the checksum is written, so the receiver sees a broken stream.
func writeSnapshotData(w io.Writer, r io.Reader, n int64) error {
	h := crc32.New(castagnoli)
	// At least one byte to copy with: io.CopyBuffer refuses an empty buffer,
	// and an empty snapshot is legal.
	buf := make([]byte, max(1, min(n, snapshotChunkBytes))+1)
	if _, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(r, n), buf[:len(buf)-1]); err != nil {
		return fmt.Errorf("write snapshot data: %w", err)
	}
	if k, err := io.ReadFull(r, buf[:1]); err != io.EOF {
		if err == nil || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("source has more than %d bytes (read %d more)", n, k)
		}
		return fmt.Errorf("read snapshot data: %w", err)
	}
	_, err := w.Write(binary.BigEndian.AppendUint32(nil, h.Sum32()))
	return err
}

// chunkWriter writes to conn in pieces of at most snapshotChunkBytes, each
// with a fresh write deadline: a deadline on progress, not on the whole
// snapshot.
type chunkWriter struct{ conn net.Conn }

func (c chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), snapshotChunkBytes)
		if err := c.conn.SetWriteDeadline(time.Now().Add(snapshotIOTimeout)); err != nil {
			return written, err
		}
		n, err := c.conn.Write(p[:k])
		written += n
		if err != nil {
			return written, err
		}
		p = p[k:]
	}
	return written, nil
}
