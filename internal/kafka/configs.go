package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// DescribeConfigs (32) and IncrementalAlterConfigs (44): topic and broker
// configs. A broker resource named "" is the cluster-wide default every
// broker inherits (Kafka's <default> entity).

func init() {
	register(&api{key: 32, minVersion: 0, maxVersion: 4, serve: serveDescribeConfigs})
	register(&api{key: 44, minVersion: 0, maxVersion: 1, controller: true, serve: serveIncrementalAlterConfigs})
}

// configResource maps a Kafka resource type to YAKt's; ok is false for a
// type YAKt has no configs of (broker loggers, client metrics, groups).
func configResource(t kmsg.ConfigResourceType, name string) (contract.ConfigResource, bool) {
	switch t {
	case kmsg.ConfigResourceTypeTopic:
		return contract.ConfigResource{Type: contract.ConfigResourceTopic, Name: name}, true
	case kmsg.ConfigResourceTypeBroker:
		return contract.ConfigResource{Type: contract.ConfigResourceBroker, Name: name}, true
	}
	return contract.ConfigResource{}, false
}

func unsupportedResource(t kmsg.ConfigResourceType) *string {
	msg := fmt.Sprintf("resource type %d (%s) has no configs here; topic (2) and broker (4) do", int8(t), t)
	return &msg
}

// configSource is contract's source as Kafka's ConfigSource.
func configSource(s string) kmsg.ConfigSource {
	switch s {
	case contract.ConfigSourceTopic:
		return kmsg.ConfigSourceDynamicTopicConfig
	case contract.ConfigSourceBroker:
		return kmsg.ConfigSourceDynamicBrokerConfig
	case contract.ConfigSourceClusterDefault:
		return kmsg.ConfigSourceDynamicDefaultBrokerConfig
	case contract.ConfigSourceDefault:
		return kmsg.ConfigSourceDefaultConfig
	}
	return kmsg.ConfigSourceUnknown
}

// configTypes are YAKt's config types as Kafka's (v3+); an enum is a
// string to Kafka.
var configTypes = map[metadata.ConfigType]kmsg.ConfigType{
	metadata.ConfigBoolean: kmsg.ConfigTypeBoolean,
	metadata.ConfigInt:     kmsg.ConfigTypeInt,
	metadata.ConfigLong:    kmsg.ConfigTypeLong,
	metadata.ConfigDouble:  kmsg.ConfigTypeDouble,
	metadata.ConfigEnum:    kmsg.ConfigTypeString,
	metadata.ConfigList:    kmsg.ConfigTypeList,
}

func serveDescribeConfigs(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range r.Resources {
		out := kmsg.NewDescribeConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		res, ok := configResource(rr.ResourceType, rr.ResourceName)
		if !ok {
			out.ErrorCode, out.ErrorMessage = errInvalidRequest, unsupportedResource(rr.ResourceType)
			resp.Resources = append(resp.Resources, out)
			continue
		}
		// Linearizable, as Metadata: a config a client just changed
		// through any node is what it reads back here. Every config is
		// read and the names filter here: Kafka leaves out a name it does
		// not know rather than failing the resource, and answers every
		// config for a null or an empty list alike.
		got, err := s.ctrl.DescribeConfigs(ctx, res, nil, false)
		if c := contract.CodeOf(err); c == contract.CodeNoLeader || c == contract.CodeNotReady {
			// No barrier without a leader: answer from the state this
			// node has applied, as Metadata does, rather than fail a read.
			got, err = s.ctrl.DescribeConfigs(ctx, res, nil, true)
		}
		if err != nil {
			out.ErrorCode, out.ErrorMessage = errorMessage(err)
			resp.Resources = append(resp.Resources, out)
			continue
		}
		var syns *synonyms
		if r.IncludeSynonyms {
			// The image the describe was read at, or a newer one.
			if img, err := s.ctrl.Image(ctx, true); err == nil {
				syns = &synonyms{res: res, own: img.Configs(res.Type, res.Name), cluster: img.Configs(contract.ConfigResourceBroker, "")}
			}
		}
		var want map[string]bool
		if len(rr.ConfigNames) > 0 {
			want = make(map[string]bool, len(rr.ConfigNames))
			for _, n := range rr.ConfigNames {
				want[n] = true
			}
		}
		for _, e := range got.Configs {
			if want != nil && !want[e.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			c.Name, c.Value = e.Name, e.Value
			c.ReadOnly, c.IsSensitive = e.ReadOnly, e.Sensitive
			c.Source = configSource(e.Source)
			c.IsDefault = e.Source == contract.ConfigSourceDefault // v0's only source information
			if key, ok := metadata.LookupConfigKey(res.Type, e.Name); ok {
				c.ConfigType = configTypes[key.Type]
				if r.IncludeDocumentation {
					doc := key.Doc
					c.Documentation = &doc
				}
			}
			if r.IncludeSynonyms && syns != nil {
				c.ConfigSynonyms = syns.of(e)
			}
			out.Configs = append(out.Configs, c)
		}
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}

// alterOps maps Kafka's IncrementalAlterConfigs operations.
var alterOps = map[kmsg.IncrementalAlterConfigOp]string{
	kmsg.IncrementalAlterConfigOpSet:      contract.ConfigOpSet,
	kmsg.IncrementalAlterConfigOpDelete:   contract.ConfigOpDelete,
	kmsg.IncrementalAlterConfigOpAppend:   contract.ConfigOpAppend,
	kmsg.IncrementalAlterConfigOpSubtract: contract.ConfigOpSubtract,
}

func serveIncrementalAlterConfigs(ctx context.Context, s *Server, h Header, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	// A resource named twice is refused both times, as Kafka's controller
	// does: which of the two should win is not the server's to guess.
	type key struct {
		t    kmsg.ConfigResourceType
		name string
	}
	seen := map[key]int{}
	for _, rr := range r.Resources {
		seen[key{rr.ResourceType, rr.ResourceName}]++
	}
	for _, rr := range r.Resources {
		out := kmsg.NewIncrementalAlterConfigsResponseResource()
		out.ResourceType, out.ResourceName = rr.ResourceType, rr.ResourceName
		out.ErrorCode, out.ErrorMessage = alterOne(ctx, s, rr, r.ValidateOnly, seen[key{rr.ResourceType, rr.ResourceName}] > 1)
		resp.Resources = append(resp.Resources, out)
	}
	return resp, nil
}

// alterOne applies one resource's ops in one atomic batch.
func alterOne(ctx context.Context, s *Server, rr kmsg.IncrementalAlterConfigsRequestResource, validateOnly, dup bool) (int16, *string) {
	invalid := func(format string, args ...any) (int16, *string) {
		msg := fmt.Sprintf(format, args...)
		return errInvalidRequest, &msg
	}
	if dup {
		return invalid("resource %s %q appears more than once in the request", rr.ResourceType, rr.ResourceName)
	}
	res, ok := configResource(rr.ResourceType, rr.ResourceName)
	if !ok {
		return errInvalidRequest, unsupportedResource(rr.ResourceType)
	}
	areq := contract.AlterConfigsRequest{ValidateOnly: validateOnly, Ops: make([]contract.ConfigOp, 0, len(rr.Configs))}
	names := map[string]bool{}
	for _, c := range rr.Configs {
		op, ok := alterOps[c.Op]
		if !ok {
			return invalid("config %q: unknown operation %d; 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT", c.Name, int8(c.Op))
		}
		if names[c.Name] {
			return invalid("config %q appears more than once for %s %q", c.Name, rr.ResourceType, rr.ResourceName)
		}
		names[c.Name] = true
		areq.Ops = append(areq.Ops, contract.ConfigOp{Name: c.Name, Op: op, Value: c.Value})
	}
	_, _, err := s.ctrl.AlterConfigs(ctx, res, areq)
	return errorMessage(err)
}

// synonyms lists, for DescribeConfigs v1+, every value a config could
// take from, most specific first, as Kafka does: the resource's own
// setting, the cluster default it inherits (for a topic config, the
// broker configs it inherits, by their names), and the built-in default.
type synonyms struct {
	res          contract.ConfigResource
	own, cluster map[string]string
}

func (sy *synonyms) of(e contract.ConfigEntry) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	out := []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{}
	add := func(name, value string, src kmsg.ConfigSource) {
		syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		syn.Name, syn.Source = name, src
		if !e.Sensitive {
			syn.Value = &value
		}
		out = append(out, syn)
	}
	if v, ok := sy.own[e.Name]; ok {
		src := kmsg.ConfigSourceDynamicTopicConfig
		switch {
		case sy.res.Type == contract.ConfigResourceBroker && sy.res.Name == "":
			src = kmsg.ConfigSourceDynamicDefaultBrokerConfig
		case sy.res.Type == contract.ConfigResourceBroker:
			src = kmsg.ConfigSourceDynamicBrokerConfig
		}
		add(e.Name, v, src)
	}
	key, ok := metadata.LookupConfigKey(sy.res.Type, e.Name)
	switch {
	case sy.res.Type == contract.ConfigResourceTopic && ok:
		for _, bs := range key.Synonyms {
			if v, ok := sy.cluster[bs.Name]; ok {
				add(bs.Name, v, kmsg.ConfigSourceDynamicDefaultBrokerConfig)
			}
		}
	case sy.res.Type == contract.ConfigResourceBroker && sy.res.Name != "":
		if v, ok := sy.cluster[e.Name]; ok {
			add(e.Name, v, kmsg.ConfigSourceDynamicDefaultBrokerConfig)
		}
	}
	if ok && key.HasDefault {
		add(e.Name, key.Default, kmsg.ConfigSourceDefaultConfig)
	}
	return out
}
