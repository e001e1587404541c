// Package otelbridge connects Tracebar to OpenTelemetry: the proxy's tracer
// provider and propagators, a span processor that feeds the toolbar store,
// and the OTLP sink that receives the spans of apps.
package otelbridge

import (
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/propagation"
)

// DefaultPropagators returns the names in OTEL_PROPAGATORS, else
// tracecontext and baggage, as the OpenTelemetry SDKs do.
func DefaultPropagators() []string {
	if v := strings.TrimSpace(os.Getenv("OTEL_PROPAGATORS")); v != "" {
		var names []string
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		return names
	}
	return []string{"tracecontext", "baggage"}
}

// Propagator builds a composite propagator from OTEL_PROPAGATORS names:
// tracecontext, baggage, b3 (single header) and b3multi.
func Propagator(names []string) (propagation.TextMapPropagator, error) {
	var ps []propagation.TextMapPropagator
	for _, n := range names {
		switch n {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "b3":
			ps = append(ps, b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)))
		case "b3multi":
			ps = append(ps, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)))
		case "none":
		default:
			return nil, fmt.Errorf("unknown propagator %q (want tracecontext, baggage, b3, b3multi or none)", n)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}
