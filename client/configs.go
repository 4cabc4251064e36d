package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/yakt/yakt/contract"
)

// Configs of topics and brokers (docs/api.md, Configs).
type (
	ConfigResource      = contract.ConfigResource
	ConfigEntry         = contract.ConfigEntry
	ResourceConfigs     = contract.ResourceConfigs
	ConfigOp            = contract.ConfigOp
	AlterConfigsRequest = contract.AlterConfigsRequest
)

// ErrInvalidConfig matches (errors.Is) an unknown config name or a value
// its config does not take.
var ErrInvalidConfig = &Error{Code: contract.CodeInvalidConfig}

// ClusterDefault is the broker id DescribeBrokerConfigs and
// AlterBrokerConfigs take for the cluster-wide broker default every broker
// inherits (GET/PATCH /v1/cluster/configs).
const ClusterDefault int32 = -1

// SetConfig, DeleteConfig, AppendConfig and SubtractConfig build the ops
// of an AlterConfigsRequest.
func SetConfig(name, value string) ConfigOp {
	return ConfigOp{Name: name, Op: contract.ConfigOpSet, Value: &value}
}

// DeleteConfig removes a setting: the config inherits again.
func DeleteConfig(name string) ConfigOp { return ConfigOp{Name: name, Op: contract.ConfigOpDelete} }

// AppendConfig adds items to a list config.
func AppendConfig(name, items string) ConfigOp {
	return ConfigOp{Name: name, Op: contract.ConfigOpAppend, Value: &items}
}

// SubtractConfig removes items from a list config.
func SubtractConfig(name, items string) ConfigOp {
	return ConfigOp{Name: name, Op: contract.ConfigOpSubtract, Value: &items}
}

// DescribeTopicConfigs returns a topic's effective configs (a
// linearizable read); names picks some (none: all).
func (c *Client) DescribeTopicConfigs(ctx context.Context, topic string, names ...string) (ResourceConfigs, error) {
	return c.describeConfigs(ctx, "/v1/topics/"+url.PathEscape(topic)+"/configs", names)
}

// AlterTopicConfigs applies req's ops to a topic's configs: all of them,
// or none. It returns the configs after the change.
func (c *Client) AlterTopicConfigs(ctx context.Context, topic string, req AlterConfigsRequest) (ResourceConfigs, Meta, error) {
	return c.alterConfigs(ctx, "/v1/topics/"+url.PathEscape(topic)+"/configs", req)
}

// DescribeBrokerConfigs returns a broker's effective configs, or with
// ClusterDefault the cluster-wide broker defaults.
func (c *Client) DescribeBrokerConfigs(ctx context.Context, broker int32, names ...string) (ResourceConfigs, error) {
	return c.describeConfigs(ctx, brokerConfigsPath(broker), names)
}

// AlterBrokerConfigs applies req's ops to a broker's configs, or with
// ClusterDefault to the cluster-wide broker defaults.
func (c *Client) AlterBrokerConfigs(ctx context.Context, broker int32, req AlterConfigsRequest) (ResourceConfigs, Meta, error) {
	return c.alterConfigs(ctx, brokerConfigsPath(broker), req)
}

func brokerConfigsPath(broker int32) string {
	if broker == ClusterDefault {
		return "/v1/cluster/configs"
	}
	return fmt.Sprintf("/v1/brokers/%d/configs", broker)
}

func (c *Client) describeConfigs(ctx context.Context, path string, names []string) (ResourceConfigs, error) {
	if len(names) > 0 {
		path += "?" + url.Values{"name": names}.Encode()
	}
	var out ResourceConfigs
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

func (c *Client) alterConfigs(ctx context.Context, path string, req AlterConfigsRequest) (ResourceConfigs, Meta, error) {
	if req.Ops == nil {
		req.Ops = []ConfigOp{}
	}
	var out ResourceConfigs
	meta, err := c.do(ctx, http.MethodPatch, path, req, &out)
	return out, meta, err
}
