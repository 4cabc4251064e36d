package api

import (
	"slices"

	"github.com/yakt/yakt/internal/ui"
)

// RoutePatterns lists every pattern a Server's router serves (the route
// table and the dashboard's routes), in http.ServeMux syntax ("GET
// /v1/topics/{name}"), sorted: what the OpenAPI document must describe.
func RoutePatterns() []string {
	out := make([]string, 0, len(routes)+8)
	for _, rt := range routes {
		out = append(out, rt.pattern)
	}
	out = append(out, ui.Patterns()...)
	slices.Sort(out)
	return out
}
