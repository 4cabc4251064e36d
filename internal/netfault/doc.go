// Package netfault is a fault-injecting TCP network for tests: it stands
// between the nodes of a test cluster and breaks, slows or resets their
// connections on command (tc netem and iptables are not available here).
//
// # Topology
//
// NewNetwork takes every node's real peer listen address and starts one
// proxy per ordered pair of nodes: the proxy of the directed link i→j
// listens on 127.0.0.1:0 and forwards to j's real listener. Node i is
// given AddressBook(i), in which j maps to Addr(i, j), so every TCP
// connection node i dials to node j (the message stream and its handshake
// reply, and each snapshot stream) passes through the i→j proxy, and the
// link is identified by who dialed whom. A cluster of N nodes has N*(N-1)
// proxies. Both byte directions of a connection belong to the link of its
// dialer: the i→j link carries i's messages to j and j's replies on those
// connections, never j's own messages to i (those go through j→i).
//
// # Faults
//
// Drop(from, to) blackholes a link, like an iptables DROP rule: every byte
// read from either side of a connection through the link is discarded,
// nothing is forwarded, and neither side sees an error (writes keep
// succeeding until the kernel buffers fill). New connections are still
// accepted, so the dialer thinks it is connected, but they are never
// connected to the target: their connect is treated as lost with the rest.
// A half-close (EOF) during a drop is discarded too.
//
// Heal(from, to) and HealAll lift the blackhole. A TCP stream with a hole
// in it would hand the application garbage, so a connection that lost
// anything while dropped (bytes, an EOF, or its connect) never forwards
// again: Heal closes it on both sides and the transport redials. A
// connection that was idle through the drop is left alone and carries on.
//
// Partition, Isolate, OneWay and Bridge are built on Drop. Partition and
// Bridge describe all of the network's reachability, so they set the drop
// state of every link (healing links within a group); Isolate and OneWay
// only add drops.
//
// SetDelay(from, to, d, jitter) holds each chunk read from either side of
// a connection on the link for d plus a uniform draw from [-jitter,
// +jitter] (never less than zero) before writing it on; chunks of one
// connection direction keep their order, so a chunk drawn a shorter delay
// than its predecessor waits for it. Each direction queues at most 64
// chunks (queueChunks); when that is full the proxy stops reading until
// the oldest chunk is written, and TCP flow control pushes back on the
// sender, so memory stays bounded and the reader waits at most d+jitter.
// The delay applies to chunks read after the call.
//
// SetLoss(from, to, p) is packet loss as a TCP application sees it: with
// probability p per chunk read (either direction) the proxy resets the
// connection, closing both sides with SO_LINGER 0 so unread and in-flight
// data are lost and each side reads ECONNRESET or EOF. A kernel would
// retransmit a lost segment and the application would only see latency;
// what reaches raft is a broken connection, so that is what this injects.
// Chunk boundaries are whatever one read(2) on the proxy returns, so p is
// per chunk, not per message.
//
// SetAllDelay and SetAllLoss set every link; Links lists the links.
//
// # Randomness
//
// Loss and jitter draw from math/rand/v2 PCG sources derived from the seed
// given to NewNetwork, one per link, all guarded by the Network's mutex.
// A test should log its seed. Draws on one link are independent of
// traffic on the others, but which chunk gets which draw still depends on
// how the kernel splits the stream, so a seed replays a schedule closely,
// not bit for bit.
//
// # Lifetime and accounting
//
// Every goroutine (one accept loop per proxy; one reader and one writer
// per direction of each forwarded connection) is owned by the Network and
// Close stops and waits for all of them, closing every listener and
// connection. Stats and LinkStats count accepted connections, forwarded,
// delayed and blackholed bytes, resets injected by loss, connections
// closed by Heal and failed dials to a target: a test can show that its
// faults took effect (and that its traffic went through the proxies at
// all), and note what it survived.
//
// All methods are safe for concurrent use. Naming a link that does not
// exist (an unknown id, or from == to) is a programmer error and panics.
package netfault
