package controller

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/yakt/yakt/contract"
	"github.com/yakt/yakt/internal/metadata"
)

// MaxConfigOps bounds one AlterConfigsRequest: far more than the known
// configs, so only a malformed request reaches it.
const MaxConfigOps = 1000

// DescribeConfigs returns res's effective configs: those set on it, then
// inherited ones and YAKt's defaults; names limits the answer (nil: all).
// A topic must exist (TOPIC_NOT_FOUND); a broker id need not be
// registered, as in Kafka. An unknown name in names is INVALID_CONFIG.
func (c *Controller) DescribeConfigs(ctx context.Context, res contract.ConfigResource, names []string, stale bool) (contract.ResourceConfigs, error) {
	if err := checkConfigResource(res); err != nil {
		return contract.ResourceConfigs{}, err
	}
	for _, n := range names {
		if _, ok := metadata.LookupConfigKey(res.Type, n); !ok {
			return contract.ResourceConfigs{}, metadata.UnknownConfigError(res.Type, n)
		}
	}
	img, err := c.Image(ctx, stale)
	if err != nil {
		return contract.ResourceConfigs{}, err
	}
	if res.Type == contract.ConfigResourceTopic {
		if _, ok := img.Topic(res.Name); !ok {
			return contract.ResourceConfigs{}, topicNotFound(res.Name)
		}
	}
	return describeConfigs(img, res, names), nil
}

// AlterConfigs applies req's ops to res in one atomic batch (or only
// validates them) and returns the configs after it and its log offset.
// Every op is checked before anything is written: one bad op applies
// nothing. Ops that change nothing write nothing; the answer is then the
// current configs and the offset they were read at. ValidateOnly answers
// what the configs would be, reading linearizably, and writes nothing.
func (c *Controller) AlterConfigs(ctx context.Context, res contract.ConfigResource, req contract.AlterConfigsRequest) (contract.ResourceConfigs, int64, error) {
	if err := checkConfigResource(res); err != nil {
		return contract.ResourceConfigs{}, 0, err
	}
	if err := checkConfigOps(res.Type, req.Ops); err != nil {
		return contract.ResourceConfigs{}, 0, err
	}
	if req.ValidateOnly {
		img, err := c.Image(ctx, false)
		if err != nil {
			return contract.ResourceConfigs{}, 0, err
		}
		recs, err := buildAlterConfigs(img, res, req.Ops)
		if err != nil {
			return contract.ResourceConfigs{}, 0, err
		}
		d := metadata.NewDelta(img)
		if err := d.ReplayBatch(recs); err != nil {
			return contract.ResourceConfigs{}, 0, err
		}
		return describeConfigs(d.Apply(img.Offset()), res, nil), img.Offset(), nil
	}
	applied, err := c.write(ctx, func(img *metadata.Image) ([]metadata.Record, error) {
		recs, err := buildAlterConfigs(img, res, req.Ops)
		if err == nil && len(recs) == 0 {
			return nil, errConfigsUnchanged
		}
		return recs, err
	})
	if errors.Is(err, errConfigsUnchanged) {
		img, err := c.Image(ctx, false)
		if err != nil {
			return contract.ResourceConfigs{}, 0, err
		}
		return describeConfigs(img, res, nil), img.Offset(), nil
	}
	if err != nil {
		return contract.ResourceConfigs{}, 0, err
	}
	// Applied: this node's state holds the batch (and maybe later ones).
	return describeConfigs(c.state.Image(), res, nil), applied[0].Offset, nil
}

// errConfigsUnchanged marks an alter whose ops change nothing: no
// proposal is made for it.
var errConfigsUnchanged = errors.New("controller: configs unchanged")

// checkConfigResource checks a resource's form: its type, and a broker's
// name (a decimal id >= 0, or "" for the cluster default).
func checkConfigResource(res contract.ConfigResource) error {
	switch res.Type {
	case contract.ConfigResourceTopic:
		return nil
	case contract.ConfigResourceBroker:
		if !metadata.ValidBrokerConfigName(res.Name) {
			return contract.Errorf(contract.CodeInvalidRequest, "broker config resource %q is not a broker id (0..2147483647, no sign or leading zeros) nor \"\" (the cluster default)", clip(res.Name))
		}
		return nil
	}
	return contract.Errorf(contract.CodeInvalidRequest, "config resource type %q is not %s or %s", clip(res.Type), contract.ConfigResourceTopic, contract.ConfigResourceBroker)
}

// checkConfigOps checks what an op list must be whatever the state: known
// ops, each config once, a value where the op needs one, and known names.
func checkConfigOps(resourceType string, ops []contract.ConfigOp) error {
	if len(ops) > MaxConfigOps {
		return contract.Errorf(contract.CodeInvalidRequest, "%d ops; the limit is %d", len(ops), MaxConfigOps)
	}
	seen := make(map[string]bool, len(ops))
	for i, op := range ops {
		switch op.Op {
		case contract.ConfigOpSet, contract.ConfigOpAppend, contract.ConfigOpSubtract:
			if op.Value == nil {
				return contract.Errorf(contract.CodeInvalidRequest, "op %d (%s %s) needs a value", i, op.Op, clip(op.Name))
			}
		case contract.ConfigOpDelete:
		default:
			return contract.Errorf(contract.CodeInvalidRequest, "op %d: op %q is not SET, DELETE, APPEND or SUBTRACT", i, clip(op.Op))
		}
		if seen[op.Name] {
			return contract.Errorf(contract.CodeInvalidRequest, "config %s appears in more than one op", clip(op.Name))
		}
		seen[op.Name] = true
		if _, ok := metadata.LookupConfigKey(resourceType, op.Name); !ok {
			return metadata.UnknownConfigError(resourceType, op.Name)
		}
	}
	return nil
}

// buildAlterConfigs is the ConfigRecords that apply ops to res in img,
// by config name, leaving out those that change nothing. APPEND and
// SUBTRACT work on the config's effective value (set, inherited or
// default), as Kafka's do.
func buildAlterConfigs(img *metadata.Image, res contract.ConfigResource, ops []contract.ConfigOp) ([]metadata.Record, error) {
	if err := refuseWhileZkAuthoritative(img); err != nil {
		return nil, err
	}
	if res.Type == contract.ConfigResourceTopic {
		if _, ok := img.Topic(res.Name); !ok {
			return nil, topicNotFound(res.Name)
		}
	}
	old := img.Configs(res.Type, res.Name)
	next := maps.Clone(old)
	for _, op := range ops {
		key, _ := metadata.LookupConfigKey(res.Type, op.Name) // checkConfigOps found it
		var v string
		var err *metadata.Error
		switch op.Op {
		case contract.ConfigOpDelete:
			delete(next, op.Name)
			continue
		case contract.ConfigOpSet:
			v, err = key.Normalize(*op.Value)
		case contract.ConfigOpAppend, contract.ConfigOpSubtract:
			cur, _ := metadata.EffectiveConfigValue(img, res.Type, res.Name, op.Name)
			if op.Op == contract.ConfigOpAppend {
				v, err = key.AppendList(cur, *op.Value)
			} else {
				v, err = key.SubtractList(cur, *op.Value)
			}
		}
		if err != nil {
			return nil, err
		}
		next[op.Name] = v
	}
	return configChanges(res, old, next), nil
}

// configChanges is the records that turn old into next, by name.
func configChanges(res contract.ConfigResource, old, next map[string]string) []metadata.Record {
	var recs []metadata.Record
	names := slices.Sorted(maps.Keys(next))
	for n := range old {
		if _, ok := next[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		nv, set := next[n]
		ov, was := old[n]
		if set == was && nv == ov {
			continue
		}
		r := &metadata.ConfigRecord{ResourceType: res.Type, ResourceName: res.Name, Name: n}
		if set {
			r.Value = &nv
		}
		recs = append(recs, metadata.Record{Body: r})
	}
	return recs
}

// topicConfigRecords validates a new topic's configs and returns them as
// ConfigRecords, by name (CreateTopic's batch carries them).
func topicConfigRecords(topic string, configs map[string]string) ([]metadata.Record, error) {
	next := make(map[string]string, len(configs))
	for name, value := range configs {
		key, ok := metadata.LookupConfigKey(metadata.ConfigResourceTopic, name)
		if !ok {
			return nil, metadata.UnknownConfigError(metadata.ConfigResourceTopic, name)
		}
		v, err := key.Normalize(value)
		if err != nil {
			return nil, err
		}
		next[name] = v
	}
	return configChanges(contract.ConfigResource{Type: contract.ConfigResourceTopic, Name: topic}, nil, next), nil
}

// ValidateTopicConfigs checks a new topic's configs as CreateTopic does,
// for front doors that validate a creation without making it.
func ValidateTopicConfigs(configs map[string]string) error {
	_, err := topicConfigRecords("", configs)
	return err
}

// describeConfigs is res's effective configs in img, those named in
// names only (nil: all), by name.
func describeConfigs(img *metadata.Image, res contract.ConfigResource, names []string) contract.ResourceConfigs {
	out := contract.ResourceConfigs{Resource: res, Configs: []contract.ConfigEntry{}, Offset: img.Offset()}
	for _, e := range metadata.EffectiveConfigs(img, res.Type, res.Name) {
		if names != nil && !slices.Contains(names, e.Name) {
			continue
		}
		out.Configs = append(out.Configs, contract.ConfigEntry{Name: e.Name, Value: e.Value, Source: e.Source})
	}
	return out
}
