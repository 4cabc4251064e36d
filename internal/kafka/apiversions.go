package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() {
	register(&api{key: kmsg.ApiVersions.Int16(), minVersion: 0, maxVersion: 3, serve: serveAPIVersions})
}

// servedVersions lists every served API with its version range, by key.
func servedVersions() []kmsg.ApiVersionsResponseApiKey {
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(apis))
	for _, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.minVersion, a.maxVersion
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ApiKey < out[j].ApiKey })
	return out
}

func serveAPIVersions(_ context.Context, _ *Server, _ Header, _ kmsg.Request) (kmsg.Response, error) {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.ApiKeys = servedVersions()
	return resp, nil
}

// unsupportedAPIVersions is the answer to an ApiVersions request in a
// version newer than served: v0 (which every client reads), error
// UNSUPPORTED_VERSION and the served versions, so the client asks again
// in the highest it shares (KIP-511).
func unsupportedAPIVersions() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = errUnsupportedVersion
	resp.ApiKeys = servedVersions()
	return resp
}
