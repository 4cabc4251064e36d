package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
)

// Frame layout: see doc.go.
const (
	frameMagic      byte = 0xA7
	frameHeaderSize      = 10

	frameEntry     byte = 1
	frameHardState byte = 2
	frameSnapshot  byte = 3
	frameSync      byte = 4

	syncFrameSize = frameHeaderSize + 8

	// maxFramePayload bounds one frame (an entry, in practice) so a
	// length always fits the header and a segment stays addressable.
	maxFramePayload = 1 << 30

	markerSize      = 17
	markerFlagReset = 1
)

// frame is a decoded, verified frame. payload aliases the segment buffer.
type frame struct {
	typ     byte
	payload []byte
}

func (f frame) size() int { return frameHeaderSize + len(f.payload) }

// appendFrame appends a frame of type typ whose payload is written by fill
// into exactly n bytes.
func appendFrame(buf []byte, typ byte, n int, fill func([]byte) error) ([]byte, error) {
	if n > maxFramePayload {
		return buf, fmt.Errorf("storage: frame payload of %d bytes exceeds %d", n, maxFramePayload)
	}
	start := len(buf)
	buf = slices.Grow(buf, frameHeaderSize+n)[:start+frameHeaderSize+n]
	h, p := buf[start:start+frameHeaderSize], buf[start+frameHeaderSize:]
	if err := fill(p); err != nil {
		return buf[:start], err
	}
	h[0] = frameMagic
	h[1] = typ
	binary.LittleEndian.PutUint32(h[2:6], uint32(n))
	binary.LittleEndian.PutUint32(h[6:10], frameCRC(h, p))
	return buf, nil
}

func frameCRC(header, payload []byte) uint32 {
	return crc32.Update(crc32.Update(0, crcTable, header[1:6]), crcTable, payload)
}

func appendEntryFrame(buf []byte, e *raftpb.Entry) ([]byte, error) {
	return appendFrame(buf, frameEntry, e.Size(), func(p []byte) error {
		_, err := e.MarshalToSizedBuffer(p)
		return err
	})
}

func appendHardStateFrame(buf []byte, hs *raftpb.HardState) ([]byte, error) {
	return appendFrame(buf, frameHardState, hs.Size(), func(p []byte) error {
		_, err := hs.MarshalToSizedBuffer(p)
		return err
	})
}

// marker is a snapshot marker frame's payload: see doc.go.
type marker struct {
	index, term uint64
	reset       bool
}

func appendMarkerFrame(buf []byte, m marker) ([]byte, error) {
	return appendFrame(buf, frameSnapshot, markerSize, func(p []byte) error {
		binary.LittleEndian.PutUint64(p[0:8], m.index)
		binary.LittleEndian.PutUint64(p[8:16], m.term)
		p[16] = 0
		if m.reset {
			p[16] = markerFlagReset
		}
		return nil
	})
}

// appendSyncFrame appends a sync frame recording that the segment's bytes
// before synced are durable (see doc.go).
func appendSyncFrame(buf []byte, synced int64) []byte {
	buf, _ = appendFrame(buf, frameSync, 8, func(p []byte) error {
		binary.LittleEndian.PutUint64(p, uint64(synced))
		return nil
	})
	return buf
}

func decodeSync(p []byte) (int64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("sync frame of %d bytes, want 8", len(p))
	}
	v := binary.LittleEndian.Uint64(p)
	if v > maxSegmentBytes {
		return 0, fmt.Errorf("sync frame records offset %d, beyond any segment", v)
	}
	return int64(v), nil
}

// maxSegmentBytes bounds a sync frame's offset; no segment grows this big.
const maxSegmentBytes = 1 << 62

func decodeMarker(p []byte) (marker, error) {
	if len(p) != markerSize {
		return marker{}, fmt.Errorf("snapshot marker of %d bytes, want %d", len(p), markerSize)
	}
	if p[16]&^markerFlagReset != 0 {
		return marker{}, fmt.Errorf("snapshot marker has unknown flags %#x", p[16])
	}
	return marker{
		index: binary.LittleEndian.Uint64(p[0:8]),
		term:  binary.LittleEndian.Uint64(p[8:16]),
		reset: p[16]&markerFlagReset != 0,
	}, nil
}

// decodeFrame verifies the frame at data[off:]. It returns a non-empty
// reason when there is no valid frame there. It never reads outside data.
func decodeFrame(data []byte, off int) (frame, string) {
	rest := data[off:]
	if len(rest) < frameHeaderSize {
		return frame{}, fmt.Sprintf("truncated frame header (%d bytes left)", len(rest))
	}
	if rest[0] != frameMagic {
		return frame{}, fmt.Sprintf("bad frame magic %#02x", rest[0])
	}
	typ := rest[1]
	if typ < frameEntry || typ > frameSync {
		return frame{}, fmt.Sprintf("unknown frame type %d", typ)
	}
	n := binary.LittleEndian.Uint32(rest[2:6])
	if uint64(n) > uint64(len(rest)-frameHeaderSize) {
		return frame{}, fmt.Sprintf("frame length %d overruns the file (%d bytes left)", n, len(rest)-frameHeaderSize)
	}
	p := rest[frameHeaderSize : frameHeaderSize+int(n)]
	if got, want := frameCRC(rest, p), binary.LittleEndian.Uint32(rest[6:10]); got != want {
		return frame{}, fmt.Sprintf("frame checksum mismatch (crc32c %08x, header says %08x)", got, want)
	}
	return frame{typ: typ, payload: p}, ""
}

// badFrame is where a segment stops verifying.
type badFrame struct {
	offset int
	reason string
}

// scanSegment calls fn for each valid frame of data in order, until the
// first offset that holds no valid frame. end is the offset after the last
// valid frame. bad is nil when everything from end on is zero (clean end of
// log), else it describes the bad frame at end. fn's error stops the scan
// and is returned.
func scanSegment(data []byte, fn func(off int, f frame) error) (end int, bad *badFrame, err error) {
	off := 0
	for off < len(data) {
		f, reason := decodeFrame(data, off)
		if reason != "" {
			if lastNonZero(data[off:]) < 0 {
				return off, nil, nil
			}
			return off, &badFrame{offset: off, reason: reason}, nil
		}
		if err := fn(off, f); err != nil {
			return off, nil, err
		}
		off += f.size()
	}
	return off, nil, nil
}

// syncedPast looks at the valid frames from offset from on (skipping
// damage between them) for a sync frame recording that the bytes at off
// were fdatasync'ed, and returns its offset and the synced length it
// records; at is -1 when there is none.
func syncedPast(data []byte, from, off int) (at int, synced int64) {
	for from >= 0 && from < len(data) {
		f, reason := decodeFrame(data, from)
		if reason != "" {
			from = nextValidFrame(data, from+1)
			continue
		}
		if f.typ == frameSync {
			if s, err := decodeSync(f.payload); err == nil && s > int64(off) {
				return from, s
			}
		}
		from += f.size()
	}
	return -1, 0
}

// nextValidFrame returns the offset of the first valid frame at or after
// from, or -1.
func nextValidFrame(data []byte, from int) int {
	for from < len(data) {
		i := bytes.IndexByte(data[from:], frameMagic)
		if i < 0 {
			return -1
		}
		if _, reason := decodeFrame(data, from+i); reason == "" {
			return from + i
		}
		from += i + 1
	}
	return -1
}

// lastNonZero returns the index of the last non-zero byte of b, or -1.
func lastNonZero(b []byte) int {
	i := len(b)
	for ; i >= 8; i -= 8 { // a word at a time: preallocated segments are mostly zeros
		if binary.LittleEndian.Uint64(b[i-8:i]) != 0 {
			break
		}
	}
	for i--; i >= 0; i-- {
		if b[i] != 0 {
			return i
		}
	}
	return -1
}
