package zkformat

import (
	"reflect"
	"testing"
)

// Golden broker registrations. Kafka's BrokerIdZNode.encode (called by
// KafkaZkClient.registerBroker with BrokerInfo) writes them: version 5
// from inter.broker.protocol.version 2.7 on, 4 from 0.10.0, 2 before;
// version 1 is from Kafka 0.8. The field order is a Java hash map's.
func TestParseBrokerGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		json string
		want Broker
	}{{
		name: "v5, Kafka 3.x with PLAINTEXT and SSL",
		json: `{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},` +
			`"endpoints":["PLAINTEXT://broker1.example.com:9092","SSL://broker1.example.com:9093"],"jmx_port":-1,` +
			`"rack":"rack-a","port":9092,"host":"broker1.example.com","version":5,"timestamp":"1700000000123"}`,
		want: Broker{ID: 1, Version: 5, Host: "broker1.example.com", Port: 9092, JMXPort: -1, Timestamp: 1700000000123, Rack: "rack-a",
			Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "broker1.example.com", 9092}, {"SSL", "SSL", "broker1.example.com", 9093}}},
	}, {
		name: "v5 with named listeners and supported features",
		json: `{"features":{"metadata.version":{"min_version":1,"max_version":19},"kraft.version":{"min_version":0,"max_version":1}},` +
			`"listener_security_protocol_map":{"CLIENT":"SASL_SSL","REPLICATION":"SSL"},` +
			`"endpoints":["CLIENT://10.0.0.1:9094","REPLICATION://10.0.0.1:9095"],"jmx_port":9999,` +
			`"port":-1,"host":null,"version":5,"timestamp":"1700000000000"}`,
		want: Broker{ID: 1, Version: 5, Host: "", Port: -1, JMXPort: 9999, Timestamp: 1700000000000,
			Endpoints: []Endpoint{{"CLIENT", "SASL_SSL", "10.0.0.1", 9094}, {"REPLICATION", "SSL", "10.0.0.1", 9095}},
			Features:  map[string][2]int16{"metadata.version": {1, 19}, "kraft.version": {0, 1}}},
	}, {
		name: "v4, the first PLAINTEXT endpoint is the legacy host and port",
		json: `{"listener_security_protocol_map":{"CLIENT":"SASL_PLAINTEXT","INTERNAL":"PLAINTEXT"},` +
			`"endpoints":["CLIENT://[2001:db8::1]:9092","INTERNAL://:9093"],"jmx_port":-1,"port":9093,"host":"","version":4,"timestamp":"1"}`,
		want: Broker{ID: 1, Version: 4, Host: "", Port: 9093, JMXPort: -1, Timestamp: 1,
			Endpoints: []Endpoint{{"CLIENT", "SASL_PLAINTEXT", "2001:db8::1", 9092}, {"INTERNAL", "PLAINTEXT", "", 9093}}},
	}, {
		name: "v2, listeners named after their protocol, no map",
		json: `{"version":2,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666",` +
			`"endpoints":["PLAINTEXT://host1:9092","SSL://host1:9093"]}`,
		want: Broker{ID: 1, Version: 2, Host: "host1", Port: 9092, JMXPort: 9999, Timestamp: 2233345666,
			Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "host1", 9092}, {"SSL", "SSL", "host1", 9093}}},
	}, {
		name: "v3 with a rack and a lower-case listener",
		json: `{"version":3,"host":"h","port":9092,"jmx_port":1,"timestamp":"5","endpoints":["plaintext://h:9092"],"rack":"dc1"}`,
		want: Broker{ID: 1, Version: 3, Host: "h", Port: 9092, JMXPort: 1, Timestamp: 5, Rack: "dc1",
			Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "h", 9092}}},
	}, {
		name: "v1, host and port only",
		json: `{"version":1,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666"}`,
		want: Broker{ID: 1, Version: 1, Host: "localhost", Port: 9092, JMXPort: 9999, Timestamp: 2233345666,
			Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "localhost", 9092}}},
	}, {
		name: "unknown fields ignored, no jmx_port or timestamp",
		json: `{"version":5,"endpoints":["PLAINTEXT://h:1"],"something_new":[1,{"x":2}],"tags":null}`,
		want: Broker{ID: 1, Version: 5, Host: "h", Port: 1, JMXPort: -1,
			Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "h", 1}}},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseBroker(1, []byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("parsed\n  %+v\nwant\n  %+v", got, c.want)
			}
			back, err := ParseBroker(1, EncodeBroker(got))
			if err != nil || !reflect.DeepEqual(back, got) {
				t.Fatalf("round trip: %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

// TestEncodeBrokerGolden: what EncodeBroker writes is what Kafka 3.x's
// BrokerIdZNode.encode writes for the same broker.
func TestEncodeBrokerGolden(t *testing.T) {
	b := Broker{ID: 2, JMXPort: -1, Timestamp: 1700000000123, Rack: "rack-a",
		Endpoints: []Endpoint{{"SSL", "SSL", "b2", 9093}, {"PLAINTEXT", "PLAINTEXT", "b2", 9092}}}
	sameJSON(t, EncodeBroker(b), `{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT","SSL":"SSL"},`+
		`"endpoints":["SSL://b2:9093","PLAINTEXT://b2:9092"],"jmx_port":-1,"rack":"rack-a","port":9092,"host":"b2","version":5,"timestamp":"1700000000123"}`)
	// No PLAINTEXT listener: Kafka writes a null host and port -1.
	b = Broker{Version: 4, JMXPort: 9999, Timestamp: 7,
		Endpoints: []Endpoint{{"CLIENT", "SASL_SSL", "::1", 9094}}}
	sameJSON(t, EncodeBroker(b), `{"listener_security_protocol_map":{"CLIENT":"SASL_SSL"},"endpoints":["CLIENT://[::1]:9094"],`+
		`"jmx_port":9999,"port":-1,"host":null,"version":4,"timestamp":"7"}`)
	b = Broker{Version: 5, JMXPort: -1, Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "h", 1}},
		Features: map[string][2]int16{"metadata.version": {1, 19}}}
	sameJSON(t, EncodeBroker(b), `{"features":{"metadata.version":{"min_version":1,"max_version":19}},`+
		`"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://h:1"],"jmx_port":-1,"port":1,"host":"h","version":5,"timestamp":"0"}`)
}

func TestParseBrokerErrors(t *testing.T) {
	const path = "/brokers/ids/3"
	for _, c := range []struct {
		name, json string
		says       []string
	}{
		{"not JSON", `{"version":5,`, []string{"malformed JSON"}},
		{"empty", ``, []string{"malformed JSON"}},
		{"array", `[1,2]`, []string{"malformed JSON"}},
		{"null", `null`, []string{"malformed JSON"}},
		{"trailing garbage", `{"version":5,"endpoints":["PLAINTEXT://h:1"]} x`, []string{"malformed JSON"}},
		{"unknown version", `{"version":9,"endpoints":["PLAINTEXT://h:1"]}`, []string{"unknown version 9 of a broker registration", "reads versions 1-5"}},
		{"version 0", `{"version":0,"host":"h","port":1}`, []string{"unknown version 0"}},
		{"no version", `{"endpoints":["PLAINTEXT://h:1"]}`, []string{`missing field "version"`}},
		{"version a string", `{"version":"5","endpoints":["PLAINTEXT://h:1"]}`, []string{`"version"`}},
		{"no endpoints", `{"version":5,"host":"h","port":1}`, []string{`missing field "endpoints"`}},
		{"empty endpoints", `{"version":5,"endpoints":[]}`, []string{"no address"}},
		{"endpoints not a list", `{"version":5,"endpoints":"PLAINTEXT://h:1"}`, []string{`"endpoints"`}},
		{"endpoint without listener", `{"version":5,"endpoints":["h:1"]}`, []string{"not LISTENER://host:port"}},
		{"endpoint without port", `{"version":5,"endpoints":["PLAINTEXT://h"]}`, []string{"not LISTENER://host:port"}},
		{"port too big", `{"version":5,"endpoints":["PLAINTEXT://h:70000"]}`, []string{"not a port"}},
		{"negative port", `{"version":5,"endpoints":["PLAINTEXT://h:-1"]}`, []string{"not a port"}},
		{"listener not in the map", `{"version":5,"endpoints":["CLIENT://h:1"],"listener_security_protocol_map":{"OTHER":"SSL"}}`,
			[]string{"no security protocol for listener CLIENT"}},
		{"named listener without a map", `{"version":2,"endpoints":["CLIENT://h:1"]}`, []string{"no security protocol for listener CLIENT"}},
		{"unknown protocol", `{"version":5,"endpoints":["CLIENT://h:1"],"listener_security_protocol_map":{"CLIENT":"TLS"}}`,
			[]string{"unknown security protocol"}},
		{"two protocols for a listener", `{"version":5,"endpoints":["CLIENT://h:1"],"listener_security_protocol_map":{"CLIENT":"SSL","client":"PLAINTEXT"}}`,
			[]string{"two security protocols"}},
		{"v1 without host", `{"version":1,"port":9092}`, []string{`missing field "host"`}},
		{"v1 without port", `{"version":1,"host":"h"}`, []string{`missing field "port"`}},
		{"v1 bad port", `{"version":1,"host":"h","port":-5}`, []string{"not a port"}},
		{"jmx_port a string", `{"version":5,"endpoints":["PLAINTEXT://h:1"],"jmx_port":"x"}`, []string{`"jmx_port"`}},
		{"timestamp not a number", `{"version":5,"endpoints":["PLAINTEXT://h:1"],"timestamp":"yesterday"}`, []string{`"timestamp"`}},
		{"rack a number", `{"version":5,"endpoints":["PLAINTEXT://h:1"],"rack":5}`, []string{`"rack"`}},
		{"feature without max", `{"version":5,"endpoints":["PLAINTEXT://h:1"],"features":{"f":{"min_version":1}}}`, []string{"missing max_version"}},
		{"feature range backwards", `{"version":5,"endpoints":["PLAINTEXT://h:1"],"features":{"f":{"min_version":3,"max_version":1}}}`, []string{"empty or negative"}},
		{"feature version too big", `{"version":5,"endpoints":["PLAINTEXT://h:1"],"features":{"f":{"min_version":1,"max_version":70000}}}`, []string{"16-bit"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := ParseBroker(3, []byte(c.json))
			if err == nil {
				t.Fatalf("parsed %+v, want an error", b)
			}
			wantError(t, err, path, c.says...)
		})
	}
}
