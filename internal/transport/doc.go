// Package transport carries raft messages (raftpb.Message) between YAKt
// nodes over TCP, on a peer listener of its own, separate from the HTTP
// listener.
//
// # Contract
//
// Send never blocks: it routes each message by m.To into a per-peer
// queue and returns. Delivery is best effort, as raft expects: a message
// may be dropped (queue full, peer down, connection broken mid-batch) and
// the drop is reported through OnUnreachable; raft retransmits. Messages
// that are delivered arrive in the order Send saw them, per sender, on the
// message stream. The receiver calls Handler for each message, in order
// per connection, from that connection's goroutine.
//
// A MsgSnap is not queued behind heartbeats and appends, nor are they
// queued behind it: it travels on its own connection, and its outcome is
// reported exactly once through OnSnapshotStatus (failed=false means the
// receiver acknowledged that all the data arrived intact, not that it was
// applied; raft learns that from the follower's next response).
//
// Close stops every goroutine the transport started and waits for them
// (Handler and RequestHandler calls in progress included: the latter's
// contexts end at Close); no callback runs once it has
// returned, short of a Send racing with it.
//
// # Connections
//
// Each node dials each peer in its peer set (Config.Peers at New, then
// as SetPeer and RemovePeer change it; see Membership):
//
//   - one long-lived message stream, redialed with exponential backoff
//     (50ms doubling to 2s, each wait jittered into [d/2, d]) whenever it
//     fails; while it is down, queued messages are discarded and
//     OnUnreachable is called once per failed attempt;
//   - one snapshot stream per MsgSnap, dialed on demand and closed after
//     the receiver's ack, so a large snapshot never holds up heartbeats;
//   - one request stream, dialed when the first Request to that peer is
//     made and kept open (redialed by the next Request after it fails):
//     a follower forwards its clients' writes to the leader on it (see
//     Forwarded requests below). It is a stream of its own so that an
//     answer being written never delays raft's heartbeats and appends,
//     and they never delay an answer.
//
// The acceptor runs one reader goroutine per inbound connection. The
// acceptor never writes on a message stream after the handshake, so the
// dialer keeps a read pending on it: when it returns, the peer is gone
// (restarted, or replaced the stream) and the dialer reconnects without
// waiting for a write to fail. A new message stream from a peer closes
// the older one from the same peer, unless it comes from another
// incarnation (below).
//
// # Incarnations
//
// Every Transport draws a random 64-bit incarnation when it starts
// (Config.Incarnation) and sends it in each hello. It is never stored, so
// two processes claiming one node id differ in it even when one runs on a
// copy of the other's data directory. An acceptor that holds a live
// message stream from node N of incarnation A refuses (ack 4) a hello
// claiming N with incarnation B, logging both remote addresses and
// incarnations (an error, once a minute per node, when A's stream
// delivered a frame within max(5 × KeepaliveInterval, 500ms); at info
// when it has gone quiet, as after a restart whose old connection has not
// closed yet), and counts it in Stats. The refused dialer warns, logs an
// error once the refusals outlast what a restart explains, and keeps
// redialing with backoff. "Live" means the stream delivered a frame within
// max(10 × KeepaliveInterval, 3s): senders write a keepalive frame on an
// idle message stream every KeepaliveInterval, so only a process that is
// gone, stopped or cut off falls silent. A genuine restart of N is
// therefore accepted at once when its predecessor's connection closed
// (the usual case: the kernel closes a dead process's sockets), and at
// most that silence threshold later when it did not (a host that lost
// power). Snapshot and fetch streams are refused the same way
// (FetchSnapshot, made before a node's Transport runs, sends incarnation
// 0, so a node recovering its snapshot is refused while another process
// of its id is connected). Without
// this, two such processes would take turns replacing each other's
// stream many times a second.
//
// Senders write every queued message (up to 1024) through one 64 KiB
// buffered writer and flush once per batch; Nagle stays off (Go's default),
// as the batching is done here. Every flush and every snapshot chunk has a
// write deadline (5s and 10s) so a stuck peer cannot wedge a sender; a
// snapshot receiver has a 10s deadline on each read. Message streams have
// no read deadline, since raft may legitimately be quiet; TCP keepalive
// (15s) notices a vanished host.
//
// # Membership
//
// The peer set changes while the transport runs. SetPeer adds a peer
// (starting its message and snapshot senders) or moves one to a new
// address: its outbound connections close and the next dial goes to the
// new address, at once rather than after a backoff (messages queued
// meanwhile may be dropped; raft retransmits). A dial that was already
// under way to the old address is discarded when it completes. RemovePeer
// stops the peer's senders and request stream and returns once their
// goroutines have exited; its queues are dropped, Send treats it as an
// unknown node (dropped, logged once) and Request refuses it with
// ErrRequestNotRun. Peers returns the current set. After Close all three
// do nothing. Inbound connections are not limited to the peer set: a
// node being added may dial in before it is known here.
//
// Which nodes may connect is Config.Admit's decision. Each node sends
// its data directory id (random, drawn when the directory is formatted)
// and its peer address in every hello; every hello that passed the
// cluster and node id checks, of every stream kind, is passed to Admit
// before anything from the connection is delivered, and an error refuses
// it with ack 5 and the error's text as the reason. That is how a node
// whose disk was wiped, which comes back under its old id with a new
// directory id, is kept from being taken for the old member. Both sides
// warn, once a minute per peer and reason; the dialer's error wraps
// ErrNotAdmitted and carries the reason, and it keeps redialing with
// backoff. An admission holds for the connection's life: when membership
// changes what Admit answers, Revoke(id) closes every inbound connection
// from id, so its next hello is admitted again (a hello being admitted
// while Revoke runs is admitted again too).
//
// # Forwarded requests
//
// Request sends an HTTP-like request (method, path and query, the header
// fields the caller chose, body) to a peer, which runs it through the
// RequestHandler set with SetRequestHandler and sends back the answer
// (status, header fields, body), matched by a request id; the caller's
// deadline travels with it, and a caller that stops waiting sends a
// cancel frame, so the peer stops too. Each request is one frame each
// way: no extra round trip, no HTTP parsing, and concurrent requests
// share the connection, their frames batched into one write.
//
// What a caller may conclude is the point. An error wrapping
// ErrRequestNotRun proves the peer did not run the request, so it may be
// sent again: the frame was never written (no connection, the caller's
// context ended while it waited for a slot, the stream failed first), the
// peer refused it unrun (no handler), or it was never attempted because
// the peer is silent (nothing, not even a keepalive, for max(5 ×
// KeepaliveInterval, 500ms), as from a leader that is partitioned or
// paused) or has already closed the stream (a peek before writing: a
// stopped or restarted peer would otherwise be sent a request it can
// never read, whose outcome could not be known). Once the frame has been
// written, a broken connection or a caller's deadline means the outcome
// is unknown, and the error says so by not wrapping ErrRequestNotRun.
//
// Bounds: a request frame is at most 2 MiB (the API's bodies are at most
// 1 MiB); an answer frame at most 64 MiB, and a handler's answer beyond it
// is sent as "failed" (no write's answer comes near it: the largest, a
// topic of the most partitions one request may create, is about 1 MiB).
// At most 1024 requests are unanswered per stream: a caller beyond that
// waits for a slot (bounded by its context), and a serving side that sees
// more closes the stream as a protocol error, so a peer cannot make it run
// unbounded goroutines. A slot is freed by the answer, never by the
// caller leaving, since the peer may still be running the request.
//
// # Wire format (version 6)
//
// All integers are big-endian. A dialer opens every connection with a
// hello:
//
//	magic      4 bytes  "YAKT"
//	version    1 byte   6
//	stream     1 byte   1 = message, 2 = snapshot, 3 = fetch, 4 = request
//	from       8 bytes  dialer's node id
//	to         8 bytes  node id the dialer means to reach
//	incarnation 8 bytes dialer's incarnation
//	clusterLen 2 bytes, cluster id   (at most 1024 bytes)
//	httpLen    2 bytes, dialer's advertised HTTP address (at most 1024 bytes)
//	dirID      16 bytes dialer's data directory id (all zero: unknown)
//	peerLen    2 bytes, dialer's advertised peer address (at most 1024 bytes)
//	kafkaLen   2 bytes, dialer's advertised Kafka address (at most 1024 bytes; empty: none)
//
// The acceptor answers with one byte: 0 ok, 1 cluster id mismatch, 2 node
// id refused (to is not the acceptor, or from is 0 or the acceptor's own
// id), 3 unsupported version, 4 another incarnation of from is connected
// (the dialer's error wraps ErrDuplicateNode), 5 not admitted (Admit
// refused it), which alone is followed by a reason: 2-byte length and at
// most 256 bytes of text (the dialer's error wraps ErrNotAdmitted and
// quotes it). After a refusal it closes the connection; on a cluster
// mismatch it logs a warning naming both cluster ids, and the dialer's
// error wraps ErrClusterMismatch. A hello with bad magic or malformed
// fields is not answered: the connection is just closed. The dialer
// allows DialTimeout for the TCP dial and again for the handshake; the
// acceptor allows 5s for the hello.
//
// Version 5 is the same hello without kafkaLen, and version 4 has no
// dirID and peerLen either, nor ack 5. So that a cluster can be upgraded
// one node at a time, both directions work with the previous release
// (version 5): an acceptor takes a version 5 or 4 hello (the peer then has
// no Kafka address; with 4, Admit sees directory id zero and peer address
// ""), and a dialer whose version 6 hello a peer refuses with ack 3
// redials it at once in version 5 and keeps speaking version 5 to that
// peer for 5 minutes before it tries version 6 again (one refused dial
// each time, so an upgraded peer is spoken to in version 6 within
// minutes). A FetchSnapshot refused with ack 3 is retried in version 5 the
// same way.
// Older versions (1: no incarnation, no keepalives; 2: no checksum after
// snapshot data; 3: no request stream) are refused with ack 3 and not
// spoken: a node of one of them cannot join a cluster of this release.
//
// A message stream then carries frames, dialer to acceptor only:
//
//	length 4 bytes, raftpb.Message (Marshal), at most 64 MiB
//
// A frame of length 0 is a keepalive and carries no message.
//
// A snapshot stream carries records, each acked by the acceptor:
//
//	length 4 bytes, raftpb.Message of type MsgSnap with Snapshot.Data empty
//	dataLen 8 bytes
//	data    dataLen bytes
//	crc     4 bytes, crc32c(data)
//	                                  <- ack 1 byte (0) once the sink returned
//
// Raft's snapshot carries no data in memory: the sender opens it with
// Config.OpenSnapshot (a file) and streams it through one 1 MiB buffer,
// and the receiver streams it into Config.SnapshotSink (a temp file),
// which sees an error instead of io.EOF unless the checksum matches; only
// once the sink returned (raftnode decodes the snapshot in it; the sender
// waits up to 2 minutes for the ack) is the record acked and Handler called, with the sink's token as
// Snapshot.Data. Memory stays bounded whatever the size. A source whose
// own checksum fails at the end aborts the send before the crc is
// written, so the receiver never acks damaged data. Without those
// callbacks (tests) the data travels in Snapshot.Data, capped at 1 GiB on
// receipt.
//
// A fetch stream (FetchSnapshot, served by Config.SnapshotSource) is one
// request and one answer, then the acceptor closes it. It serves a node
// that cannot start raft because its snapshot is lost (see raftnode):
//
//	dialer:    minIndex 8 bytes
//	acceptor:  0 (ok) | metaLen 4 bytes, raftpb.SnapshotMetadata |
//	           dataLen 8 bytes | data | crc32c(data) 4 bytes
//	       or  1 (unavailable) | have 8 bytes | leader 8 bytes
//
// The asker waits up to 30s for the answer's first byte (the peer may
// take a snapshot on demand), then 10s per read; it checks that the
// snapshot is at least minIndex before streaming the data into its sink,
// and the CRC at the end. A peer older than this stream
// closes the connection after the hello, which the asker sees as an error.
//
// A request stream carries frames both ways, after the hello:
//
//	length 4 bytes, of what follows (at most 2 MiB towards the acceptor,
//	       64 MiB back)
//	kind   1 byte
//	id     8 bytes, chosen by the dialer, unique among its unanswered requests
//
// then, by kind:
//
//	1 request  (dialer)   budget 4 bytes (milliseconds left of the caller's
//	                      deadline, 0 none) | methodLen 1 byte, method |
//	                      uriLen 2 bytes, path and query | header | body (the rest)
//	2 cancel   (dialer)   nothing: the caller gave up on request id
//	3 answer   (acceptor) status 2 bytes | header | body (the rest)
//	4 not run  (acceptor) reason (the rest): refused without running it
//	5 failed   (acceptor) reason (the rest): the handler failed; outcome unknown
//
//	header: count 1 byte, then per field nameLen 1 byte, name,
//	        valueLen 2 bytes, value (a name with several values repeats)
//
// Every request is answered exactly once (3, 4 or 5), cancelled or not.
// An answer for an id that is not pending, a repeated id, a request
// beyond the in-flight bound, or a truncated field is a protocol error.
//
// Every message must say From = the hello's from and To = the acceptor.
// Any violation — an oversized length, bytes that do not unmarshal, a
// misaddressed message, a MsgSnap without snapshot on a snapshot stream —
// closes that connection with a warning; nothing from it after the fault
// is delivered, and the rest of the transport carries on. Decoding never
// panics on input (FuzzReadStream).
//
// # Learned state
//
// PeerHTTPAddr is what a peer advertised in its latest inbound hello, so
// a follower can still forward HTTP requests to the leader (the API's
// HTTP hop, kept as a fallback); PeerKafkaAddr likewise, so every node
// lists every other's Kafka listener in Kafka's Metadata. PeerInfo adds the directory id and peer
// address of the latest admitted hello: how raftnode learns a new
// member's address and checks its directory id. LastContact is when
// the last message (of either stream) from that peer arrived; LastHeard
// also counts keepalives, so it shows that the peer's process is up and
// connected even when raft has nothing to say.
//
// # TLS
//
// With Config.TLS every connection, of every stream kind and in both
// directions, runs over mutual TLS (TLS 1.2 at least); the protocol above
// runs unchanged inside it. The dialer wraps the TCP connection at once
// and allows DialTimeout for the TLS handshake, then again for the hello;
// it accepts only a certificate of the cluster CA that names the node it
// dials (certs.NodeName), so an address taken over by another node is
// not spoken to. The acceptor's 5s cover the TLS handshake and the hello.
// It requires a client certificate of the cluster CA naming a node of
// the cluster, and refuses (ack 5, reason "certificate names node 2,
// hello claims node 3") a hello whose from is not the node the
// certificate names: a node's certificate is its identity, the hello
// only its claim. A failed TLS handshake (no certificate, another CA,
// expired) is answered only by the TLS alert; plain TCP to a TLS port is
// answered with ack 5 in the plain protocol ("requires TLS") so the
// misconfigured node logs why. A connection closed before its first byte
// (a port probe) is no refusal. Each TLS refusal is logged at warning level once a minute per
// remote host (per node and reason for an identity mismatch), counted in
// Stats.RefusedTLS, and reported to Config.OnTLSRefused; nothing from the
// connection is delivered.
//
// The certificates are read at each handshake, so a rotation (see
// certs.Files.Reload) applies to new connections while the established
// ones carry on. Closing a TLS connection closes the TCP connection
// without a close_notify alert: every stream is framed, so a cut is seen
// anyway, and Close never waits for a peer that stopped reading.
//
// # Non-goals
//
// Without TLS there is no authentication: the cluster id and Admit guard
// against misconfiguration and stale nodes, not attackers (a directory id
// and an address are the peer's word); run a plain peer port only on a
// trusted network. With TLS, Admit still decides membership: a valid
// certificate of a removed node is refused by Admit, not by TLS.
package transport
