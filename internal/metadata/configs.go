package metadata

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Config resource types (ConfigRecord.ResourceType): the contract's names,
// where Kafka's record has its numbers (2 topic, 4 broker).
const (
	ConfigResourceTopic  = "topic"
	ConfigResourceBroker = "broker" // ResourceName "" is the cluster-wide default every broker inherits
)

// ConfigRecord sets or removes one config of a topic or a broker (Kafka's
// ConfigRecord). Only explicitly set values live in the image; a Value of
// nil removes the setting, so the config falls back to what it inherits.
// Replay checks the resource, not the name or the value: the controller
// validates those against its table (ConfigKeys), and a key a later version
// adds must not make an older node refuse the log.
type ConfigRecord struct {
	ResourceType string  `json:"resourceType"` // ConfigResourceTopic or ConfigResourceBroker
	ResourceName string  `json:"resourceName"` // topic name, broker id in decimal, or "" (cluster default)
	Name         string  `json:"name"`
	Value        *string `json:"value"` // nil: remove the setting
}

// NameConfigRecord is ConfigRecord's RecordName.
const NameConfigRecord = "ConfigRecord"

func (*ConfigRecord) RecordName() string { return NameConfigRecord }

// MaxConfigNameLength and MaxConfigValueLength bound what replay takes, so
// one record cannot carry an unbounded string into every image.
const (
	MaxConfigNameLength  = 255
	MaxConfigValueLength = 32 << 10
)

// configRes names a resource in the image.
type configRes struct {
	typ  string
	name string
}

func (r configRes) hash() uint64 { return hashString(r.typ + "/" + r.name) }

func (r configRes) compare(o configRes) int {
	return cmp.Or(strings.Compare(r.typ, o.typ), strings.Compare(r.name, o.name))
}

// configsImage holds the set configs of every resource that has any.
// Values (the per-resource maps) are never modified once stored: a change
// stores a new map.
type configsImage struct {
	byRes  pmap[configRes, map[string]string]
	sorted lazy[[]configRes]
}

func (c *configsImage) sortedResources() []configRes {
	return c.sorted.get(func() []configRes {
		out := make([]configRes, 0, c.byRes.Len())
		c.byRes.each(func(r configRes, _ map[string]string) { out = append(out, r) })
		slices.SortFunc(out, configRes.compare)
		return out
	})
}

// ConfigResourceRef names a resource that has set configs.
type ConfigResourceRef struct {
	Type string
	Name string
}

// Configs returns the configs set on a resource (a fresh map; empty when
// none are set). Inherited values and defaults are not in it: see
// EffectiveConfigs.
func (im *Image) Configs(resourceType, resourceName string) map[string]string {
	return im.state.configs(resourceType, resourceName)
}

// ConfigResources lists the resources that have set configs, sorted by
// type, then name.
func (im *Image) ConfigResources() []ConfigResourceRef { return im.state.configResources() }

// Configs is Image.Configs as of the records replayed so far.
func (d *Delta) Configs(resourceType, resourceName string) map[string]string {
	return d.cur.configs(resourceType, resourceName)
}

func (s *state) configs(typ, name string) map[string]string {
	r := configRes{typ, name}
	m, ok := s.cfg.byRes.get(r.hash(), r)
	if !ok {
		return map[string]string{}
	}
	return maps.Clone(m)
}

func (s *state) configResources() []ConfigResourceRef {
	sorted := s.cfg.sortedResources()
	out := make([]ConfigResourceRef, len(sorted))
	for i, r := range sorted {
		out[i] = ConfigResourceRef{Type: r.typ, Name: r.name}
	}
	return out
}

// ConfigRecords returns every set config as a ConfigRecord, by resource
// type, resource name, then config name (fresh records).
func (im *Image) ConfigRecords() []*ConfigRecord { return im.state.configRecords() }

// configRecords returns the image's configs as ConfigRecords, by resource
// type, resource name, then config name.
func (s *state) configRecords() []*ConfigRecord {
	var out []*ConfigRecord
	for _, r := range s.cfg.sortedResources() {
		m, _ := s.cfg.byRes.get(r.hash(), r)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			out = append(out, &ConfigRecord{ResourceType: r.typ, ResourceName: r.name, Name: k, Value: &v})
		}
	}
	return out
}

func configsEqual(a, b *configsImage) bool {
	ra, rb := a.sortedResources(), b.sortedResources()
	if !slices.Equal(ra, rb) {
		return false
	}
	for _, r := range ra {
		ma, _ := a.byRes.get(r.hash(), r)
		mb, _ := b.byRes.get(r.hash(), r)
		if !maps.Equal(ma, mb) {
			return false
		}
	}
	return true
}

// ValidBrokerConfigName reports whether name names a broker resource: ""
// (the cluster default) or a broker id >= 0 in canonical decimal (no sign,
// no leading zeros), so one broker has exactly one resource name.
func ValidBrokerConfigName(name string) bool {
	if name == "" {
		return true
	}
	n, err := strconv.ParseInt(name, 10, 32)
	return err == nil && n >= 0 && strconv.FormatInt(n, 10) == name
}

// checkConfigRecord is what a ConfigRecord must be whatever the state:
// replay and the snapshot reader both check it.
func checkConfigRecord(r *ConfigRecord) *Error {
	switch {
	case r.ResourceType != ConfigResourceTopic && r.ResourceType != ConfigResourceBroker:
		return Errorf(ReasonInvalid, "config resource type %q is not %s or %s", r.ResourceType, ConfigResourceTopic, ConfigResourceBroker)
	case r.ResourceType == ConfigResourceBroker && !ValidBrokerConfigName(r.ResourceName):
		return Errorf(ReasonInvalid, "broker config resource %q is not a broker id (decimal, >= 0) nor \"\" (the cluster default)", r.ResourceName)
	case r.Name == "" || len(r.Name) > MaxConfigNameLength:
		return Errorf(ReasonInvalid, "config name must be 1 to %d bytes long, got %d", MaxConfigNameLength, len(r.Name))
	case r.Value != nil && len(*r.Value) > MaxConfigValueLength:
		return Errorf(ReasonInvalid, "config %s: value is %d bytes long; the limit is %d", r.Name, len(*r.Value), MaxConfigValueLength)
	}
	return nil
}

// config replays a ConfigRecord: the record must be well formed
// (checkConfigRecord) and a topic's config needs the topic to exist
// (TOPIC_NOT_FOUND); a broker's may name an id that is not registered, as
// Kafka's may (configs can be set before the broker first registers).
// Removing a config that is not set changes nothing.
func (d *Delta) config(r *ConfigRecord) error {
	if err := checkConfigRecord(r); err != nil {
		return err
	}
	if r.ResourceType == ConfigResourceTopic {
		if _, ok := d.cur.topicImageByName(r.ResourceName); !ok {
			return Errorf(ReasonTopicNotFound, "config %s of topic %q: topic not found", r.Name, r.ResourceName)
		}
	}
	res := configRes{r.ResourceType, r.ResourceName}
	h := res.hash()
	old, _ := d.cur.cfg.byRes.get(h, res)
	if r.Value == nil {
		if _, ok := old[r.Name]; !ok {
			return nil
		}
		m := maps.Clone(old)
		delete(m, r.Name)
		if len(m) == 0 {
			d.cur.cfg = &configsImage{byRes: d.cur.cfg.byRes.del(d.ed, h, res)}
		} else {
			d.cur.cfg = &configsImage{byRes: d.cur.cfg.byRes.set(d.ed, h, res, m)}
		}
		return nil
	}
	m := make(map[string]string, len(old)+1)
	maps.Copy(m, old)
	m[r.Name] = *r.Value
	d.cur.cfg = &configsImage{byRes: d.cur.cfg.byRes.set(d.ed, h, res, m)}
	return nil
}

// dropTopicConfigs removes a deleted topic's configs, as Kafka's
// controller does when it replays the topic's removal.
func (d *Delta) dropTopicConfigs(name string) {
	res := configRes{ConfigResourceTopic, name}
	h := res.hash()
	if _, ok := d.cur.cfg.byRes.get(h, res); ok {
		d.cur.cfg = &configsImage{byRes: d.cur.cfg.byRes.del(d.ed, h, res)}
	}
}

// appendJSON appends what encoding/json makes of r.
func (r *ConfigRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"resourceType":`...)
	b = appendString(b, r.ResourceType)
	b = append(b, `,"resourceName":`...)
	b = appendString(b, r.ResourceName)
	b = append(b, `,"name":`...)
	b = appendString(b, r.Name)
	b = append(b, `,"value":`...)
	if r.Value == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *r.Value)
	}
	return append(b, '}')
}

func (r *ConfigRecord) clone() *ConfigRecord {
	c := *r
	if r.Value != nil {
		v := *r.Value
		c.Value = &v
	}
	return &c
}

func (r *ConfigRecord) equal(o *ConfigRecord) bool {
	return r.ResourceType == o.ResourceType && r.ResourceName == o.ResourceName && r.Name == o.Name &&
		(r.Value == nil) == (o.Value == nil) && (r.Value == nil || *r.Value == *o.Value)
}
