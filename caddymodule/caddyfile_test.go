package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/tracebar/tracebar/toolbar"
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
		{"forward to zipkin", "tracebar {\n forward zipkin://zipkin:9411\n}", App{Forward: "zipkin://zipkin:9411"}, ""},
		{"forward_protocol zipkin", "tracebar {\n forward https://zipkin.test/api/v2/spans\n forward_protocol zipkin\n}",
			App{Forward: "https://zipkin.test/api/v2/spans", ForwardProtocol: "zipkin"}, ""},
		{"forward_protocol otlp", "tracebar {\n forward_protocol otlp\n}", App{ForwardProtocol: "otlp"}, ""},
		{"unknown forward_protocol", "tracebar {\n forward_protocol jaeger\n}", App{}, "want otlp or zipkin"},
		{"forward_protocol without a value", "tracebar {\n forward_protocol\n}", App{}, "wrong argument count"},
		{"backend", "tracebar {\n backend http://localhost:16686\n}", App{Backend: "http://localhost:16686"}, ""},
		{"backend on tempo", "tracebar {\n backend https://tempo.internal:3200\n backend_api tempo\n}", App{Backend: "https://tempo.internal:3200", BackendAPI: "tempo"}, ""},
		{"backend off", "tracebar {\n backend off\n}", App{Backend: "off"}, ""},
		{"backend not a URL", "tracebar {\n backend localhost:16686\n}", App{}, "http(s) URL"},
		{"unknown backend_api", "tracebar {\n backend_api honeycomb\n}", App{}, "want jaeger, tempo or zipkin"},
		{"backend without a value", "tracebar {\n backend\n}", App{}, "wrong argument count"},
		{"editor preset", "tracebar {\n editor vscode\n}", App{Editor: "vscode"}, ""},
		{"editor template", "tracebar {\n editor \"emacs://open?url=file://{file}&line={line}\"\n}", App{Editor: "emacs://open?url=file://{file}&line={line}"}, ""},
		{"unknown editor preset", "tracebar {\n editor emacs\n}", App{}, `editor "emacs": want one of cursor, idea, phpstorm, sublime, vscode`},
		{"editor template without {file}", "tracebar {\n editor vscode://file/{path}:{line}\n}", App{}, "has no {file}"},
		{"editor template of a script", "tracebar {\n editor javascript:alert('{file}')\n}", App{}, "opens no file"},
		{"editor without a value", "tracebar {\n editor\n}", App{}, "wrong argument count"},
		{"editor_paths, repeated", "tracebar {\n editor_paths /app=/home/me/shop /srv=/home/me/srv\n editor_paths /usr/src/app=C:\\src\n}",
			App{EditorPaths: []string{"/app=/home/me/shop", "/srv=/home/me/srv", "/usr/src/app=C:\\src"}}, ""},
		{"editor_paths without =", "tracebar {\n editor_paths /app:/home/me/shop\n}", App{}, "want <container-prefix>=<host-prefix>"},
		{"editor_paths with an empty side", "tracebar {\n editor_paths /app=\n}", App{}, "want <container-prefix>=<host-prefix>"},
		{"editor_paths without a value", "tracebar {\n editor_paths\n}", App{}, "wrong argument count"},
		{"slow_query", "tracebar {\n slow_query 250ms\n}", App{SlowQuery: caddy.Duration(250 * time.Millisecond)}, ""},
		{"slow_query zero", "tracebar {\n slow_query 0s\n}", App{}, "positive duration"},
		{"slow_query negative", "tracebar {\n slow_query -1s\n}", App{}, "positive duration"},
		{"slow_query not a duration", "tracebar {\n slow_query fast\n}", App{}, "positive duration"},
		{"storage", "tracebar {\n storage /var/lib/tracebar/store.db\n}", App{Storage: "/var/lib/tracebar/store.db"}, ""},
		{"storage without a path", "tracebar {\n storage\n}", App{}, "wrong argument count"},
		{"storage with two paths", "tracebar {\n storage a.db b.db\n}", App{}, "wrong argument count"},
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

// TestAppForwardProtocol: Provision picks the forwarder forward and
// forward_protocol name, and refuses this process's own Zipkin receiver
// (a loop) and contradictions.
func TestAppForwardProtocol(t *testing.T) {
	tests := []struct {
		name          string
		app           App
		protocol      string // of the forwarder; "" for an error
		endpoint, err string
	}{
		{"zipkin scheme", App{Forward: "zipkin://127.0.0.1:19411"}, "zipkin", "http://127.0.0.1:19411/api/v2/spans", ""},
		{"http with forward_protocol zipkin", App{Forward: "http://127.0.0.1:19411/api/v2/spans", ForwardProtocol: "zipkin"}, "zipkin", "http://127.0.0.1:19411/api/v2/spans", ""},
		{"otlp", App{Forward: "http://127.0.0.1:14318", ForwardProtocol: "otlp"}, "otlp", "http://127.0.0.1:14318", ""},
		{"own zipkin receiver", App{Forward: "zipkin://localhost:19412", Zipkin: "127.0.0.1:19412"}, "", "", "loop"},
		{"a Zipkin server where the receiver would default", App{Forward: "http://127.0.0.1:9411/api/v2/spans", ForwardProtocol: "zipkin"}, "zipkin", "http://127.0.0.1:9411/api/v2/spans", ""},
		{"own zipkin receiver, set on the default address", App{Forward: "zipkin://localhost", Zipkin: "127.0.0.1:9411"}, "", "", "loop"},
		{"own OTLP sink as Zipkin", App{Forward: "zipkin://127.0.0.1:4318"}, "", "", "loop"},
		{"zipkin scheme, otlp protocol", App{Forward: "zipkin://127.0.0.1:19411", ForwardProtocol: "otlp"}, "", "", "forward_protocol says otlp"},
		{"grpc with forward_protocol zipkin", App{Forward: "grpc://127.0.0.1:14317", ForwardProtocol: "zipkin"}, "", "", "unsupported scheme"},
		{"unknown protocol", App{Forward: "http://127.0.0.1:14318", ForwardProtocol: "jaeger"}, "", "", "want otlp or zipkin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			a := tt.app
			err := a.Provision(ctx)
			defer a.Cleanup()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := a.Forwarder()
			if f == nil || f.Protocol != tt.protocol || f.Endpoint != tt.endpoint {
				t.Fatalf("forwarder %+v, want %s to %s", f, tt.protocol, tt.endpoint)
			}
			if tt.protocol == "zipkin" && f.ForwardsLogsAndMetrics() {
				t.Fatal("a Zipkin forwarder claims to forward logs and metrics")
			}
			if tt.app.Zipkin == "" && f.Sends(DefaultZipkin) && a.Zipkin != "off" {
				t.Fatalf("the Zipkin receiver stays on %s, where spans are forwarded", a.Zipkin)
			}
		})
	}

	// forward_protocol zipkin without forward: OTEL_EXPORTER_ZIPKIN_ENDPOINT.
	t.Setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "http://127.0.0.1:19413/api/v2/spans")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a := App{ForwardProtocol: "zipkin"}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Cleanup()
	if f := a.Forwarder(); f == nil || f.Endpoint != "http://127.0.0.1:19413/api/v2/spans" {
		t.Fatalf("forwarder %+v, want the Zipkin endpoint from the environment", f)
	}
}

// TestAppValidateRefusesSharedSinkAddresses: the OTLP sinks and the Zipkin
// receiver each need a port of their own (on one, they would share its
// connections), however the address is spelled.
func TestAppValidateRefusesSharedSinkAddresses(t *testing.T) {
	tests := []struct {
		name string
		app  App
		ok   bool
	}{
		{"defaults", App{OTLPHTTP: DefaultOTLPHTTP, OTLPGRPC: DefaultOTLPGRPC, Zipkin: DefaultZipkin}, true},
		{"zipkin off", App{OTLPHTTP: DefaultOTLPHTTP, OTLPGRPC: DefaultOTLPGRPC, Zipkin: "off"}, true},
		{"same address", App{OTLPHTTP: "127.0.0.1:4318", OTLPGRPC: DefaultOTLPGRPC, Zipkin: "127.0.0.1:4318"}, false},
		{"loopback spellings", App{OTLPHTTP: "localhost:4318", OTLPGRPC: DefaultOTLPGRPC, Zipkin: "127.0.0.2:4318"}, false},
		{"a wildcard covers loopback", App{OTLPHTTP: DefaultOTLPHTTP, OTLPGRPC: ":4318", Zipkin: "off"}, false},
		{"other hosts, same port", App{OTLPHTTP: "10.0.0.1:4318", OTLPGRPC: "10.0.0.2:4318", Zipkin: "off"}, true},
	}
	for _, tt := range tests {
		if err := tt.app.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok: %v", tt.name, err, tt.ok)
		}
	}
}

// TestAppToolbarOptions: the editor, editor_paths and slow_query options as
// JSON config: Validate refuses what the Caddyfile would, and the toolbar's
// API gets the preset's template, the path maps and the threshold, its
// default when unset (GET /api/config).
func TestAppToolbarOptions(t *testing.T) {
	sinks := App{OTLPHTTP: DefaultOTLPHTTP, OTLPGRPC: DefaultOTLPGRPC, Zipkin: DefaultZipkin}
	tests := []struct {
		name     string
		set      func(*App)
		err      string
		editor   string
		paths    []toolbar.PathMap
		slowness time.Duration
	}{
		{"defaults", func(*App) {}, "", "", nil, toolbar.DefaultSlowQuery},
		{"preset", func(a *App) { a.Editor = "PhpStorm" }, "", toolbar.EditorPresets["phpstorm"], nil, toolbar.DefaultSlowQuery},
		{"template", func(a *App) { a.Editor = "zed://file/{file}:{line}" }, "", "zed://file/{file}:{line}", nil, toolbar.DefaultSlowQuery},
		{"path maps in order", func(a *App) { a.EditorPaths = []string{"/app/src=/home/me/shop/src", "/app=/home/me/shop"} }, "", "",
			[]toolbar.PathMap{{From: "/app/src", To: "/home/me/shop/src"}, {From: "/app", To: "/home/me/shop"}}, toolbar.DefaultSlowQuery},
		{"slow_query", func(a *App) { a.SlowQuery = caddy.Duration(time.Second) }, "", "", nil, time.Second},
		{"unknown preset", func(a *App) { a.Editor = "notepad" }, "want one of", "", nil, 0},
		{"template without {file}", func(a *App) { a.Editor = "vscode://open?line={line}" }, "has no {file}", "", nil, 0},
		{"path map without =", func(a *App) { a.EditorPaths = []string{"/app"} }, "editor_paths", "", nil, 0},
		{"negative slow_query", func(a *App) { a.SlowQuery = caddy.Duration(-time.Second) }, "positive duration", "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sinks
			tt.set(&a)
			err := a.Validate()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Validate() = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			api := toolbar.NewAPI(toolbar.NewStore(toolbar.Limits{}))
			if err := a.configureAPI(api); err != nil {
				t.Fatal(err)
			}
			rr := httptest.NewRecorder()
			api.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/config", nil))
			var config struct {
				Editor      string            `json:"editor"`
				EditorPaths []toolbar.PathMap `json:"editorPaths"`
				SlowQueryMs float64           `json:"slowQueryMs"`
			}
			if err := json.Unmarshal(rr.Body.Bytes(), &config); err != nil {
				t.Fatalf("GET /api/config: %d %s", rr.Code, rr.Body)
			}
			if tt.paths == nil {
				tt.paths = []toolbar.PathMap{}
			}
			if config.Editor != tt.editor || !reflect.DeepEqual(config.EditorPaths, tt.paths) || config.SlowQueryMs != toolbar.Millis(tt.slowness) {
				t.Fatalf("config %+v; want editor %q, paths %v, slow query %v", config, tt.editor, tt.paths, tt.slowness)
			}
		})
	}
}
