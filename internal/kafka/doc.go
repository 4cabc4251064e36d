// Package kafka serves a subset of the Kafka wire protocol on its own
// listener (yakt server --listen-kafka), so Kafka's own tools and clients
// (kcat, franz-go, kafka-python, librdkafka) read and change YAKt's
// metadata unchanged. It is an edge like the HTTP API: every request ends
// in the same controller operation the API runs, and every controller
// error maps to the Kafka error code a Kafka client expects.
//
// Requests and responses are encoded by franz-go's kmsg; this package
// reads the frame and the request header itself. docs/kafka.md lists
// every API with its versions.
package kafka
