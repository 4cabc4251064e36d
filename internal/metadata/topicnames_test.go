package metadata

import (
	"strings"
	"testing"
)

// TestTopicNameCollision: replay refuses a topic whose name differs from an
// existing one only by '.' against '_' (so racing creates cannot both
// commit), the index survives a snapshot, and removing a topic frees its
// colliding names.
func TestTopicNameCollision(t *testing.T) {
	im := build(t, top("my.topic", "u-1"), top("other_x", "u-2"))
	for _, tt := range []struct {
		name, existing string
	}{
		{"my_topic", "my.topic"},
		{"other.x", "other_x"},
	} {
		replayed := im
		snap, err := DecodeSnapshot(EncodeSnapshot(im))
		if err != nil {
			t.Fatal(err)
		}
		for _, base := range []*Image{replayed, snap} {
			if got, ok := base.CollidingTopic(tt.name); !ok || got != tt.existing {
				t.Fatalf("CollidingTopic(%q) = %q, %v; want %q", tt.name, got, ok, tt.existing)
			}
			err := NewDelta(base).Replay(Record{Offset: 10, Timestamp: t0, Body: top(tt.name, "u-new")})
			if ReasonOf(err) != ReasonInvalidTopicName || !strings.Contains(err.Error(), tt.existing) {
				t.Fatalf("replay %q over %q: %v, want INVALID_TOPIC_NAME naming it", tt.name, tt.existing, err)
			}
		}
	}
	if _, ok := im.CollidingTopic("my.topic"); ok {
		t.Fatal("a topic collides with itself")
	}
	d := NewDelta(im)
	for _, r := range recsAt(3, rmTop("my.topic", "u-1"), top("my_topic", "u-3")) {
		if err := d.Replay(r); err != nil {
			t.Fatalf("after removing my.topic: %v", err)
		}
	}
}

// TestValidateTopicNameQuotesCharacters: a non-ASCII character is named
// as the client wrote it, not by its first UTF-8 byte.
func TestValidateTopicNameQuotesCharacters(t *testing.T) {
	err := ValidateTopicName("naïve")
	if err == nil || !strings.Contains(err.Message, "'ï'") || strings.Contains(err.Message, "Ã") {
		t.Fatalf("ValidateTopicName(naïve) = %v, want it to name 'ï'", err)
	}
}
