package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// A fetch stream lets a node that cannot start — its snapshot file is
// damaged and its WAL was compacted past it — ask a peer for a snapshot
// before it has a raft node, knowing only the peers' raft addresses. It is
// one request and one answer on a connection of its own (layout in
// doc.go); raft's own MsgSnap path cannot serve it, because the leader
// sends MsgSnap only to a follower it hears from, and this node cannot
// run raft until it has a snapshot.

// fetchAnswerTimeout bounds how long the asker waits for the first byte
// of the answer: the peer may take a snapshot on demand first.
// fetchSourceTimeout, shorter, bounds that on the peer's side.
const (
	fetchAnswerTimeout = 30 * time.Second
	fetchSourceTimeout = 20 * time.Second
)

// Answer codes on a fetch stream.
const (
	fetchOK          = 0 // metadata, data length, crc32c and data follow
	fetchUnavailable = 1 // have index u64, leader u64 follow
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotUnavailableError is FetchSnapshot's answer when the peer has no
// snapshot at the requested index yet (or serves none): Have is the newest
// index it could offer, Leader the leader it knows of (0 if none). Try the
// leader, or again later.
type SnapshotUnavailableError struct {
	Peer, MinIndex, Have, Leader uint64
}

func (e *SnapshotUnavailableError) Error() string {
	return fmt.Sprintf("transport: peer %d has no snapshot at index >= %d (newest it offers: %d, leader it knows: %d)",
		e.Peer, e.MinIndex, e.Have, e.Leader)
}

// FetchConfig says who asks whom in FetchSnapshot.
type FetchConfig struct {
	NodeID      uint64 // the asking node
	ClusterID   string
	Peer        uint64 // the node asked
	Addr        string // its peer address
	DialTimeout time.Duration
	// DirectoryID and PeerAddr are the asking node's, sent in the hello as
	// a Transport sends Config's (the peer's Admit sees them).
	DirectoryID [16]byte
	PeerAddr    string
	// TLS (optional) runs the exchange over mutual TLS, accepting only
	// the certificate of node Peer (Config.TLS).
	TLS PeerTLS
}

// FetchSnapshot asks peer cfg.Peer for a snapshot at index >= minIndex
// and streams its data into sink, which must read r to io.EOF: r returns
// io.EOF only once all the data arrived with a matching CRC-32C, an error
// otherwise (sink must then discard what it stored and fail). It returns
// the snapshot's metadata once sink succeeded. It needs no Transport: a
// node calls it before it can run one. ctx bounds the whole exchange.
// Errors: *SnapshotUnavailableError, a refused handshake
// (ErrClusterMismatch among them), an errProtocol-wrapped error for a
// malformed or corrupted answer, sink's error, or an I/O error.
func FetchSnapshot(ctx context.Context, cfg FetchConfig, minIndex uint64, sink func(md raftpb.SnapshotMetadata, r io.Reader) error) (raftpb.SnapshotMetadata, error) {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	if len(cfg.ClusterID) > maxStringBytes || len(cfg.PeerAddr) > maxStringBytes {
		return raftpb.SnapshotMetadata{}, fmt.Errorf("transport: cluster id or peer address longer than %d bytes", maxStringBytes)
	}
	// As a Transport does: a peer still on the previous release refuses
	// protocolVersion, and is asked again in its version.
	conn, stop, err := fetchDial(ctx, &cfg, 0)
	if errors.Is(err, errUnsupportedVersion) && ctx.Err() == nil {
		conn, stop, err = fetchDial(ctx, &cfg, previousProtocolVersion)
	}
	if err != nil {
		return raftpb.SnapshotMetadata{}, err
	}
	defer conn.Close()
	defer stop()

	var req [8]byte
	binary.BigEndian.PutUint64(req[:], minIndex)
	if err := conn.SetDeadline(time.Now().Add(fetchAnswerTimeout)); err != nil {
		return raftpb.SnapshotMetadata{}, err
	}
	if _, err := conn.Write(req[:]); err != nil {
		return raftpb.SnapshotMetadata{}, ctxErr(ctx, fmt.Errorf("write snapshot request: %w", err))
	}
	var code [1]byte
	if _, err := io.ReadFull(conn, code[:]); err != nil {
		return raftpb.SnapshotMetadata{}, ctxErr(ctx, fmt.Errorf("read snapshot answer: %w", err))
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return raftpb.SnapshotMetadata{}, err
	}
	// From here every read has its own deadline, like a snapshot stream.
	br := bufio.NewReaderSize(&connReader{conn: conn, timeout: snapshotIOTimeout}, 64<<10)
	md, err := readFetchAnswer(br, code[0], cfg.Peer, minIndex, sink)
	return md, ctxErr(ctx, err)
}

// fetchDial connects to cfg.Addr and runs the handshake in version (0:
// protocolVersion). The connection closes when ctx ends, until stop is
// called.
func fetchDial(ctx context.Context, cfg *FetchConfig, version uint8) (net.Conn, func() bool, error) {
	d := net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: keepAlivePeriod}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, nil, err
	}
	raw := conn
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	if cfg.TLS != nil {
		tc, err := clientTLS(ctx, raw, cfg.TLS.ClientConfig(cfg.Peer), cfg.DialTimeout)
		if err != nil {
			stop()
			raw.Close()
			return nil, nil, ctxErr(ctx, fmt.Errorf("%s: %w", cfg.Addr, err))
		}
		conn = tc
	}
	h := hello{version: version, kind: streamFetch, from: cfg.NodeID, to: cfg.Peer, clusterID: cfg.ClusterID,
		dirID: cfg.DirectoryID, peerAddr: cfg.PeerAddr}
	if err := handshake(conn, &h, cfg.DialTimeout); err != nil {
		stop()
		conn.Close()
		return nil, nil, ctxErr(ctx, err)
	}
	return conn, stop, nil
}

// readFetchAnswer decodes the answer after its code byte, streaming the
// data into sink.
func readFetchAnswer(r io.Reader, code byte, peer, minIndex uint64, sink func(raftpb.SnapshotMetadata, io.Reader) error) (raftpb.SnapshotMetadata, error) {
	var md raftpb.SnapshotMetadata
	switch code {
	case fetchUnavailable:
		var b [16]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return md, unexpected(err)
		}
		return md, &SnapshotUnavailableError{Peer: peer, MinIndex: minIndex,
			Have: binary.BigEndian.Uint64(b[:8]), Leader: binary.BigEndian.Uint64(b[8:])}
	case fetchOK:
	default:
		return md, fmt.Errorf("%w: unknown fetch answer %d", errProtocol, code)
	}
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return md, unexpected(err)
	}
	mdLen := binary.BigEndian.Uint32(n[:])
	if mdLen > maxFrameBytes {
		return md, fmt.Errorf("%w: snapshot metadata of %d bytes exceeds %d", errProtocol, mdLen, maxFrameBytes)
	}
	mdb := make([]byte, mdLen)
	if _, err := io.ReadFull(r, mdb); err != nil {
		return md, unexpected(err)
	}
	if err := md.Unmarshal(mdb); err != nil {
		return raftpb.SnapshotMetadata{}, fmt.Errorf("%w: decode snapshot metadata: %v", errProtocol, err)
	}
	if md.Index < minIndex {
		return raftpb.SnapshotMetadata{}, fmt.Errorf("%w: peer sent a snapshot at index %d, asked for >= %d", errProtocol, md.Index, minIndex)
	}
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return raftpb.SnapshotMetadata{}, unexpected(err)
	}
	dataLen := binary.BigEndian.Uint64(hdr[:])
	if dataLen > maxStreamedSnapshotBytes {
		return raftpb.SnapshotMetadata{}, fmt.Errorf("%w: snapshot of %d bytes exceeds %d", errProtocol, dataLen, uint64(maxStreamedSnapshotBytes))
	}
	dr := &dataReader{r: r, remain: dataLen}
	err := sink(md, dr)
	if err == nil {
		err = dr.verify()
	}
	if err != nil {
		return raftpb.SnapshotMetadata{}, err
	}
	return md, nil
}

// ctxErr prefers ctx's error to the I/O error its cancellation caused.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// serveFetch answers one snapshot request on an accepted fetch stream.
func (t *Transport) serveFetch(conn net.Conn, br *bufio.Reader, h *hello) error {
	var req [8]byte
	if _, err := io.ReadFull(br, req[:]); err != nil {
		return unexpected(err)
	}
	minIndex := binary.BigEndian.Uint64(req[:])
	var snap SnapshotFile
	var leader uint64
	err := errors.New("no snapshot source")
	if src := t.cfg.SnapshotSource; src != nil {
		ctx, cancel := context.WithTimeout(t.ctx, fetchSourceTimeout)
		snap, leader, err = src(ctx, h.from, minIndex)
		cancel()
	}
	if snap.Data != nil {
		defer snap.Data.Close()
	}
	log := t.log.With("peer", h.from, "min_index", minIndex)
	if err != nil || snap.Metadata.Index < minIndex || snap.Data == nil {
		log.Info("peer asked for a snapshot this node cannot offer yet", "have", snap.Metadata.Index, "leader", leader, "err", err)
		var b [17]byte
		b[0] = fetchUnavailable
		binary.BigEndian.PutUint64(b[1:], snap.Metadata.Index)
		binary.BigEndian.PutUint64(b[9:], leader)
		return writeWithin(conn, b[:])
	}
	if snap.Size < 0 || uint64(snap.Size) > maxStreamedSnapshotBytes {
		return fmt.Errorf("snapshot of %d bytes exceeds %d", snap.Size, uint64(maxStreamedSnapshotBytes))
	}
	md, err := snap.Metadata.Marshal()
	if err != nil {
		return fmt.Errorf("marshal snapshot metadata: %w", err)
	}
	head := make([]byte, 0, 1+4+len(md)+8)
	head = append(head, fetchOK)
	head = binary.BigEndian.AppendUint32(head, uint32(len(md)))
	head = append(head, md...)
	head = binary.BigEndian.AppendUint64(head, uint64(snap.Size))
	if err := writeWithin(conn, head); err != nil {
		return err
	}
	if err := writeSnapshotData(chunkWriter{conn}, snap.Data, snap.Size); err != nil {
		return err
	}
	log.Warn("sent snapshot to a peer that asked for one", "index", snap.Metadata.Index, "term", snap.Metadata.Term, "bytes", snap.Size)
	return nil
}

// writeWithin writes b with a fresh snapshotIOTimeout deadline.
func writeWithin(conn net.Conn, b []byte) error {
	if err := conn.SetWriteDeadline(time.Now().Add(snapshotIOTimeout)); err != nil {
		return err
	}
	_, err := conn.Write(b)
	return err
}
