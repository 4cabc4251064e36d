package raftnode

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// entryVersion is the first byte of every normal raft entry YAKt writes.
// An empty entry (the leader's no-op at the start of a term) has no bytes.
const entryVersion = 1

// proposal is one caller's payload inside a raft entry.
type proposal struct {
	id      uint64
	payload []byte
}

// encodeEntry packs proposals into one raft entry:
//
//	version byte, then per proposal: uvarint id, uvarint length, payload.
func encodeEntry(props []proposal) []byte {
	size := 1
	for _, p := range props {
		size += 2*binary.MaxVarintLen64 + len(p.payload)
	}
	buf := make([]byte, 1, size)
	buf[0] = entryVersion
	for _, p := range props {
		buf = binary.AppendUvarint(buf, p.id)
		buf = binary.AppendUvarint(buf, uint64(len(p.payload)))
		buf = append(buf, p.payload...)
	}
	return buf
}

var errBadEntry = errors.New("raftnode: malformed entry")

// decodeEntry is the inverse of encodeEntry. Payloads alias data.
func decodeEntry(data []byte) ([]proposal, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] != entryVersion {
		return nil, fmt.Errorf("%w: unknown version %d", errBadEntry, data[0])
	}
	var props []proposal
	rest := data[1:]
	for len(rest) > 0 {
		id, n := binary.Uvarint(rest)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad proposal id", errBadEntry)
		}
		rest = rest[n:]
		size, n := binary.Uvarint(rest)
		if n <= 0 || size > uint64(len(rest)-n) {
			return nil, fmt.Errorf("%w: bad payload length", errBadEntry)
		}
		rest = rest[n:]
		props = append(props, proposal{id: id, payload: rest[:size:size]})
		rest = rest[size:]
	}
	return props, nil
}

// EntryPayloads returns the payloads packed into a normal entry's data,
// in log order (none for the empty entry a leader appends when elected).
// Tools that read a data directory's log decode them with it.
func EntryPayloads(data []byte) ([][]byte, error) {
	props, err := decodeEntry(data)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(props))
	for i, p := range props {
		out[i] = p.payload
	}
	return out, nil
}
