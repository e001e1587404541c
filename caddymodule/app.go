// Package caddymodule is Tracebar's Caddy glue: the tracebar app (store and
// OTLP sink, kept across config reloads), the http.handlers.tracebar
// handler and their Caddyfile syntax.
package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

func init() {
	caddy.RegisterModule(App{})
}

// Default sink addresses: the OTLP ports and Zipkin's, on loopback only.
const (
	DefaultOTLPHTTP = "127.0.0.1:4318"
	DefaultOTLPGRPC = "127.0.0.1:4317"
	DefaultZipkin   = "127.0.0.1:9411"
)

// App owns what outlives one request and one config: the span store and
// the OTLP sink. Both survive config reloads (a caddy.UsagePool), so a
// reload neither empties the toolbar nor fails with address-in-use.
type App struct {
	// OTLPHTTP is the OTLP/HTTP listen address ("off" disables).
	OTLPHTTP string `json:"otlp_http,omitempty"`
	// OTLPGRPC is the OTLP/gRPC listen address ("off" disables).
	OTLPGRPC string `json:"otlp_grpc,omitempty"`
	// Zipkin is the Zipkin v2 receiver's listen address (POST
	// /api/v2/spans, JSON or proto3; "off" disables).
	Zipkin string `json:"zipkin,omitempty"`
	// MaxTraces, MaxSpans, MaxRequests and MaxBytes bound the store. They take effect
	// when the store is first created (a restart, not a reload, changes them).
	MaxTraces   int `json:"max_traces,omitempty"`
	MaxSpans    int `json:"max_spans,omitempty"`
	MaxRequests int `json:"max_requests,omitempty"`
	// MaxBytes bounds the estimated memory of stored spans and log records.
	MaxBytes int `json:"max_bytes,omitempty"`
	// MaxBodyBytes bounds one OTLP request after decompression.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// Forward sends the proxy's spans and every span the sink receives on
	// to an OTLP backend: http(s)://host:port (OTLP/HTTP) or grpc://host:port;
	// or to a Zipkin server: zipkin://host:port (posting to
	// /api/v2/spans), or an http(s) URL with ForwardProtocol "zipkin".
	// Default: the OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT variable if set
	// (with ForwardProtocol "zipkin": OTEL_EXPORTER_ZIPKIN_ENDPOINT);
	// "off" disables.
	Forward string `json:"forward,omitempty"`
	// ForwardProtocol is what Forward speaks: "otlp" (the default) or
	// "zipkin" (spans only, as Zipkin v2 JSON: Zipkin has no logs or
	// metrics API).
	ForwardProtocol string `json:"forward_protocol,omitempty"`
	// CORSOrigins are the page origins whose browser OTLP exporters may
	// post to the sink. Default: loopback origins (localhost, 127.0.0.0/8, ::1).
	CORSOrigins []string `json:"cors_origins,omitempty"`
	// Redact names more headers, query parameters and span attributes to
	// redact before storage and forwarding: a name containing one of these
	// words (case-insensitively) is secret, besides the built-in ones
	// (auth, cookie, token, secret, password, session, api-key, ...).
	Redact []string `json:"redact,omitempty"`
	// Backend is the base URL of the team's tracing backend's query API
	// (Jaeger's http://host:16686, Tempo's http://host:3200, Zipkin's
	// http://host:9411). When the toolbar shows a trace, the spans the
	// backend holds for it (sent by other instances, or by apps that export
	// there directly) join it, marked as from the backend, and an open
	// page polls for late ones. Empty: the local spans only.
	Backend string `json:"backend,omitempty"`
	// BackendAPI is the backend's query API: "jaeger" (GET
	// /api/v3/traces/{id}), "tempo" (GET /api/traces/{id}) or "zipkin" (GET
	// /api/v2/trace/{id}). Default: zipkin when forwarding to Zipkin, else
	// jaeger.
	BackendAPI string `json:"backend_api,omitempty"`
	// Editor opens the source files that spans and stack frames name: one
	// of vscode, cursor, idea, phpstorm, sublime, or a URL template with
	// {file} (and usually {line}). Empty: no links.
	Editor string `json:"editor,omitempty"`
	// EditorPaths map the paths an app in a container reports to the
	// developer's, each "<container-prefix>=<host-prefix>"; the first
	// matching one applies.
	EditorPaths []string `json:"editor_paths,omitempty"`
	// SlowQuery is the database span length from which a query is slow
	// (alerts, the SQL panel). Default toolbar.DefaultSlowQuery.
	SlowQuery caddy.Duration `json:"slow_query,omitempty"`
	// Storage is a file (bbolt; one process at a time) that keeps the
	// store's records, spans and logs across restarts and crashes. Empty:
	// memory only. It is opened when the first config of the process that
	// names it starts, not when a config is provisioned or validated, and
	// kept across reloads: like the bounds, another path takes effect when
	// Caddy starts again.
	Storage string `json:"storage,omitempty"`

	store     *toolbar.Store
	file      *storageFile // the store's storage file, shared by the configs
	sink      *otelbridge.Sink
	metrics   *toolbar.MetricStore
	sinkCfg   *otelbridge.SinkConfig // this config's, in force from Start
	prevCfg   *otelbridge.SinkConfig // the one it replaced
	forwarder *otelbridge.Forwarder
	redactor  *toolbar.Redactor
	servers   []string // pool keys of the running sink servers
	logger    *zap.Logger

	backend     *otelbridge.Backend  // reads traces back, or nil
	backendSlot *toolbar.BackendSlot // this config's hold on the store's backend
	prevBackend *toolbar.BackendSlot // the one it replaced
}

var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// pool holds the store (key storeKey) and the sink servers (keyed by
// protocol and address) across config generations.
var pool = caddy.NewUsagePool()

const storeKey = "tracebar.store"

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "tracebar", New: func() caddy.Module { return new(App) }}
}

// Provision sets defaults and takes (or creates) the shared store, in
// memory: Start opens its storage file.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if a.OTLPHTTP == "" {
		a.OTLPHTTP = DefaultOTLPHTTP
	}
	if a.OTLPGRPC == "" {
		a.OTLPGRPC = DefaultOTLPGRPC
	}
	zipkinDefault := a.Zipkin == ""
	if zipkinDefault {
		a.Zipkin = DefaultZipkin
	}
	if a.MaxBodyBytes <= 0 {
		a.MaxBodyBytes = otelbridge.DefaultMaxBodyBytes
	}
	v, _, err := pool.LoadOrNew(storeKey, a.newStore)
	if err != nil {
		return fmt.Errorf("tracebar: store: %w", err)
	}
	p := v.(pooledStore)
	a.store, a.sink, a.metrics, a.file = p.store, p.sink, p.metrics, p.file
	a.redactor = toolbar.NewRedactor(a.Redact...)
	if a.Backend != "" && a.Backend != "off" {
		api := a.BackendAPI
		if api == "" {
			api = otelbridge.BackendJaeger
			if a.ForwardProtocol == "zipkin" || strings.HasPrefix(strings.ToLower(a.Forward), "zipkin:") {
				api = otelbridge.BackendZipkin
			}
		}
		b, err := otelbridge.NewBackend(a.Backend, api, a.store)
		if err != nil {
			return fmt.Errorf("tracebar: %w", err)
		}
		b.Redactor = a.redactor
		a.backend = b
		a.logger.Info("reading traces back from the backend", zap.String("backend", b.URL()), zap.String("api", api))
	}

	zipkin := a.ForwardProtocol == "zipkin"
	switch {
	case a.ForwardProtocol != "" && a.ForwardProtocol != "otlp" && !zipkin:
		return fmt.Errorf("tracebar: forward_protocol %q: want otlp or zipkin", a.ForwardProtocol)
	case a.ForwardProtocol == "otlp" && strings.HasPrefix(strings.ToLower(a.Forward), "zipkin:"):
		return fmt.Errorf("tracebar: forward %s is Zipkin, but forward_protocol says otlp", a.Forward)
	}
	endpoint, exact := a.Forward, false
	if endpoint == "" {
		if zipkin {
			endpoint = strings.TrimSpace(os.Getenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT"))
		} else {
			endpoint, exact = otelbridge.ForwardEndpointFromEnv()
		}
	}
	if endpoint != "" && endpoint != "off" {
		// Forwarding to this process's own sinks or Zipkin receiver would
		// loop. A Zipkin receiver left at its default address steps aside
		// for the Zipkin server there that spans go to (a team's Zipkin
		// on 9411 is the usual case, not a loop).
		self := []string{a.OTLPHTTP, a.OTLPGRPC}
		if !zipkin || !zipkinDefault {
			self = append(self, a.Zipkin)
		}
		var f *otelbridge.Forwarder
		var err error
		if zipkin {
			f, err = otelbridge.NewZipkinForwarder(endpoint, self...)
			if err == nil && zipkinDefault && f.Sends(a.Zipkin) {
				a.logger.Info("Zipkin receiver off: its default address is the Zipkin server spans are forwarded to (set zipkin to another address to receive Zipkin spans too)", zap.String("address", a.Zipkin))
				a.Zipkin = "off"
			}
		} else {
			f, err = otelbridge.NewForwarder(endpoint, exact, self...)
		}
		if err != nil {
			if a.Forward == "" { // from the environment: not this config's fault
				a.logger.Warn("not forwarding telemetry", zap.Error(err))
				return nil
			}
			return fmt.Errorf("tracebar: %w", err)
		}
		a.forwarder = f
		var warned atomic.Int32
		f.OnLost(func(err error) {
			if warned.Add(1) <= 5 {
				a.logger.Warn("telemetry not forwarded (counted in /api/stats forwardDroppedBatches)", zap.Error(err))
			}
		})
		if f.Protocol == "zipkin" {
			a.logger.Info("forwarding spans to Zipkin as v2 JSON; logs and metrics are not forwarded (Zipkin has no API for them)",
				zap.String("endpoint", f.Endpoint), zap.String("protocol", f.Protocol), zap.Bool("logs_and_metrics", false))
		} else {
			a.logger.Info("forwarding telemetry", zap.String("endpoint", f.Endpoint), zap.String("protocol", f.Protocol), zap.Bool("logs_and_metrics", f.ForwardsLogsAndMetrics()))
		}
	}
	return nil
}

// Redactor returns the redaction rules of this config.
func (a *App) Redactor() *toolbar.Redactor { return a.redactor }

// Forwarder returns the app's forwarder to a tracing backend, or nil.
func (a *App) Forwarder() *otelbridge.Forwarder { return a.forwarder }

// Validate checks the listen addresses and the toolbar's options.
func (a *App) Validate() error {
	if _, _, err := a.editorLinks(); err != nil {
		return fmt.Errorf("tracebar: %w", err)
	}
	if a.SlowQuery < 0 {
		return fmt.Errorf("tracebar: slow_query %s: want a positive duration", time.Duration(a.SlowQuery))
	}
	var seen []caddy.NetworkAddress
	for _, addr := range []string{a.OTLPHTTP, a.OTLPGRPC, a.Zipkin} {
		if addr == "off" {
			continue
		}
		na, err := caddy.ParseNetworkAddress(addr)
		if err != nil {
			return fmt.Errorf("tracebar: sink address %q: %w", addr, err)
		}
		// Two listeners on one port would share its connections.
		for _, other := range seen {
			if sameListener(na, other) {
				return fmt.Errorf("tracebar: otlp_http, otlp_grpc and zipkin need addresses of their own; %s and %s are one", other, na)
			}
		}
		seen = append(seen, na)
	}
	return nil
}

// sameListener reports whether two addresses take the same port: the same
// network and port, and the same host or one that covers the other (any
// loopback spelling, or a wildcard).
func sameListener(a, b caddy.NetworkAddress) bool {
	if a.Network != b.Network || a.StartPort != b.StartPort {
		return false
	}
	if a.IsUnixNetwork() {
		return a.Host == b.Host
	}
	wide := func(h string) bool {
		ip := net.ParseIP(h)
		return h == "" || ip != nil && ip.IsUnspecified()
	}
	loop := func(h string) bool { ip := net.ParseIP(h); return h == "localhost" || ip != nil && ip.IsLoopback() }
	return a.Host == b.Host || wide(a.Host) || wide(b.Host) || loop(a.Host) && loop(b.Host)
}

// Sink returns the shared OTLP sink, also served under the toolbar's
// prefix for the browser's spans.
func (a *App) Sink() *otelbridge.Sink { return a.sink }

// Store returns the span and request store shared by all handlers.
func (a *App) Store() *toolbar.Store { return a.store }

// Start opens the storage file, unless a config before opened it, and
// starts the OTLP sink, or keeps the one already running from the
// previous config. A storage file that cannot be opened fails the start;
// a sink that cannot listen is logged, not fatal: the proxy and the
// toolbar still work without the app's spans.
func (a *App) Start() error {
	if err := a.openStorage(); err != nil {
		return err
	}
	sink := a.sink
	a.sinkCfg = &otelbridge.SinkConfig{MaxBodyBytes: a.MaxBodyBytes, Forwarder: a.forwarder, CORSOrigins: a.CORSOrigins, Redactor: a.redactor, Metrics: a.metrics}
	a.prevCfg = sink.Configure(a.sinkCfg)
	a.backendSlot = &toolbar.BackendSlot{}
	if a.backend != nil { // not a nil *otelbridge.Backend in the interface
		a.backendSlot.Backend = a.backend
	}
	a.prevBackend = a.store.SetBackend(a.backendSlot)
	serveHTTP := func(h http.Handler) func(net.Listener) (caddy.Destructor, error) {
		return func(ln net.Listener) (caddy.Destructor, error) {
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
			go srv.Serve(ln)
			return httpServer{srv}, nil
		}
	}
	for _, s := range []struct {
		what, proto, addr string
		serve             func(net.Listener) (caddy.Destructor, error)
	}{
		{"OTLP sink", "http", a.OTLPHTTP, serveHTTP(sink)},
		{"OTLP sink", "grpc", a.OTLPGRPC, func(ln net.Listener) (caddy.Destructor, error) {
			srv := sink.NewGRPCServer()
			go srv.Serve(ln)
			return grpcServer{srv}, nil
		}},
		{"Zipkin receiver", "zipkin", a.Zipkin, serveHTTP(sink.ZipkinHandler())},
	} {
		if s.addr == "off" {
			continue
		}
		key := "tracebar.sink." + s.proto + "." + s.addr
		_, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
			ln, err := listen(s.addr)
			if err != nil {
				return nil, err
			}
			return s.serve(ln)
		})
		if err != nil {
			a.logger.Error(s.what+" not started; apps cannot send spans to it", zap.String("protocol", s.proto), zap.String("address", s.addr), zap.Error(err))
			continue
		}
		a.servers = append(a.servers, key)
		a.logger.Info(s.what+" listening", zap.String("protocol", s.proto), zap.String("address", s.addr))
		if host, _, err := net.SplitHostPort(s.addr); err == nil {
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				if host != "localhost" {
					a.logger.Warn(s.what+" is reachable beyond loopback: anyone who can connect can add spans", zap.String("address", s.addr))
				}
			}
		}
	}
	return nil
}

// Stop releases this config's hold on the sink servers; the last holder
// shuts them down.
func (a *App) Stop() error {
	a.sink.Restore(a.sinkCfg, a.prevCfg)
	a.store.RestoreBackend(a.backendSlot, a.prevBackend)
	var errs []error
	for _, key := range a.servers {
		if _, err := pool.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	a.servers = nil
	return errors.Join(errs...)
}

// Cleanup sends what is left to the backend and releases this config's
// hold on the store.
func (a *App) Cleanup() error {
	var errs []error
	if a.sink != nil && a.sinkCfg != nil {
		a.sink.Restore(a.sinkCfg, a.prevCfg) // Stop is skipped when setting up failed
		a.store.RestoreBackend(a.backendSlot, a.prevBackend)
	}
	if a.backend != nil {
		a.backend.Close()
	}
	if a.forwarder != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, a.forwarder.Shutdown(ctx))
		cancel()
	}
	if a.store != nil {
		_, err := pool.Delete(storeKey)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// listen opens a sink's listener. Caddy's listeners set SO_REUSEPORT (for
// graceful reloads), which lets a second process bind the same port without
// an error while the kernel splits the app's exports between the two. So a
// plain bind goes first: if the port is taken and not by a sink of this
// process (a reload that spells the address anew, 127.0.0.1:4318 then
// :4318), the address belongs to another process, a clear error. Then the
// listener is opened as Caddy does, so this process's old and new sinks
// can share the port while a reload hands over.
func listen(addr string) (net.Listener, error) {
	na, err := caddy.ParseNetworkAddress(addr)
	if err != nil {
		return nil, err
	}
	if na.PortRangeSize() != 1 {
		return nil, fmt.Errorf("%s: a sink listens on one port", addr)
	}
	if !na.IsUnixNetwork() {
		probe, err := net.Listen(na.Network, na.JoinHostPort(0))
		switch {
		case err == nil:
			probe.Close()
		case !errors.Is(err, syscall.EADDRINUSE):
			return nil, err
		case !sinkPorts.holds(na.StartPort):
			return nil, fmt.Errorf("another process listens on %s (another Caddy with Tracebar? give one of them other otlp_http/otlp_grpc/zipkin addresses, or off): %w", addr, err)
		}
	}
	ln, err := na.Listen(context.Background(), 0, net.ListenConfig{})
	if err != nil {
		return nil, err
	}
	l, ok := ln.(net.Listener)
	if !ok {
		return nil, fmt.Errorf("%s is not a stream listener", addr)
	}
	sinkPorts.add(na.StartPort, 1)
	return &portListener{Listener: l, port: na.StartPort}, nil
}

// sinkPorts counts the sink listeners of this process by port.
var sinkPorts = &ports{n: map[uint]int{}}

type ports struct {
	mu sync.Mutex
	n  map[uint]int
}

func (p *ports) add(port uint, d int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[port] += d; p.n[port] <= 0 {
		delete(p.n, port)
	}
}

func (p *ports) holds(port uint) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[port] > 0
}

// portListener gives its port back to sinkPorts when first closed.
type portListener struct {
	net.Listener
	port uint
	once sync.Once
}

func (l *portListener) Close() error {
	l.once.Do(func() { sinkPorts.add(l.port, -1) })
	return l.Listener.Close()
}

type httpServer struct{ *http.Server }

func (s httpServer) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

type grpcServer struct{ *grpc.Server }

func (s grpcServer) Destruct() error { s.GracefulStop(); return nil }
