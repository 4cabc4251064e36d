package kafka

import (
	"encoding/base64"
	"testing"

	"github.com/google/uuid"
)

// TestTopicID: a controller's UUID and a migrated topic's Kafka id (base64,
// as ZooKeeper's topic znode has it) are both the topic's 16 bytes.
func TestTopicID(t *testing.T) {
	u := uuid.New()
	if got := topicID(u.String()); got != [16]byte(u) {
		t.Errorf("topicID(%s) = %x", u, got)
	}
	kafkaID := base64.RawURLEncoding.EncodeToString(u[:])
	if got := topicID(kafkaID); got != [16]byte(u) {
		t.Errorf("topicID(%s) = %x, want %x", kafkaID, got, u[:])
	}
	for _, bad := range []string{"", "not-an-id", base64.RawURLEncoding.EncodeToString([]byte("short"))} {
		if got := topicID(bad); got != ([16]byte{}) {
			t.Errorf("topicID(%q) = %x, want zero", bad, got)
		}
	}
}
