package zkformat

import (
	"reflect"
	"testing"
)

// Golden partition states: Kafka 3.x's TopicPartitionStateZNode.encode
// (the ZooKeeper-mode controller's leader and ISR changes, and the KRaft
// controller's dual write) writes leader_recovery_state only while a
// partition recovers.
func TestPartitionStateGolden(t *testing.T) {
	const path = "/brokers/topics/orders/partitions/0/state"
	for _, c := range []struct {
		name string
		json string
		want PartitionState
		enc  string // what the encoder writes, when not json
	}{
		{"steady", `{"controller_epoch":5,"leader":1,"version":1,"leader_epoch":7,"isr":[1,2,3]}`,
			PartitionState{Version: 1, Leader: 1, LeaderEpoch: 7, ISR: []int32{1, 2, 3}, ControllerEpoch: 5}, ""},
		{"recovering after an unclean election", `{"controller_epoch":6,"leader":3,"version":1,"leader_epoch":8,"isr":[3],"leader_recovery_state":1}`,
			PartitionState{Version: 1, Leader: 3, LeaderEpoch: 8, ISR: []int32{3}, ControllerEpoch: 6, LeaderRecoveryState: 1}, ""},
		{"offline: no leader, last ISR kept", `{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":2,"isr":[2]}`,
			PartitionState{Version: 1, Leader: -1, LeaderEpoch: 2, ISR: []int32{2}, ControllerEpoch: 1}, ""},
		{"no leader, empty ISR, unknown field", `{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":0,"isr":[],"extra":true}`,
			PartitionState{Version: 1, Leader: -1, ControllerEpoch: 1}, `{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":0,"isr":[]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParsePartitionState(path, []byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("parsed %+v, want %+v", got, c.want)
			}
			enc := c.enc
			if enc == "" {
				enc = c.json
			}
			sameJSON(t, EncodePartitionState(got), enc)
			back, err := ParsePartitionState(path, EncodePartitionState(got))
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip: %+v, %v", back, err)
			}
		})
	}
	// Version 0 in the struct means the current one.
	sameJSON(t, EncodePartitionState(PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2}}),
		`{"version":1,"leader":2,"leader_epoch":1,"controller_epoch":0,"isr":[2]}`)
}

func TestPartitionStateErrors(t *testing.T) {
	const path = "/brokers/topics/t/partitions/4/state"
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{"leader":1`, []string{"malformed JSON"}},
		{"unknown version", `{"version":2,"leader":1,"leader_epoch":0,"isr":[1],"controller_epoch":1}`, []string{"unknown version 2", "partition state", "reads version 1"}},
		{"no version", `{"leader":1,"leader_epoch":0,"isr":[1],"controller_epoch":1}`, []string{`missing field "version"`}},
		{"no leader", `{"version":1,"leader_epoch":0,"isr":[1],"controller_epoch":1}`, []string{`missing field "leader"`}},
		{"no leader_epoch", `{"version":1,"leader":1,"isr":[1],"controller_epoch":1}`, []string{`missing field "leader_epoch"`}},
		{"no isr", `{"version":1,"leader":1,"leader_epoch":0,"controller_epoch":1}`, []string{`missing field "isr"`}},
		{"null isr", `{"version":1,"leader":1,"leader_epoch":0,"isr":null,"controller_epoch":1}`, []string{`missing field "isr"`}},
		{"no controller_epoch", `{"version":1,"leader":1,"leader_epoch":0,"isr":[1]}`, []string{`missing field "controller_epoch"`}},
		{"leader a string", `{"version":1,"leader":"1","leader_epoch":0,"isr":[1],"controller_epoch":1}`, []string{`"leader"`}},
		{"leader -2", `{"version":1,"leader":-2,"leader_epoch":0,"isr":[1],"controller_epoch":1}`, []string{"not a broker id"}},
		{"negative leader_epoch", `{"version":1,"leader":1,"leader_epoch":-1,"isr":[1],"controller_epoch":1}`, []string{"negative"}},
		{"negative controller_epoch", `{"version":1,"leader":1,"leader_epoch":0,"isr":[1],"controller_epoch":-1}`, []string{"negative"}},
		{"duplicate in isr", `{"version":1,"leader":1,"leader_epoch":0,"isr":[1,2,1],"controller_epoch":1}`, []string{"listed twice"}},
		{"negative in isr", `{"version":1,"leader":1,"leader_epoch":0,"isr":[1,-3],"controller_epoch":1}`, []string{"not a broker id"}},
		{"leader outside isr", `{"version":1,"leader":3,"leader_epoch":0,"isr":[1,2],"controller_epoch":1}`, []string{"leader 3 is not in the ISR"}},
		{"unknown recovery state", `{"version":1,"leader":1,"leader_epoch":0,"isr":[1],"controller_epoch":1,"leader_recovery_state":2}`, []string{"leader_recovery_state"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParsePartitionState(path, []byte(c.json))
			if err == nil {
				t.Fatalf("parsed %+v, want an error", s)
			}
			wantError(t, err, path, c.says...)
		})
	}
}

// Golden /latest_producer_id_block: Kafka's ProducerIdBlockZNode.generateProducerIdBlockJson
// (ZkProducerIdManager, and the KRaft controller's dual write) writes the
// ids as strings.
func TestProducerIDBlock(t *testing.T) {
	const golden = `{"version":1,"broker":2,"block_start":"1000","block_end":"1999"}`
	b, err := ParseProducerIDBlock([]byte(golden))
	want := ProducerIDBlock{Version: 1, Broker: 2, Start: 1000, End: 1999}
	if err != nil || b != want {
		t.Fatalf("parsed %+v, %v; want %+v", b, err, want)
	}
	sameJSON(t, EncodeProducerIDBlock(b), golden)
	sameJSON(t, EncodeProducerIDBlock(ProducerIDBlock{Broker: 1, Start: 0, End: 999}), `{"version":1,"broker":1,"block_start":"0","block_end":"999"}`)
	if b, err := ParseProducerIDBlock([]byte(`{"version":1,"broker":2,"block_start":0,"block_end":9}`)); err != nil || b.End != 9 {
		t.Errorf("numbers for ids: %+v, %v", b, err)
	}
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{"version":1`, []string{"malformed JSON"}},
		{"unknown version", `{"version":2,"broker":2,"block_start":"0","block_end":"9"}`, []string{"unknown version 2", "producer id block"}},
		{"no broker", `{"version":1,"block_start":"0","block_end":"9"}`, []string{`missing field "broker"`}},
		{"no block_end", `{"version":1,"broker":2,"block_start":"0"}`, []string{`missing field "block_end"`}},
		{"no block_start", `{"version":1,"broker":2,"block_end":"9"}`, []string{`missing field "block_start"`}},
		{"block_end not a number", `{"version":1,"broker":2,"block_start":"0","block_end":"nine"}`, []string{`"block_end"`}},
		{"block_end beyond int64", `{"version":1,"broker":2,"block_start":"0","block_end":"9223372036854775808"}`, []string{`"block_end"`}},
		{"last id", `{"version":1,"broker":2,"block_start":"0","block_end":"9223372036854775807"}`, []string{"not a range"}},
		{"backwards", `{"version":1,"broker":2,"block_start":"10","block_end":"9"}`, []string{"not a range"}},
		{"negative", `{"version":1,"broker":2,"block_start":"-10","block_end":"9"}`, []string{"not a range"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := ParseProducerIDBlock([]byte(c.json))
			if err == nil {
				t.Fatalf("parsed %+v, want an error", b)
			}
			wantError(t, err, PathProducerIDBlock, c.says...)
		})
	}
}

// Golden /controller: Kafka 3.x's ControllerZNode.encode writes version 2;
// kraftControllerEpoch is -1 from a ZooKeeper-mode broker and the KRaft
// controller's epoch once a migrating KRaft controller claims the role.
// Version 1 is what Kafka before 3.4 wrote.
func TestController(t *testing.T) {
	for _, c := range []struct {
		json string
		want Controller
	}{
		{`{"version":2,"brokerid":1,"timestamp":"1700000000000","kraftControllerEpoch":-1}`,
			Controller{Version: 2, BrokerID: 1, Timestamp: 1700000000000, KRaftControllerEpoch: -1}},
		{`{"version":2,"brokerid":3000,"timestamp":"1700000000001","kraftControllerEpoch":4}`,
			Controller{Version: 2, BrokerID: 3000, Timestamp: 1700000000001, KRaftControllerEpoch: 4}},
		{`{"version":1,"brokerid":0,"timestamp":"1500000000000"}`,
			Controller{Version: 1, BrokerID: 0, Timestamp: 1500000000000, KRaftControllerEpoch: -1}},
	} {
		got, err := ParseController([]byte(c.json))
		if err != nil || got != c.want {
			t.Errorf("ParseController(%s) = %+v, %v; want %+v", c.json, got, err, c.want)
			continue
		}
		sameJSON(t, EncodeController(got), c.json)
	}
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{`, []string{"malformed JSON"}},
		{"unknown version", `{"version":3,"brokerid":1}`, []string{"unknown version 3", "controller"}},
		{"no brokerid", `{"version":2,"timestamp":"1"}`, []string{`missing field "brokerid"`}},
		{"bad kraftControllerEpoch", `{"version":2,"brokerid":1,"kraftControllerEpoch":-7}`, []string{"kraftControllerEpoch"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseController([]byte(c.json))
			wantError(t, err, PathController, c.says...)
		})
	}
}

// /controller_epoch is ControllerEpochZNode.encode's decimal text.
func TestControllerEpoch(t *testing.T) {
	if e, err := ParseControllerEpoch([]byte("17")); err != nil || e != 17 {
		t.Errorf("ParseControllerEpoch(17) = %d, %v", e, err)
	}
	if got := string(EncodeControllerEpoch(18)); got != "18" {
		t.Errorf("EncodeControllerEpoch(18) = %q", got)
	}
	for _, bad := range []string{"", "x", "1.5", "-1", " 3", "2147483648", `{"epoch":3}`} {
		_, err := ParseControllerEpoch([]byte(bad))
		if err == nil {
			t.Errorf("ParseControllerEpoch(%q) took it", bad)
			continue
		}
		wantError(t, err, PathControllerEpoch, "not a controller epoch")
	}
}

// /cluster/id is ClusterIdZNode.toJson's: the version is a string.
func TestClusterID(t *testing.T) {
	const golden = `{"version":"1","id":"m1Ze6AjGRwqarkcxJscgyQ"}`
	if id, err := ParseClusterID([]byte(golden)); err != nil || id != "m1Ze6AjGRwqarkcxJscgyQ" {
		t.Errorf("ParseClusterID = %q, %v", id, err)
	}
	sameJSON(t, EncodeClusterID("m1Ze6AjGRwqarkcxJscgyQ"), golden)
	if id, err := ParseClusterID([]byte(`{"version":1,"id":"abc"}`)); err != nil || id != "abc" {
		t.Errorf("numeric version: %q, %v", id, err)
	}
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{"version":"1","id":`, []string{"malformed JSON"}},
		{"unknown version", `{"version":"2","id":"abc"}`, []string{"unknown version", "cluster id"}},
		{"no version", `{"id":"abc"}`, []string{`missing field "version"`}},
		{"no id", `{"version":"1"}`, []string{`missing field "id"`}},
		{"empty id", `{"version":"1","id":""}`, []string{`missing field "id"`}},
		{"id a number", `{"version":"1","id":5}`, []string{`"id"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseClusterID([]byte(c.json))
			wantError(t, err, PathClusterID, c.says...)
		})
	}
}

// /migration is Kafka's MigrationZNode (version 0); Kafka creates it with
// -1 everywhere before a KRaft controller claims the migration.
func TestMigration(t *testing.T) {
	for _, c := range []struct {
		json string
		want Migration
	}{
		{`{"version":0,"kraft_controller_id":-1,"kraft_controller_epoch":-1,"kraft_metadata_offset":-1,"kraft_metadata_epoch":-1}`,
			Migration{KRaftControllerID: -1, KRaftControllerEpoch: -1, KRaftMetadataOffset: -1, KRaftMetadataEpoch: -1}},
		{`{"version":0,"kraft_controller_id":3000,"kraft_controller_epoch":7,"kraft_metadata_offset":123456789012,"kraft_metadata_epoch":7}`,
			Migration{KRaftControllerID: 3000, KRaftControllerEpoch: 7, KRaftMetadataOffset: 123456789012, KRaftMetadataEpoch: 7}},
	} {
		got, err := ParseMigration([]byte(c.json))
		if err != nil || got != c.want {
			t.Errorf("ParseMigration(%s) = %+v, %v; want %+v", c.json, got, err, c.want)
			continue
		}
		sameJSON(t, EncodeMigration(got), c.json)
	}
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{"version":0,`, []string{"malformed JSON"}},
		{"unknown version", `{"version":1,"kraft_controller_id":1,"kraft_controller_epoch":1,"kraft_metadata_offset":1,"kraft_metadata_epoch":1}`,
			[]string{"unknown version 1", "migration"}},
		{"no offset", `{"version":0,"kraft_controller_id":1,"kraft_controller_epoch":1,"kraft_metadata_epoch":1}`, []string{`missing field "kraft_metadata_offset"`}},
		{"no controller id", `{"version":0,"kraft_controller_epoch":1,"kraft_metadata_offset":1,"kraft_metadata_epoch":1}`, []string{`missing field "kraft_controller_id"`}},
		{"offset a string", `{"version":0,"kraft_controller_id":1,"kraft_controller_epoch":1,"kraft_metadata_offset":"1","kraft_metadata_epoch":1}`,
			[]string{`"kraft_metadata_offset"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseMigration([]byte(c.json))
			wantError(t, err, PathMigration, c.says...)
		})
	}
}

// /config/topics/<t> is ConfigEntityZNode.encode's: string values only.
func TestTopicConfig(t *testing.T) {
	const golden = `{"version":1,"config":{"retention.ms":"86400000","cleanup.policy":"compact"}}`
	c, err := ParseTopicConfig("orders", []byte(golden))
	want := map[string]string{"retention.ms": "86400000", "cleanup.policy": "compact"}
	if err != nil || !reflect.DeepEqual(c, want) {
		t.Fatalf("ParseTopicConfig = %v, %v; want %v", c, err, want)
	}
	sameJSON(t, EncodeTopicConfig(c), golden)
	sameJSON(t, EncodeTopicConfig(nil), `{"version":1,"config":{}}`)
	if c, err := ParseTopicConfig("orders", []byte(`{"version":1,"config":{}}`)); err != nil || c != nil {
		t.Errorf("empty config: %v, %v", c, err)
	}
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{"version":1,"config":`, []string{"malformed JSON"}},
		{"unknown version", `{"version":2,"config":{}}`, []string{"unknown version 2", "configuration"}},
		{"no config", `{"version":1}`, []string{`missing field "config"`}},
		{"a number value", `{"version":1,"config":{"retention.ms":5}}`, []string{`"config"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTopicConfig("orders", []byte(c.json))
			wantError(t, err, "/config/topics/orders", c.says...)
		})
	}
}
