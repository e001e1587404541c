package caddymodule

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestAppBackendCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        App
		err         string
	}{
		{"jaeger", "tracebar {\n backend http://localhost:16686\n}", App{Backend: "http://localhost:16686"}, ""},
		{"tempo", "tracebar {\n backend https://tempo.internal:3200\n backend_api tempo\n}", App{Backend: "https://tempo.internal:3200", BackendAPI: "tempo"}, ""},
		{"off", "tracebar {\n backend off\n}", App{Backend: "off"}, ""},
		{"not a URL", "tracebar {\n backend localhost:16686\n}", App{}, "http(s) URL"},
		{"unknown api", "tracebar {\n backend_api honeycomb\n}", App{}, "want jaeger, tempo or zipkin"},
		{"no value", "tracebar {\n backend\n}", App{}, "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a App
			err := a.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, tt.want) {
				t.Fatalf("got %+v, want %+v", a, tt.want)
			}
		})
	}
}

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
