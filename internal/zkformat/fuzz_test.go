package zkformat

import (
	"errors"
	"reflect"
	"testing"
)

// The fuzz targets hold the parsers to two promises: any bytes give a
// value or a *Error naming the znode (never a panic), and whatever parses
// encodes to JSON that parses back to the same value.

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		`{"partitions":{"0":[1,2,3],"1":[2,3,1]},"topic_id":"fD755B9bS4qdDipsGz9dcQ","adding_replicas":{},"removing_replicas":{},"version":3}`,
		`{"partitions":{"0":[1,2],"1":[2,4,3]},"topic_id":"--P5v_8ATz6-Tg0cKzpJWA","adding_replicas":{"1":[4]},"removing_replicas":{"1":[3]},"version":3}`,
		`{"version":1,"partitions":{"0":[1]}}`,
		`{"version":2,"partitions":{"0":[1]},"adding_replicas":{"0":[]}}`,
		`{"version":3,"partitions":{"0":[1,1]}}`,
		`not json`,
	} {
		f.Add("orders", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		tp, err := ParseTopic(name, data)
		if err != nil {
			checkError(t, err, TopicPath(name))
			return
		}
		back, err := ParseTopic(name, EncodeTopic(tp))
		if err != nil {
			t.Fatalf("%s parsed as %+v, whose encoding %s does not parse: %v", data, tp, EncodeTopic(tp), err)
		}
		if !reflect.DeepEqual(back, tp) {
			t.Fatalf("%s parsed as %+v, round trip gave %+v", data, tp, back)
		}
	})
}

func FuzzParseBroker(f *testing.F) {
	for _, s := range []string{
		`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},"endpoints":["PLAINTEXT://b:9092","SSL://b:9093"],"jmx_port":-1,"rack":"r","port":9092,"host":"b","version":5,"timestamp":"1700000000123"}`,
		`{"features":{"metadata.version":{"min_version":1,"max_version":19}},"listener_security_protocol_map":{"CLIENT":"SASL_SSL"},"endpoints":["CLIENT://[::1]:9094"],"jmx_port":9999,"port":-1,"host":null,"version":5,"timestamp":"7"}`,
		`{"version":2,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666","endpoints":["PLAINTEXT://host1:9092","SSL://host1:9093"]}`,
		`{"version":1,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666"}`,
		`{"version":4,"endpoints":["a://b://:1"],"listener_security_protocol_map":{"A://B":"SSL"}}`,
		`{"version":3,"endpoints":["PLAINTEXT://h:1"],"rack":"dc1"}`,
	} {
		f.Add(int32(1), []byte(s))
	}
	f.Fuzz(func(t *testing.T, id int32, data []byte) {
		b, err := ParseBroker(id, data)
		if err != nil {
			checkError(t, err, BrokerPath(id))
			return
		}
		if len(b.Endpoints) == 0 {
			t.Fatalf("%s parsed without endpoints", data)
		}
		back, err := ParseBroker(id, EncodeBroker(b))
		if err != nil {
			t.Fatalf("%s parsed as %+v, whose encoding %s does not parse: %v", data, b, EncodeBroker(b), err)
		}
		if !reflect.DeepEqual(back, b) {
			t.Fatalf("%s parsed as %+v, round trip through %s gave %+v", data, b, EncodeBroker(b), back)
		}
	})
}

func FuzzParsePartitionState(f *testing.F) {
	for _, s := range []string{
		`{"controller_epoch":5,"leader":1,"version":1,"leader_epoch":7,"isr":[1,2,3]}`,
		`{"controller_epoch":6,"leader":3,"version":1,"leader_epoch":8,"isr":[3],"leader_recovery_state":1}`,
		`{"controller_epoch":1,"leader":-1,"version":1,"leader_epoch":0,"isr":[]}`,
		`{"controller_epoch":1,"leader":4,"version":1,"leader_epoch":0,"isr":[1]}`,
	} {
		f.Add([]byte(s))
	}
	const path = "/brokers/topics/t/partitions/0/state"
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParsePartitionState(path, data)
		if err != nil {
			checkError(t, err, path)
			return
		}
		back, err := ParsePartitionState(path, EncodePartitionState(s))
		if err != nil {
			t.Fatalf("%s parsed as %+v, whose encoding does not parse: %v", data, s, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("%s parsed as %+v, round trip gave %+v", data, s, back)
		}
	})
}

func checkError(t *testing.T, err error, path string) {
	t.Helper()
	var ze *Error
	if !errors.As(err, &ze) || ze.Path != path {
		t.Fatalf("error %v (%T) does not name %s", err, err, path)
	}
}
