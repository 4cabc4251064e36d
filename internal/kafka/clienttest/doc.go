// Package clienttest drives YAKt's Kafka listener with real Kafka clients
// and checks what they see and change against the HTTP API: franz-go's kgo
// and kadm (in process), kcat (librdkafka) and kafka-python's
// KafkaAdminClient (as processes). Its benchmarks compare requests per
// second through the Kafka port and the HTTP port. It holds only tests;
// docs/kafka.md says which client versions they cover.
package clienttest
