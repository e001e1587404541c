package caddymodule

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("tracebar", parseHandler)
	// Right after encode: compression wraps the toolbar, and the toolbar
	// wraps every route, including sites written with handle {}.
	httpcaddyfile.RegisterDirectiveOrder("tracebar", httpcaddyfile.After, "encode")
	httpcaddyfile.RegisterGlobalOption("tracebar", parseApp)
}

var (
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*App)(nil)
)

func parseHandler(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var th Handler
	err := th.UnmarshalCaddyfile(h.Dispenser)
	return &th, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	tracebar {
//	    prefix       <path>
//	    allow        <cidr...>
//	    propagators  <tracecontext|baggage|b3|b3multi|none...>
//	    service_name <name>
//	    trace_link   <url with {trace_id}> | <jaeger|zipkin|tempo> [<base URL>]
//	    hosts        <name...>
//	    secret       <secret>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "prefix":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Prefix = d.Val()
		case "service_name":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.ServiceName = d.Val()
		case "secret":
			if !d.NextArg() {
				return d.ArgErr()
			}
			h.Secret = d.Val()
		case "hosts":
			if h.Hosts = append(h.Hosts, d.RemainingArgs()...); len(h.Hosts) == 0 {
				return d.ArgErr()
			}
		case "trace_link":
			args := d.RemainingArgs()
			if len(args) == 0 || len(args) > 2 {
				return d.ArgErr()
			}
			link, preset := traceLinkPreset(args[0], args[1:]...)
			if !preset && len(args) == 2 {
				return d.Errf("trace_link %q is neither a URL nor one of jaeger, zipkin, tempo", args[0])
			}
			h.TraceLink = link
		case "allow":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				if _, err := parsePrefix(a); err != nil {
					return d.Errf("allow: %v", err)
				}
			}
			h.Allow = append(h.Allow, args...)
		case "propagators":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.Propagators = append(h.Propagators, args...)
		default:
			return d.Errf("unknown tracebar option %q", d.Val())
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return nil
}

func parseApp(d *caddyfile.Dispenser, existing any) (any, error) {
	var a App
	if existing != nil {
		return nil, d.Err("tracebar global option given twice")
	}
	if err := a.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "tracebar", Value: caddyconfig.JSON(a, nil)}, nil
}

// UnmarshalCaddyfile sets up the app from the global option. Syntax:
//
//	{
//	    tracebar {
//	        otlp_http      <addr|off>
//	        otlp_grpc      <addr|off>
//	        zipkin         <addr|off>
//	        max_traces     <n>
//	        max_spans      <n>
//	        max_requests   <n>
//	        max_bytes      <n>
//	        max_body_bytes <n>
//	        forward        <http://host:port|grpc://host:port|zipkin://host:port|off>
//	        forward_protocol <otlp|zipkin>
//	        cors_origins   <origin...>
//	        redact         <name...>
//	        backend        <http(s) URL of the backend's query API|off>
//	        backend_api    <jaeger|tempo|zipkin>
//	        editor         <vscode|cursor|idea|phpstorm|sublime|URL template with {file} {line}>
//	        editor_paths   <container-prefix>=<host-prefix>...
//	        slow_query     <duration>
//	        storage        <path of a file>
//	    }
//	}
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // option name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		opt := d.Val()
		switch opt {
		case "cors_origins":
			if a.CORSOrigins = d.RemainingArgs(); len(a.CORSOrigins) == 0 {
				return d.ArgErr()
			}
			continue
		case "redact":
			if a.Redact = d.RemainingArgs(); len(a.Redact) == 0 {
				return d.ArgErr()
			}
			continue
		case "editor_paths": // repeatable
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, arg := range args {
				if _, err := parsePathMap(arg); err != nil {
					return d.Errf("%v", err)
				}
			}
			a.EditorPaths = append(a.EditorPaths, args...)
			continue
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		switch opt {
		case "forward":
			a.Forward = val
		case "storage":
			a.Storage = val
		case "backend":
			if val != "off" {
				if u, err := url.Parse(val); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return d.Errf("backend: want an http(s) URL like http://localhost:16686, got %q", val)
				}
			}
			a.Backend = val
		case "backend_api":
			if val != "jaeger" && val != "tempo" && val != "zipkin" {
				return d.Errf("backend_api: want jaeger, tempo or zipkin, got %q", val)
			}
			a.BackendAPI = val
		case "editor":
			if _, err := editorTemplate(val); err != nil {
				return d.Errf("%v", err)
			}
			a.Editor = val
		case "slow_query":
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur <= 0 {
				return d.Errf("slow_query: want a positive duration like 250ms, got %q", val)
			}
			a.SlowQuery = caddy.Duration(dur)
		case "forward_protocol":
			if val != "otlp" && val != "zipkin" {
				return d.Errf("forward_protocol: want otlp or zipkin, got %q", val)
			}
			a.ForwardProtocol = val
		case "otlp_http", "otlp_grpc", "zipkin":
			if val != "off" {
				if _, err := caddy.ParseNetworkAddress(val); err != nil {
					return d.Errf("%s: %v", opt, err)
				}
			}
			switch opt {
			case "otlp_http":
				a.OTLPHTTP = val
			case "otlp_grpc":
				a.OTLPGRPC = val
			default:
				a.Zipkin = val
			}
		case "max_traces", "max_spans", "max_requests", "max_bytes", "max_body_bytes":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n <= 0 {
				return d.Errf("%s: want a positive integer, got %q", opt, val)
			}
			switch opt {
			case "max_traces":
				a.MaxTraces = int(n)
			case "max_spans":
				a.MaxSpans = int(n)
			case "max_requests":
				a.MaxRequests = int(n)
			case "max_bytes":
				a.MaxBytes = int(n)
			default:
				a.MaxBodyBytes = n
			}
		default:
			return d.Errf("unknown tracebar global option %q", opt)
		}
	}
	return nil
}

// traceLinkPresets are the trace pages of the backends a team runs, at
// their default addresses: Jaeger's UI, Zipkin's UI, and Grafana's Explore
// on a Tempo data source named "tempo".
var traceLinkPresets = map[string]struct{ base, path string }{
	"jaeger": {"http://localhost:16686", "/trace/{trace_id}"},
	"zipkin": {"http://localhost:9411", "/zipkin/traces/{trace_id}"},
	"tempo": {"http://localhost:3000", "/explore?left=" + url.QueryEscape(`{"datasource":"tempo","queries":[{"refId":"A","queryType":"traceql","query":"`) +
		"{trace_id}" + url.QueryEscape(`"}],"range":{"from":"now-1h","to":"now"}}`)},
}

// traceLinkPreset returns the link template a trace_link argument names:
// a preset, on its default or the given base URL, or the argument itself.
func traceLinkPreset(arg string, base ...string) (link string, preset bool) {
	p, ok := traceLinkPresets[arg]
	if !ok {
		return arg, false
	}
	if len(base) > 0 {
		p.base = strings.TrimSuffix(base[0], "/")
	}
	return p.base + p.path, true
}

// editorLinks returns the editor option as a URL template ("" for none)
// and the editor_paths as path maps.
func (a *App) editorLinks() (template string, paths []toolbar.PathMap, err error) {
	if template, err = editorTemplate(a.Editor); err != nil {
		return "", nil, err
	}
	for _, s := range a.EditorPaths {
		m, err := parsePathMap(s)
		if err != nil {
			return "", nil, err
		}
		paths = append(paths, m)
	}
	return template, paths, nil
}

// configureAPI gives the toolbar's API the app's options: editor links,
// the slow query threshold (zero passes through: the API's default),
// imports decoded and redacted as the sink's spans are, and the
// forwarder's drop count.
func (a *App) configureAPI(api *toolbar.API) error {
	var err error
	if api.Editor, api.EditorPaths, err = a.editorLinks(); err != nil {
		return err
	}
	api.SlowQuery = time.Duration(a.SlowQuery)
	api.Metrics = a.metrics
	redactor := a.Redactor()
	api.DecodeTraces = func(b []byte) ([]toolbar.Span, error) { return otelbridge.DecodeTraces(b, redactor) }
	if f := a.Forwarder(); f != nil {
		api.ForwardDropped = f.Dropped
	}
	return nil
}

// editorTemplate returns the URL template an editor option names: a
// preset's, or the option itself when it is a template of a link scheme
// with {file}.
func editorTemplate(editor string) (string, error) {
	if editor == "" {
		return "", nil
	}
	if t, ok := toolbar.EditorPresets[strings.ToLower(editor)]; ok {
		return t, nil
	}
	scheme, _, isURL := strings.Cut(editor, ":")
	if !isURL || !validScheme(scheme) {
		presets := slices.Sorted(maps.Keys(toolbar.EditorPresets))
		return "", fmt.Errorf("editor %q: want one of %s, or a URL template with {file} and {line}", editor, strings.Join(presets, ", "))
	}
	if !strings.Contains(editor, "{file}") {
		return "", fmt.Errorf("editor %q: the URL template has no {file}", editor)
	}
	switch strings.ToLower(scheme) {
	case "javascript", "data", "vbscript":
		return "", fmt.Errorf("editor %q: a %s: URL opens no file", editor, scheme)
	}
	return editor, nil
}

// validScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, +, - or .).
func validScheme(s string) bool {
	for i, c := range s {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return s != ""
}

// parsePathMap reads an editor_paths argument, <container-prefix>=<host-prefix>.
func parsePathMap(s string) (toolbar.PathMap, error) {
	from, to, ok := strings.Cut(s, "=")
	if !ok || from == "" || to == "" {
		return toolbar.PathMap{}, fmt.Errorf("editor_paths %q: want <container-prefix>=<host-prefix>, like /app=/home/me/shop", s)
	}
	return toolbar.PathMap{From: from, To: to}, nil
}
