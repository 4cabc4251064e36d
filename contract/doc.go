// Package contract is YAKt's HTTP API as Go types: every request body and
// answer of docs/api.md, the error codes with their HTTP statuses, and the
// record types answers carry. The server (internal/api, internal/controller)
// decodes and encodes these types and the Go client (package client) sends
// and receives them, so the two cannot drift apart; another front door (a
// Kafka-protocol listener, the CLI) speaks the same vocabulary.
//
// The JSON of every type here is the wire format: field names and
// omitempty rules must not change without changing docs/api.md.
//
// Records (Record, Broker, Topic, Partition, ...) are the metadata log's
// own types, named here so that callers need only this package.
//
// Optional request fields are pointers, so a request can say "absent" as
// JSON does; Int32 and Int64 make them in Go.
package contract
