package caddymodule

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestHandlerUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        Handler
		err         string
	}{
		{"defaults", `tracebar`, Handler{}, ""},
		{"all options", `tracebar {
			prefix /_tb
			allow 10.0.0.0/8 192.168.1.1
			propagators b3 tracecontext
			service_name edge
			trace_link http://localhost:16686/trace/{trace_id}
			hosts shop.test *.shop.test
			secret {env.TRACEBAR_SECRET}
		}`, Handler{Prefix: "/_tb", Allow: []string{"10.0.0.0/8", "192.168.1.1"}, Propagators: []string{"b3", "tracecontext"}, ServiceName: "edge",
			TraceLink: "http://localhost:16686/trace/{trace_id}", Hosts: []string{"shop.test", "*.shop.test"}, Secret: "{env.TRACEBAR_SECRET}"}, ""},
		{"jaeger preset", "tracebar {\n trace_link jaeger\n}", Handler{TraceLink: "http://localhost:16686/trace/{trace_id}"}, ""},
		{"zipkin preset on a base", "tracebar {\n trace_link zipkin https://zipkin.internal/\n}", Handler{TraceLink: "https://zipkin.internal/zipkin/traces/{trace_id}"}, ""},
		{"tempo preset", "tracebar {\n trace_link tempo\n}", Handler{TraceLink: "http://localhost:3000/explore?left=%7B%22datasource%22%3A%22tempo%22%2C%22queries%22%3A%5B%7B%22refId%22%3A%22A%22%2C%22queryType%22%3A%22traceql%22%2C%22query%22%3A%22{trace_id}%22%7D%5D%2C%22range%22%3A%7B%22from%22%3A%22now-1h%22%2C%22to%22%3A%22now%22%7D%7D"}, ""},
		{"unknown preset with a base", "tracebar {\n trace_link honeycomb https://ui.honeycomb.io\n}", Handler{}, "neither a URL nor"},
		{"hosts without names", "tracebar {\n hosts\n}", Handler{}, "wrong argument count"},
		{"bad cidr", "tracebar {\n allow 10.0.0.0/99\n}", Handler{}, "allow"},
		{"unknown option", "tracebar {\n colour red\n}", Handler{}, `unknown tracebar option "colour"`},
		{"missing value", "tracebar {\n prefix\n}", Handler{}, "wrong argument count"},
		{"extra value", "tracebar {\n prefix /a /b\n}", Handler{}, "wrong argument count"},
		{"argument on directive", "tracebar on", Handler{}, "wrong argument count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler
			err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.input))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				if !strings.Contains(err.Error(), "Testfile:") {
					t.Fatalf("error %q does not name the line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, tt.want) {
				t.Fatalf("got %+v, want %+v", h, tt.want)
			}
		})
	}
}

func TestAppUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        App
		err         string
	}{
		{"all options", `tracebar {
			otlp_http 127.0.0.1:5318
			otlp_grpc off
			zipkin 127.0.0.1:19411
			max_traces 10
			max_spans 100
			max_requests 20
			max_bytes 1000000
			max_body_bytes 4096
			forward grpc://collector:4317
			cors_origins https://app.test http://localhost:5173
			redact tenant x-customer
		}`, App{OTLPHTTP: "127.0.0.1:5318", OTLPGRPC: "off", Zipkin: "127.0.0.1:19411", MaxTraces: 10, MaxSpans: 100, MaxRequests: 20, MaxBytes: 1000000, MaxBodyBytes: 4096, Forward: "grpc://collector:4317",
			CORSOrigins: []string{"https://app.test", "http://localhost:5173"}, Redact: []string{"tenant", "x-customer"}}, ""},
		{"bad number", "tracebar {\n max_spans lots\n}", App{}, "positive integer"},
		{"bad address", "tracebar {\n otlp_http 127.0.0.1:99999\n}", App{}, "otlp_http"},
		{"zipkin off", "tracebar {\n zipkin off\n}", App{Zipkin: "off"}, ""},
		{"bad zipkin address", "tracebar {\n zipkin 127.0.0.1:94110\n}", App{}, "zipkin"},
		{"zipkin without an address", "tracebar {\n zipkin\n}", App{}, "wrong argument count"},
		{"unknown", "tracebar {\n forward_to x\n}", App{}, "unknown tracebar global option"},
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

func TestHandlerValidate(t *testing.T) {
	tests := []struct {
		name string
		h    Handler
		ok   bool
	}{
		{"default prefix", Handler{Prefix: "/__tracebar"}, true},
		{"root prefix hides the site", Handler{Prefix: "/"}, false},
		{"prefix with a quote", Handler{Prefix: `/a"b`}, false},
		{"trace link not http", Handler{Prefix: "/__tracebar", TraceLink: "javascript:alert(1)"}, false},
		{"trace link", Handler{Prefix: "/__tracebar", TraceLink: "http://localhost:16686/trace/{trace_id}"}, true},
	}
	for _, tt := range tests {
		if err := tt.h.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok: %v", tt.name, err, tt.ok)
		}
	}
}
