package caddymodule

import (
	"context"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestAppBackendAPI: backend_api defaults to zipkin when spans are
// forwarded to Zipkin, else jaeger; the store reads traces from the
// backend of the running config, and from none after it stopped.
func TestAppBackendAPI(t *testing.T) {
	tests := []struct {
		name string
		app  App
		api  string
	}{
		{"otlp forward", App{Backend: "http://127.0.0.1:16686", Forward: "http://127.0.0.1:14318"}, "jaeger"},
		{"no forward", App{Backend: "http://127.0.0.1:16686"}, "jaeger"},
		{"zipkin forward", App{Backend: "http://127.0.0.1:19411", Forward: "zipkin://127.0.0.1:19411"}, "zipkin"},
		{"forward_protocol zipkin", App{Backend: "http://127.0.0.1:19411", Forward: "http://127.0.0.1:19411/api/v2/spans", ForwardProtocol: "zipkin"}, "zipkin"},
		{"explicit", App{Backend: "http://127.0.0.1:3200", BackendAPI: "tempo", Forward: "zipkin://127.0.0.1:19411"}, "tempo"},
		{"off", App{Backend: "off"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			a := tt.app
			a.OTLPHTTP, a.OTLPGRPC, a.Zipkin = "off", "off", "off"
			if err := a.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			defer a.Cleanup()
			if tt.api == "" {
				if a.backend != nil {
					t.Fatalf("backend %v, want none", a.backend.URL())
				}
				return
			}
			if a.backend == nil || a.backend.API() != tt.api || a.backend.URL() != tt.app.Backend {
				t.Fatalf("backend %+v, want %s at %s", a.backend, tt.api, tt.app.Backend)
			}
			if err := a.Start(); err != nil {
				t.Fatal(err)
			}
			if a.Store().Backend() != a.backend {
				t.Fatal("the store does not read from the config's backend")
			}
			if err := a.Stop(); err != nil {
				t.Fatal(err)
			}
			if b := a.Store().Backend(); b != nil {
				t.Fatalf("the store still reads from %v after Stop", b)
			}
		})
	}
}
