package metadata

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"
)

// Snapshot encoding, version 2. A snapshot is written and read as a
// stream: the writer walks the image's sorted listings and the reader
// builds the image's maps as items arrive, so neither holds more than one
// block of bytes (plus, on reading, the image itself). There is no copy of
// the image as records.
//
//	snapshot = magic:"YKSN" version:byte(=2) block* end
//	block    = size:uvarint(>0) payload[size] crc:uint32le
//	end      = size:uvarint(=0) total:uint32le
//
// crc is the CRC-32C (Castagnoli) of the block's size bytes and payload,
// checked before any item of the block is used; total is the CRC-32C of
// all payloads in order, and nothing may follow it. A payload is a run of
// whole items (an item never spans blocks); the writer closes a block once
// it holds snapshotBlockSize bytes. The items, in this order:
//
//	header                     size:uvarint fields[size], tagged fields as in a record
//	broker{brokers}            by id
//	topic{topics}              by name, each followed by its partitions by id
//	  partition{partitions}
//	producerIDs{blocks}        by first id
//	key{keys}                  idempotency keys, oldest first
//
// Header tags: 1 offset (varint), 2 maxTimestamp (varint unix ms; absent
// for the zero time), 3 brokers, 4 topics, 5 producer-id blocks, 6
// idempotency keys (varint counts; absent means 0), 7 the migration state
// (bytes: a ZkMigrationStateRecord's tagged fields as the codec writes
// them; absent when no migration ever started), 8 one set config (bytes:
// a ConfigRecord's tagged fields as the codec writes them, never a null
// value; repeated, by resource type, resource name, then config name;
// absent when none is set). Unknown header tags are skipped, so a field
// can be added without a new version; any other change is a new version
// byte. (A reader from before tag 7 loads such a snapshot without its
// migration state, one from before tag 8 without its configs.)
//
//	broker      = idDelta:uvarint uuid epoch:varint status:byte host:str port:str protocol:str rack:str
//	topic       = name:str uuid partitions:uvarint
//	partition   = idDelta:uvarint epoch:uvarint replicas isr leader:uvarint removing:idx adding:idx
//	replicas    = n:uvarint(>0) brokerId:uvarint{n}
//	isr         = 0:uvarint (the ISR is the replicas, in order) | n+1:uvarint index:uvarint{n}
//	idx         = n:uvarint index:uvarint{n}      positions in replicas
//	producerIDs = startDelta:uvarint broker:varint brokerEpoch:varint
//	key         = size:uvarint entry[size]        idempotency.go's entry form
//	uuid        = 0:uvarint byte[16] (canonical lowercase UUID text) | len+1:uvarint byte[len]
//	str         = len:uvarint byte[len]
//
// Ids are strictly increasing deltas from the previous one (from -1 for
// the first), so a listing cannot repeat an id. leader is 0 for no leader,
// else 1 + the leader's position in the ISR. A producer-id block starts
// startDelta after the end of the previous block (the first after 0), so
// blocks cannot overlap; NextProducerID is the end of the last block or
// the migration state's NextProducerID, whichever is greater (only a
// migration raises it beyond the blocks, and the state keeps the highest
// value it was raised to).
// status is 0 ALIVE, 1 FENCED, 2 CLOSED. A partition's topic is the topic
// item before it. The reader builds each partition straight into the form
// an image keeps (partstate.go: no per-partition copy of the topic UUID,
// the ISR not stored twice), a topic's partitions in one slab and their
// broker ids in another, and each topic's map in one exactly sized piece
// (pmapBuild: a slab of nodes and one of slots), so loading allocates
// little beyond the image itself (one block of input and one topic's
// scratch) and does so in a few allocations per topic, not per partition.
//
// The reader checks what replay would have checked when the image was
// built (the rules in doc.go, with producer-id blocks needing only a
// registered broker): an image that loads is one replay could build.
// Corrupt input of any kind is an error matching ErrCorrupt.
//
// ReadSnapshot also reads version 1 (snapshot_v1.go); WriteSnapshot
// writes version 2 only.

var snapshotMagic = []byte("YKSN")

const (
	snapshotVersion = 2

	// snapshotBlockSize is where the writer closes a block: big enough that
	// the per-block overhead (9 bytes) vanishes, small enough that a reader
	// holds little.
	snapshotBlockSize = 64 << 10
	// maxSnapshotBlock bounds one block on reading. Only an idempotency
	// entry (a whole write's records) can make a block much bigger than
	// snapshotBlockSize. The reader grows its buffer as bytes arrive, so a
	// corrupt size cannot make it allocate more than the input holds.
	maxSnapshotBlock = 256 << 20

	tagSnap2Offset       = 1
	tagSnap2MaxTimestamp = 2
	tagSnap2Brokers      = 3
	tagSnap2Topics       = 4
	tagSnap2ProducerIDs  = 5
	tagSnap2Keys         = 6
	tagSnap2Migration    = 7
	tagSnap2Config       = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ImageFromRecords builds the image a snapshot holds: it replays recs (an
// image's Records(), or any records in that form) into Empty and stamps
// the result with offset. It is Records' inverse. Replay's rules apply, but
// for one relaxation: a ProducerIdsRecord needs only its broker to be
// registered, since the broker may have been fenced, closed or moved to
// another epoch after the block was given. Errors are replay's.
func ImageFromRecords(recs []Record, offset int64) (*Image, error) {
	d := NewDelta(Empty)
	d.snapshot = true
	if err := d.ReplayBatch(recs); err != nil {
		return nil, err
	}
	return d.Apply(offset), nil
}

// EncodeSnapshot returns WriteSnapshot's bytes. Equal images encode to
// equal bytes.
func EncodeSnapshot(im *Image) []byte {
	var b bytes.Buffer
	if err := WriteSnapshot(&b, im); err != nil {
		// A bytes.Buffer does not fail; an image that does not encode
		// broke an invariant replay keeps.
		panic(err)
	}
	return b.Bytes()
}

// DecodeSnapshot is ReadSnapshot over b. It never panics; every error
// matches ErrCorrupt (records of a version-1 snapshot that decode but do
// not replay also carry their *Error).
func DecodeSnapshot(b []byte) (*Image, error) {
	return ReadSnapshot(bytes.NewReader(b))
}

// WriteSnapshot writes im to w in the snapshot encoding, version 2. It
// buffers at most about one block; it does not flush or sync w beyond
// writing to it. Equal images write equal bytes.
func WriteSnapshot(w io.Writer, im *Image) error {
	sw := snapWriter{w: bufio.NewWriterSize(w, snapshotBlockSize+64), buf: make([]byte, 0, snapshotBlockSize+1024)}
	brokers := im.cluster.sortedBrokers()
	topics := im.topics.sortedTopics()
	blocks := im.pids.sortedBlocks()
	keys := im.keys.entries()
	sw.write(snapshotMagic)
	sw.write([]byte{snapshotVersion})

	var h fieldWriter
	h.int(tagSnap2Offset, im.offset)
	if !im.maxTime.IsZero() {
		h.int(tagSnap2MaxTimestamp, encodeTime(im.maxTime))
	}
	h.int(tagSnap2Brokers, int64(len(brokers)))
	h.int(tagSnap2Topics, int64(len(topics)))
	h.int(tagSnap2ProducerIDs, int64(len(blocks)))
	h.int(tagSnap2Keys, int64(len(keys)))
	if im.mig != nil {
		// Absent without a migration, so the bytes of images without
		// one are what they were before the tag existed.
		var m fieldWriter
		m.body(im.mig)
		h.key(tagSnap2Migration, wireBytes)
		h.b = binary.AppendUvarint(h.b, uint64(len(m.b)))
		h.b = append(h.b, m.b...)
	}
	var cw fieldWriter
	for _, c := range im.configRecords() {
		// Absent without configs, as tag 7 is without a migration.
		cw.b = cw.b[:0]
		cw.body(c)
		h.key(tagSnap2Config, wireBytes)
		h.b = binary.AppendUvarint(h.b, uint64(len(cw.b)))
		h.b = append(h.b, cw.b...)
	}
	sw.uvarint(uint64(len(h.b)))
	sw.buf = append(sw.buf, h.b...)
	sw.endItem()

	prev := int64(-1)
	for _, b := range brokers {
		status, ok := statusCode(b.BrokerStatus)
		if !ok || int64(b.BrokerID) <= prev {
			return fmt.Errorf("write snapshot: broker %d (status %q) breaks the image's invariants", b.BrokerID, b.BrokerStatus)
		}
		sw.uvarint(uint64(int64(b.BrokerID) - prev))
		prev = int64(b.BrokerID)
		sw.uuid(b.InternalUUID)
		sw.varint(b.Epoch)
		sw.buf = append(sw.buf, status)
		sw.str(b.BrokerHost)
		sw.str(b.BrokerPort)
		sw.str(b.SecurityProtocol)
		sw.str(b.RackID)
		sw.endItem()
	}
	for _, t := range topics {
		sw.str(t.rec.Name)
		sw.uuid(t.rec.TopicUUID)
		parts := t.sortedParts()
		sw.uvarint(uint64(len(parts)))
		sw.endItem()
		prev := int64(-1)
		for _, p := range parts {
			if err := sw.partition(p.id, p.p, prev); err != nil {
				return fmt.Errorf("write snapshot: topic %q: %w", t.rec.Name, err)
			}
			prev = int64(p.id)
			sw.endItem()
		}
		if sw.err != nil {
			break
		}
	}
	end := int64(0)
	for _, b := range blocks {
		if b.ProducerID < end {
			return fmt.Errorf("write snapshot: producer-id block at %d overlaps the one before", b.ProducerID)
		}
		sw.uvarint(uint64(b.ProducerID - end))
		end = b.ProducerID + ProducerIDBlockSize
		sw.varint(int64(b.BrokerID))
		sw.varint(b.BrokerEpoch)
		sw.endItem()
	}
	var eb []byte
	for _, e := range keys {
		eb = appendKeyEntry(eb[:0], e)
		sw.uvarint(uint64(len(eb)))
		sw.buf = append(sw.buf, eb...)
		sw.endItem()
	}
	return sw.finish()
}

// snapWriter collects items into blocks and writes each block once full.
type snapWriter struct {
	w     *bufio.Writer
	buf   []byte // the open block's payload
	total uint32 // CRC-32C of the payloads written so far
	err   error
}

func (s *snapWriter) uvarint(v uint64) { s.buf = binary.AppendUvarint(s.buf, v) }
func (s *snapWriter) varint(v int64)   { s.buf = binary.AppendVarint(s.buf, v) }

func (s *snapWriter) str(v string) {
	s.uvarint(uint64(len(v)))
	s.buf = append(s.buf, v...)
}

func (s *snapWriter) uuid(v string) {
	if u, ok := parseUUID(v); ok {
		s.buf = append(s.buf, 0)
		s.buf = append(s.buf, u[:]...)
		return
	}
	s.uvarint(uint64(len(v)) + 1)
	s.buf = append(s.buf, v...)
}

// partition writes partition id, which follows prev. The image's
// invariants make every ISR, adding and removing member a replica.
func (s *snapWriter) partition(id int32, p *partState, prev int64) error {
	replicas, isr, removing, adding := p.lists()
	if int64(id) <= prev || p.epoch < 0 || len(replicas) == 0 {
		return fmt.Errorf("partition %d breaks the image's invariants", id)
	}
	s.uvarint(uint64(int64(id) - prev))
	s.uvarint(uint64(p.epoch))
	s.uvarint(uint64(len(replicas)))
	for _, b := range replicas {
		if b < 0 {
			return fmt.Errorf("partition %d: replica %d breaks the image's invariants", id, b)
		}
		s.uvarint(uint64(b))
	}
	leader := uint64(0)
	if p.leader != NoLeader {
		i := indexOf(isr, p.leader)
		if i < 0 {
			return fmt.Errorf("partition %d: leader %d is not in the ISR", id, p.leader)
		}
		leader = uint64(i) + 1
	}
	if sameIDs(isr, replicas) {
		s.uvarint(0)
	} else if err := s.indexes(isr, replicas, 1); err != nil {
		return fmt.Errorf("partition %d: ISR: %w", id, err)
	}
	s.uvarint(leader)
	if err := s.indexes(removing, replicas, 0); err != nil {
		return fmt.Errorf("partition %d: removing replicas: %w", id, err)
	}
	if err := s.indexes(adding, replicas, 0); err != nil {
		return fmt.Errorf("partition %d: adding replicas: %w", id, err)
	}
	return nil
}

// indexes writes len(ids)+bias and each id's position in replicas.
func (s *snapWriter) indexes(ids, replicas []int32, bias uint64) error {
	s.uvarint(uint64(len(ids)) + bias)
	for _, id := range ids {
		i := indexOf(replicas, id)
		if i < 0 {
			return fmt.Errorf("%d is not a replica", id)
		}
		s.uvarint(uint64(i))
	}
	return nil
}

func indexOf(ids []int32, id int32) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}

func sameIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// endItem closes the open block once it is full.
func (s *snapWriter) endItem() {
	if len(s.buf) >= snapshotBlockSize {
		s.flush()
	}
}

func (s *snapWriter) flush() {
	if len(s.buf) == 0 || s.err != nil {
		return
	}
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(s.buf)))
	crc := crc32.Update(crc32.Update(0, castagnoli, hdr[:n]), castagnoli, s.buf)
	s.total = crc32.Update(s.total, castagnoli, s.buf)
	s.write(hdr[:n])
	s.write(s.buf)
	s.write(binary.LittleEndian.AppendUint32(hdr[:0], crc))
	s.buf = s.buf[:0]
}

func (s *snapWriter) write(b []byte) {
	if s.err == nil {
		if _, err := s.w.Write(b); err != nil {
			s.err = fmt.Errorf("write snapshot: %w", err)
		}
	}
}

func (s *snapWriter) finish() error {
	s.flush()
	var end [5]byte // size 0, then total
	binary.LittleEndian.PutUint32(end[1:], s.total)
	s.write(end[:])
	if s.err == nil {
		if err := s.w.Flush(); err != nil {
			s.err = fmt.Errorf("write snapshot: %w", err)
		}
	}
	return s.err
}

var statusNames = [...]string{StatusAlive, StatusFenced, StatusClosed}

func statusCode(s string) (byte, bool) {
	for i, n := range statusNames {
		if n == s {
			return byte(i), true
		}
	}
	return 0, false
}

// parseUUID accepts exactly the canonical lowercase text form
// (8-4-4-4-12 hex digits), the one form that round-trips through 16 bytes.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		hi, lo := unhex(s[i]), unhex(s[i+1])
		if hi < 0 || lo < 0 {
			return u, false
		}
		u[j] = byte(hi<<4 | lo)
		i, j = i+2, j+1
	}
	return u, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

func formatUUID(u []byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ReadSnapshot reads a snapshot, version 2 as WriteSnapshot writes it or
// version 1, and builds the image. Version 2 is read as a stream, block by
// block; version 1 is read whole. Every error matches ErrCorrupt, except
// r's own read errors, which are returned wrapped.
func ReadSnapshot(r io.Reader) (*Image, error) {
	br := bufio.NewReaderSize(r, snapshotBlockSize)
	var head [5]byte
	if n, err := io.ReadFull(br, head[:]); err != nil {
		if isEOF(err) {
			return nil, corruptf("decode snapshot: not a snapshot (%d bytes)", n)
		}
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	if !bytes.Equal(head[:4], snapshotMagic) {
		return nil, corruptf("decode snapshot: not a snapshot (bad magic)")
	}
	switch v := head[4]; v {
	case snapshotVersion:
		im, err := readSnapshotV2(br)
		if err != nil && !errors.Is(err, errSnapshotRead) {
			// Structural faults and replay-rule violations alike mean
			// the bytes are not a snapshot of a valid image.
			return nil, &corruptError{msg: "decode snapshot: " + err.Error(), err: err}
		}
		if err != nil {
			return nil, err
		}
		return im, nil
	case snapshotVersion1:
		rest, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("read snapshot: %w", err)
		}
		return decodeSnapshotV1(append(head[:], rest...))
	default:
		return nil, corruptf("decode snapshot: version %d, this decoder reads 1 and %d", v, snapshotVersion)
	}
}

func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }

// errSnapshotRead marks the reader's own I/O errors, which are not
// corruption.
var errSnapshotRead = errors.New("read snapshot")

// snapReader hands out a version-2 snapshot's blocks, checked.
type snapReader struct {
	br    *bufio.Reader
	buf   []byte // the current block's payload
	r     reader // over buf
	total uint32
	block int // blocks read, for errors

	// A topic's partitions while they are read (topic): map entries,
	// partStates, their ids and where each one's ids end; and pmapBuild's
	// scratch.
	parts  []hentry[int32, *partState]
	states []partState
	ids    []int32
	ends   []int
	tmp    []hpos
}

// io wraps an error of the underlying reader: truncation is corruption,
// anything else is the reader's.
func (s *snapReader) ioErr(what string, err error) error {
	if isEOF(err) {
		return fmt.Errorf("block %d: %s: truncated", s.block, what)
	}
	return fmt.Errorf("%w: block %d: %s: %w", errSnapshotRead, s.block, what, err)
}

// size reads a block size and returns it with its bytes, for the CRC.
func (s *snapReader) size() (uint64, []byte, error) {
	var raw [binary.MaxVarintLen64]byte
	for i := range raw {
		c, err := s.br.ReadByte()
		if err != nil {
			return 0, nil, s.ioErr("size", err)
		}
		raw[i] = c
		if c < 0x80 {
			v, n := binary.Uvarint(raw[:i+1])
			if n <= 0 {
				break
			}
			return v, raw[:i+1], nil
		}
	}
	return 0, nil, fmt.Errorf("block %d: size is not a varint", s.block)
}

// need makes sure the current block has bytes left, loading the next
// block if not. Items never span blocks, so an item starts only here.
func (s *snapReader) need() error {
	if s.r.remaining() > 0 {
		return nil
	}
	n, raw, err := s.size()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("block %d: the snapshot ends before its last item", s.block)
	}
	if n > maxSnapshotBlock {
		return fmt.Errorf("block %d: size %d exceeds %d", s.block, n, maxSnapshotBlock)
	}
	// Grow with the bytes that arrive, not by the size read.
	s.buf = s.buf[:0]
	for len(s.buf) < int(n) {
		chunk := min(int(n)-len(s.buf), 1<<20)
		if cap(s.buf)-len(s.buf) < chunk {
			s.buf = append(s.buf[:len(s.buf):len(s.buf)], make([]byte, chunk)...)[:len(s.buf)]
		}
		m, err := io.ReadFull(s.br, s.buf[len(s.buf):len(s.buf)+chunk])
		s.buf = s.buf[:len(s.buf)+m]
		if err != nil {
			return s.ioErr("payload", err)
		}
	}
	var c [4]byte
	if _, err := io.ReadFull(s.br, c[:]); err != nil {
		return s.ioErr("checksum", err)
	}
	want := binary.LittleEndian.Uint32(c[:])
	if got := crc32.Update(crc32.Update(0, castagnoli, raw), castagnoli, s.buf); got != want {
		return fmt.Errorf("block %d: checksum %08x, want %08x", s.block, got, want)
	}
	s.total = crc32.Update(s.total, castagnoli, s.buf)
	s.r = reader{b: s.buf}
	s.block++
	return nil
}

// end checks the end marker, the total checksum and that nothing follows.
func (s *snapReader) end() error {
	if s.r.remaining() > 0 {
		return fmt.Errorf("block %d: %d bytes after the last item", s.block, s.r.remaining())
	}
	n, _, err := s.size()
	if err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("block %d: more items than the header counts", s.block)
	}
	var c [4]byte
	if _, err := io.ReadFull(s.br, c[:]); err != nil {
		return s.ioErr("total checksum", err)
	}
	if want := binary.LittleEndian.Uint32(c[:]); want != s.total {
		return fmt.Errorf("total checksum %08x, want %08x", s.total, want)
	}
	if _, err := s.br.ReadByte(); err != io.EOF {
		if err != nil {
			return s.ioErr("end", err)
		}
		return fmt.Errorf("bytes after the end")
	}
	return nil
}

func (s *snapReader) uvarint(what string) (uint64, error) {
	// Most values in a snapshot (deltas, counts, broker ids under 128,
	// positions) are one byte.
	if s.r.off < len(s.r.b) {
		if c := s.r.b[s.r.off]; c < 0x80 {
			s.r.off++
			return uint64(c), nil
		}
	}
	return s.uvarintSlow(what)
}

func (s *snapReader) uvarintSlow(what string) (uint64, error) {
	v, err := s.r.uvarint()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return v, nil
}

func (s *snapReader) varint(what string) (int64, error) {
	v, err := s.r.varint()
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return v, nil
}

// id reads an idDelta after prev: an id in (prev, MaxInt32].
func (s *snapReader) id(what string, prev int64) (int32, error) {
	d, err := s.uvarint(what)
	if err != nil {
		return 0, err
	}
	if d == 0 || d > uint64(math.MaxInt32-prev) {
		return 0, fmt.Errorf("%s: delta %d after %d is out of order or range", what, d, prev)
	}
	return int32(prev + int64(d)), nil
}

func (s *snapReader) str(what string) (string, error) {
	b, err := s.r.bytes()
	if err != nil {
		return "", fmt.Errorf("%s: %v", what, err)
	}
	return string(b), nil
}

func (s *snapReader) uuid(what string) (string, error) {
	n, err := s.uvarint(what)
	if err != nil {
		return "", err
	}
	if n == 0 {
		if s.r.remaining() < 16 {
			return "", fmt.Errorf("%s: truncated", what)
		}
		u := s.r.b[s.r.off : s.r.off+16]
		s.r.off += 16
		return formatUUID(u), nil
	}
	n--
	if n > uint64(s.r.remaining()) {
		return "", fmt.Errorf("%s: length %d exceeds the %d bytes left", what, n, s.r.remaining())
	}
	v := string(s.r.b[s.r.off : s.r.off+int(n)])
	s.r.off += int(n)
	return v, nil
}

// snapHeader is a version-2 header.
type snapHeader struct {
	offset                        int64
	maxTime                       time.Time
	brokers, topics, blocks, keys int64
	mig                           *ZkMigrationStateRecord // nil: no migration
	configs                       []*ConfigRecord         // in the writer's order
}

func (s *snapReader) header() (snapHeader, error) {
	var h snapHeader
	if err := s.need(); err != nil {
		return h, err
	}
	hb, err := s.r.bytes()
	if err != nil {
		return h, fmt.Errorf("header: %v", err)
	}
	f := fieldReader{name: "snapshot header", r: reader{b: hb}}
	for f.next() {
		switch f.tag {
		case tagSnap2Offset:
			h.offset = f.int64()
		case tagSnap2MaxTimestamp:
			h.maxTime = decodeTime(f.int64())
		case tagSnap2Brokers:
			h.brokers = f.int64()
		case tagSnap2Topics:
			h.topics = f.int64()
		case tagSnap2ProducerIDs:
			h.blocks = f.int64()
		case tagSnap2Keys:
			h.keys = f.int64()
		case tagSnap2Migration:
			if !f.want(wireBytes) {
				break
			}
			mb, err := f.r.bytes()
			if err != nil {
				f.fail(err)
				break
			}
			body, err := decodeBody(typeZkMigrationState, mb)
			if err != nil {
				f.fail(err)
				break
			}
			h.mig = body.(*ZkMigrationStateRecord)
		case tagSnap2Config:
			if !f.want(wireBytes) {
				break
			}
			cb, err := f.r.bytes()
			if err != nil {
				f.fail(err)
				break
			}
			body, err := decodeBody(typeConfig, cb)
			if err != nil {
				f.fail(err)
				break
			}
			h.configs = append(h.configs, body.(*ConfigRecord))
		default:
			f.skip()
		}
	}
	if f.err != nil {
		return h, f.err
	}
	if h.brokers < 0 || h.topics < 0 || h.blocks < 0 || h.keys < 0 {
		return h, fmt.Errorf("header has negative counts")
	}
	if h.mig != nil {
		// Any valid phase: the state is the end of a history of
		// transitions the snapshot does not hold.
		if err := checkMigrationFields(h.mig); err != nil {
			return h, fmt.Errorf("header: %w", err)
		}
	}
	return h, nil
}

// readSnapshotV2 reads what follows the magic and version byte.
func readSnapshotV2(br *bufio.Reader) (*Image, error) {
	s := &snapReader{br: br}
	h, err := s.header()
	if err != nil {
		return nil, err
	}
	ed := new(edit)
	var brokers []hentry[int32, *RegisterBrokerRecord]
	prev := int64(-1)
	for i := range h.brokers {
		if err := s.need(); err != nil {
			return nil, err
		}
		b, err := s.broker(prev)
		if err != nil {
			return nil, fmt.Errorf("broker %d of %d (after id %d): %v", i, h.brokers, prev, err)
		}
		prev = int64(b.BrokerID)
		brokers = append(brokers, hentry[int32, *RegisterBrokerRecord]{hash: hashInt(prev), key: b.BrokerID, val: b})
	}
	cluster := &clusterImage{brokers: pmapOf(brokers)}
	topics := &topicsImage{}
	prevName := ""
	for i := range h.topics {
		t, err := s.topic(topics, prevName)
		if err != nil {
			return nil, fmt.Errorf("topic %d of %d (after %q): %w", i, h.topics, prevName, err)
		}
		prevName = t.rec.Name
		key := TopicCollisionKey(t.rec.Name)
		topics.byName = topics.byName.set(ed, hashString(t.rec.Name), t.rec.Name, t.rec.TopicUUID)
		topics.byKey = topics.byKey.set(ed, hashString(key), key, t.rec.Name)
		topics.byUUID = topics.byUUID.set(ed, hashString(t.rec.TopicUUID), t.rec.TopicUUID, t)
	}
	pids := &producerIDsImage{}
	var blocks []hentry[int64, ProducerIdsRecord]
	for i := range h.blocks {
		if err := s.need(); err != nil {
			return nil, err
		}
		b, err := s.producerIDs(pids.next)
		if err != nil {
			return nil, fmt.Errorf("producer-id block %d of %d: %v", i, h.blocks, err)
		}
		if _, ok := cluster.brokers.get(hashInt(int64(b.BrokerID)), b.BrokerID); !ok {
			return nil, fmt.Errorf("producer-id block %d of %d: %w", i, h.blocks,
				Errorf(ReasonBrokerNotFound, "producer ids for broker %d: broker is not registered", b.BrokerID))
		}
		k := b.ProducerID / ProducerIDBlockSize
		blocks = append(blocks, hentry[int64, ProducerIdsRecord]{hash: hashInt(k), key: k, val: b})
		pids.next = b.ProducerID + ProducerIDBlockSize
	}
	pids.blocks = pmapOf(blocks)
	if h.mig != nil {
		pids.next = max(pids.next, h.mig.NextProducerID)
	}
	var entries []*IdempotencyEntry
	for i := range h.keys {
		if err := s.need(); err != nil {
			return nil, err
		}
		eb, err := s.r.bytes()
		if err == nil {
			var e *IdempotencyEntry
			if e, err = decodeKeyEntry(eb); err == nil {
				entries = append(entries, e)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("idempotency key %d of %d: %v", i, h.keys, err)
		}
	}
	keys, err := keysFromEntries(entries)
	if err != nil {
		return nil, err
	}
	if err := s.end(); err != nil {
		return nil, err
	}
	cfg, err := snapshotConfigs(h.configs, topics)
	if err != nil {
		return nil, err
	}
	return &Image{offset: h.offset, maxTime: h.maxTime,
		state: state{cluster: cluster, topics: topics, pids: pids, keys: keys, mig: h.mig, cfg: cfg}}, nil
}

func (s *snapReader) broker(prev int64) (*RegisterBrokerRecord, error) {
	var b RegisterBrokerRecord
	var err error
	if b.BrokerID, err = s.id("id", prev); err != nil {
		return nil, err
	}
	if b.InternalUUID, err = s.uuid("internal uuid"); err != nil {
		return nil, err
	}
	if b.Epoch, err = s.varint("epoch"); err != nil {
		return nil, err
	}
	if s.r.remaining() == 0 {
		return nil, fmt.Errorf("status: truncated")
	}
	st := s.r.b[s.r.off]
	s.r.off++
	if int(st) >= len(statusNames) {
		return nil, fmt.Errorf("status %d is not ALIVE, FENCED or CLOSED", st)
	}
	b.BrokerStatus = statusNames[st]
	if b.BrokerHost, err = s.str("host"); err != nil {
		return nil, err
	}
	if b.BrokerPort, err = s.str("port"); err != nil {
		return nil, err
	}
	if b.SecurityProtocol, err = s.str("protocol"); err != nil {
		return nil, err
	}
	if b.RackID, err = s.str("rack"); err != nil {
		return nil, err
	}
	return &b, nil
}

// topic reads a topic and its partitions, checking them as createTopic
// and partition would against topics (the topics read so far).
//
// The topic's partStates are allocated as one slab and all their broker
// ids as another, and its map is built in one piece (pmapBuild), so a topic
// costs a handful of allocations however many partitions it has. A
// partState in a map is never modified (a change replaces it with a new
// one from newPartState), so sharing a slab is safe. A slab stays alive
// while any of its entries is referenced: after many partitions of a
// loaded topic have changed, the replaced entries' memory is kept until
// the last one goes. That waste is bounded by what the load allocated
// (slabs are made only here, never by later changes), it is freed when
// the topic is deleted, and a restart compacts it, so it cannot grow
// with the number of changes.
func (s *snapReader) topic(topics *topicsImage, prevName string) (*topicImage, error) {
	if err := s.need(); err != nil {
		return nil, err
	}
	var t topicImage
	var err error
	if t.rec.Name, err = s.str("name"); err != nil {
		return nil, err
	}
	if t.rec.TopicUUID, err = s.uuid("uuid"); err != nil {
		return nil, err
	}
	n, err := s.uvarint("partitions")
	if err != nil {
		return nil, err
	}
	name, uuid := t.rec.Name, t.rec.TopicUUID
	if prevName != "" && name <= prevName {
		return nil, fmt.Errorf("topic %q is out of order", name)
	}
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	if uuid == "" {
		return nil, Errorf(ReasonInvalid, "topic %q has no topicUUID", name)
	}
	key := TopicCollisionKey(name)
	if other, ok := topics.byKey.get(hashString(key), key); ok {
		return nil, CollisionError(name, other)
	}
	if o, ok := topics.byUUID.get(hashString(uuid), uuid); ok {
		return nil, Errorf(ReasonTopicAlreadyExists, "topic id %s already exists (topic %q)", uuid, o.rec.Name)
	}
	// The partitions are read into scratch (which grows only with bytes
	// actually read, whatever n claims), then copied once into exactly
	// sized slabs.
	parts, states, ids, ends := s.parts[:0], s.states[:0], s.ids[:0], s.ends[:0]
	prev := int64(-1)
	for j := range n {
		if err := s.need(); err != nil {
			return nil, err
		}
		base := len(ids)
		var id int32
		var p partState
		var ok bool
		id, p, ids, ok = s.partitionFast(prev, ids)
		if !ok {
			if id, p, ids, err = s.partition(prev, ids[:base]); err != nil {
				return nil, fmt.Errorf("partition %d of %d (after id %d): %v", j, n, prev, err)
			}
		}
		p.ids = ids[base:]
		if err := checkPartState(&p); err != nil {
			return nil, Errorf(ReasonInvalidReplicaAssignment, "partition %d of topic %q: %s", id, name, err)
		}
		p.ids = nil // set to the slab's below
		prev = int64(id)
		parts = append(parts, hentry[int32, *partState]{hash: hashInt(prev), key: id})
		states = append(states, p)
		ends = append(ends, len(ids))
	}
	slab := make([]partState, len(states))
	copy(slab, states)
	idSlab := make([]int32, len(ids))
	copy(idSlab, ids)
	start := 0
	for i := range slab {
		end := ends[i]
		slab[i].ids = idSlab[start:end:end]
		parts[i].val = &slab[i]
		start = end
	}
	t.parts = pmapBuild(parts, &s.tmp)
	clear(parts) // drop the pointers: the buffer outlives this topic
	s.parts, s.states, s.ids, s.ends = parts[:0], states[:0], ids[:0], ends[:0]
	return &t, nil
}

// partition reads one partition, whose id follows prev, into the form an
// image keeps: it appends the partition's broker ids to ids (the ISR not
// when it is the replica list) and returns the partState without them.
func (s *snapReader) partition(prev int64, ids []int32) (int32, partState, []int32, error) {
	var p partState
	id, err := s.id("id", prev)
	if err != nil {
		return 0, p, ids, err
	}
	epoch, err := s.uvarint("epoch")
	if err != nil {
		return 0, p, ids, err
	}
	if epoch > math.MaxInt64 {
		return 0, p, ids, fmt.Errorf("epoch %d out of range", epoch)
	}
	base := len(ids)
	nr, err := s.uvarint("replicas")
	if err != nil {
		return 0, p, ids, err
	}
	if nr == 0 {
		return 0, p, ids, fmt.Errorf("no replicas")
	}
	for range nr {
		v, err := s.uvarint("replica")
		if err != nil {
			return 0, p, ids, err
		}
		if v > math.MaxInt32 {
			return 0, p, ids, fmt.Errorf("replica %d is not a broker id", v)
		}
		ids = append(ids, int32(v))
	}
	reps := base + int(nr) // end of the replicas in ids
	ni, err := s.uvarint("ISR")
	if err != nil {
		return 0, p, ids, err
	}
	if ni > 0 {
		if ids, err = s.members(ids, base, int(nr), ni-1, "ISR"); err != nil {
			return 0, p, ids, err
		}
		if sameIDs(ids[reps:], ids[base:reps]) {
			ids, ni = ids[:reps], 0 // the canonical form: not stored twice
		}
	}
	isrLen := len(ids) - reps
	if ni == 0 {
		isrLen = int(nr)
	}
	leader, err := s.uvarint("leader")
	if err != nil {
		return 0, p, ids, err
	}
	isrEnd := len(ids)
	if ids, err = s.indexList(ids, base, int(nr), "removing replicas"); err != nil {
		return 0, p, ids, err
	}
	nrem := len(ids) - isrEnd
	if ids, err = s.indexList(ids, base, int(nr), "adding replicas"); err != nil {
		return 0, p, ids, err
	}
	p = partState{epoch: int64(epoch), leader: NoLeader, nrep: int32(nr), isr: -1, nrem: int32(nrem)}
	if ni > 0 {
		p.isr = int32(isrLen)
	}
	if leader > uint64(isrLen) {
		return 0, p, ids, fmt.Errorf("leader at ISR position %d of %d", leader-1, isrLen)
	}
	if leader > 0 {
		isrStart := base
		if ni > 0 {
			isrStart = reps
		}
		p.leader = ids[isrStart+int(leader)-1]
	}
	return id, p, ids, nil
}

// partitionFast is partition for the common case, without its error
// words: it reads straight from the block and, on anything partition
// would reject (and on nothing else it accepts), returns false having
// consumed nothing, so partition reads the item again and says what is
// wrong. What it accepts, partition accepts with the same result.
func (s *snapReader) partitionFast(prev int64, ids []int32) (int32, partState, []int32, bool) {
	b, i := s.r.b, s.r.off
	base := len(ids)
	var d, epoch, nr, ni, leader uint64
	if d, i = uvarintFrom(b, i); i < 0 || d == 0 || d > uint64(math.MaxInt32-prev) {
		return 0, partState{}, ids, false
	}
	if epoch, i = uvarintFrom(b, i); i < 0 || epoch > math.MaxInt64 {
		return 0, partState{}, ids, false
	}
	// Every count is at most the bytes left, each value taking one.
	if nr, i = uvarintFrom(b, i); i < 0 || nr == 0 || nr > uint64(len(b)-i) {
		return 0, partState{}, ids, false
	}
	for range nr {
		var v uint64
		if i < len(b) && b[i] < 0x80 { // uvarintFrom, inlined by hand
			v, i = uint64(b[i]), i+1
		} else if v, i = uvarintFromSlow(b, i); i < 0 || v > math.MaxInt32 {
			return 0, partState{}, ids[:base], false
		}
		ids = append(ids, int32(v))
	}
	reps := base + int(nr)
	if ni, i = uvarintFrom(b, i); i < 0 {
		return 0, partState{}, ids[:base], false
	}
	if ni > 0 {
		if ids, i = membersAt(b, i, ids, base, int(nr), ni-1); i < 0 {
			return 0, partState{}, ids[:base], false
		}
		if sameIDs(ids[reps:], ids[base:reps]) {
			ids, ni = ids[:reps], 0
		}
	}
	isrStart, isrLen := base, int(nr)
	if ni > 0 {
		isrStart, isrLen = reps, len(ids)-reps
	}
	if leader, i = uvarintFrom(b, i); i < 0 || leader > uint64(isrLen) {
		return 0, partState{}, ids[:base], false
	}
	isrEnd := len(ids)
	var n uint64
	if n, i = uvarintFrom(b, i); i < 0 {
		return 0, partState{}, ids[:base], false
	}
	if ids, i = membersAt(b, i, ids, base, int(nr), n); i < 0 {
		return 0, partState{}, ids[:base], false
	}
	nrem := len(ids) - isrEnd
	if n, i = uvarintFrom(b, i); i < 0 {
		return 0, partState{}, ids[:base], false
	}
	if ids, i = membersAt(b, i, ids, base, int(nr), n); i < 0 {
		return 0, partState{}, ids[:base], false
	}
	p := partState{epoch: int64(epoch), leader: NoLeader, nrep: int32(nr), isr: -1, nrem: int32(nrem)}
	if ni > 0 {
		p.isr = int32(isrLen)
	}
	if leader > 0 {
		p.leader = ids[isrStart+int(leader)-1]
	}
	s.r.off = i
	return int32(prev + int64(d)), p, ids, true
}

// uvarintFrom decodes the uvarint at b[i:] and returns it with the offset
// after it, or -1 if there is none (truncated or over 64 bits). i must be
// at most len(b).
func uvarintFrom(b []byte, i int) (uint64, int) {
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	return uvarintFromSlow(b, i)
}

func uvarintFromSlow(b []byte, i int) (uint64, int) {
	if i+1 < len(b) && b[i+1] < 0x80 { // two bytes: broker ids up to 16383
		return uint64(b[i]&0x7f) | uint64(b[i+1])<<7, i + 2
	}
	v, n := binary.Uvarint(b[i:])
	if n <= 0 {
		return 0, -1
	}
	return v, i + n
}

// membersAt is members over b[i:]: it appends the ids at n positions in
// ids[base:base+nr] and returns the offset after them, or -1 on a fault.
func membersAt(b []byte, i int, ids []int32, base, nr int, n uint64) ([]int32, int) {
	if n > uint64(len(b)-i) {
		return ids, -1
	}
	for range n {
		var v uint64
		if i < len(b) && b[i] < 0x80 { // uvarintFrom, inlined by hand
			v, i = uint64(b[i]), i+1
		} else if v, i = uvarintFromSlow(b, i); i < 0 {
			return ids, -1
		}
		if v >= uint64(nr) {
			return ids, -1
		}
		ids = append(ids, ids[base+int(v)])
	}
	return ids, i
}

// checkPartState is checkAssignment for a decoded partition, whose lists
// are positions in its replicas by construction (so every member is a
// replica, the leader is in the ISR and no id is negative): what is left
// is that no list repeats an id and no replica is both added and removed.
// Short lists, the usual case, are checked here without building a
// record; longer ones, and any fault, go to checkAssignment, which has
// the words for it.
func checkPartState(p *partState) error {
	replicas, isr, removing, adding := p.lists()
	if len(replicas) <= 16 && distinctIDs(replicas) && (p.isr < 0 || distinctIDs(isr)) &&
		distinctIDs(removing) && distinctIDs(adding) && disjointIDs(removing, adding) {
		return nil
	}
	r := p.record(0, "")
	return checkAssignment(&r)
}

// distinctIDs reports whether no id appears twice; quadratic, for short
// lists.
func distinctIDs(ids []int32) bool {
	for i := 1; i < len(ids); i++ {
		for _, x := range ids[:i] {
			if x == ids[i] {
				return false
			}
		}
	}
	return true
}

func disjointIDs(a, b []int32) bool {
	for _, x := range a {
		if indexOf(b, x) >= 0 {
			return false
		}
	}
	return true
}

// indexList reads idx (a count, then positions in the replicas, which
// are ids[base:base+nr]) and appends the members to ids.
func (s *snapReader) indexList(ids []int32, base, nr int, what string) ([]int32, error) {
	n, err := s.uvarint(what)
	if err != nil {
		return nil, err
	}
	return s.members(ids, base, nr, n, what)
}

// members reads n positions in the replica list, ids[base:base+nr], and
// appends the ids there to ids.
func (s *snapReader) members(ids []int32, base, nr int, n uint64, what string) ([]int32, error) {
	for range n {
		v, err := s.uvarint(what)
		if err != nil {
			return nil, err
		}
		if v >= uint64(nr) {
			return nil, fmt.Errorf("%s: position %d of %d replicas", what, v, nr)
		}
		ids = append(ids, ids[base+int(v)])
	}
	return ids, nil
}

func (s *snapReader) producerIDs(end int64) (ProducerIdsRecord, error) {
	var b ProducerIdsRecord
	d, err := s.uvarint("start")
	if err != nil {
		return b, err
	}
	if d > uint64(math.MaxInt64-ProducerIDBlockSize-end) {
		return b, fmt.Errorf("start %d after %d is out of range", d, end)
	}
	b.ProducerID = end + int64(d)
	broker, err := s.varint("broker")
	if err != nil {
		return b, err
	}
	if broker < math.MinInt32 || broker > math.MaxInt32 {
		return b, fmt.Errorf("broker %d does not fit in int32", broker)
	}
	b.BrokerID = int32(broker)
	if b.BrokerEpoch, err = s.varint("broker epoch"); err != nil {
		return b, err
	}
	return b, nil
}

// snapshotConfigs builds the configs of a snapshot's header, checking
// what replay would have: well-formed records of existing topics, set
// values only, and each config once (the writer's order is strict).
func snapshotConfigs(recs []*ConfigRecord, topics *topicsImage) (*configsImage, error) {
	var es []hentry[configRes, map[string]string]
	for i, r := range recs {
		if err := checkConfigRecord(r); err != nil {
			return nil, fmt.Errorf("config %d of %d: %w", i, len(recs), err)
		}
		if r.Value == nil {
			return nil, fmt.Errorf("config %d of %d: %s has no value", i, len(recs), r.Name)
		}
		if i > 0 {
			p := recs[i-1]
			if c := (configRes{p.ResourceType, p.ResourceName}).compare(configRes{r.ResourceType, r.ResourceName}); c > 0 || c == 0 && p.Name >= r.Name {
				return nil, fmt.Errorf("config %d of %d (%s %q %s) is out of order", i, len(recs), r.ResourceType, r.ResourceName, r.Name)
			}
		}
		res := configRes{r.ResourceType, r.ResourceName}
		if res.typ == ConfigResourceTopic {
			if _, ok := topics.byName.get(hashString(res.name), res.name); !ok {
				return nil, fmt.Errorf("config %d of %d: %w", i, len(recs),
					Errorf(ReasonTopicNotFound, "config %s of topic %q: topic not found", r.Name, res.name))
			}
		}
		if n := len(es); n == 0 || es[n-1].key != res {
			es = append(es, hentry[configRes, map[string]string]{hash: res.hash(), key: res, val: map[string]string{}})
		}
		es[len(es)-1].val[r.Name] = *r.Value
	}
	return &configsImage{byRes: pmapOf(es)}, nil
}
