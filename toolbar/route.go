package toolbar

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// What a record is known by in the history and in comparisons: its route
// ("GET /orders/{id}") and, for GraphQL and RPC endpoints, where every
// request shares one route, its operation ("query GetCart").

// RouteOf is rec's method and route, the key that groups the history and
// picks a comparison's baseline: "GET /orders/{id}". The route is the
// http.route of the app's SERVER span (see appSpans; the proxy's own span,
// spans[0], has none), else rec's URL path with its ids folded (FoldPath).
// spans are rec's spans as RecordSpans returns them. A record without a
// method (imported from a span that names none) has the route alone.
func RouteOf(rec *Record, spans []Span) string {
	route, _ := routeOf(rec, spans)
	return route
}

// routeOf is RouteOf, and whether the app's spans named the route
// (fromApp) rather than rec's path.
func routeOf(rec *Record, spans []Span) (route string, fromApp bool) {
	if route := appRoute(spans); route != "" {
		return methodRoute(rec.Method, route), true
	}
	return pathRouteOf(rec), false
}

// pathRouteOf is RouteOf without the app's help: what RouteOf says of rec
// before its app's spans arrive.
func pathRouteOf(rec *Record) string { return methodRoute(rec.Method, FoldPath(rec.URL)) }

// methodRoute puts method, when there is one, in front of route.
func methodRoute(method, route string) string {
	if method == "" {
		return route
	}
	return method + " " + route
}

// appRoute is the http.route of the app's SERVER span, without the method
// some frameworks put in front ("GET /orders/{id}") and with a leading
// slash where the framework leaves it out (Django: "orders/<int:pk>/");
// "" when no app span names one.
func appRoute(spans []Span) string {
	for _, i := range appSpans(spans) {
		sp := &spans[i]
		if sp.Kind != KindServer {
			continue
		}
		route := sp.AttrString("http.route")
		if method, rest, ok := strings.Cut(route, " "); ok && isUpperWord(method) {
			route = strings.TrimSpace(rest)
		}
		if route == "" {
			continue
		}
		if !strings.HasPrefix(route, "/") {
			route = "/" + route
		}
		return route
	}
	return ""
}

func isUpperWord(s string) bool {
	for _, c := range s {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return s != ""
}

// appSpans returns the indexes of the spans, after spans[0] (the proxy's
// SERVER span), that the proxy's client span and the app it called made:
// those reached without crossing into another service, where a SERVER
// span under a span of another kind (the caller's CLIENT span) begins one.
// The app's SERVER span is the first such crossing; an inventory service
// that the app calls is the second, and is left out, so its http.route
// never names the page's route. Behind a second Tracebar, the inner
// proxy is the app here. Spans come parents first, as RecordSpans orders
// them; a span whose parent is not among the earlier ones counts as the app's.
func appSpans(spans []Span) []int {
	if len(spans) < 2 {
		return nil
	}
	type hop struct {
		services int // SERVER crossings since the proxy's span
		kind     SpanKind
	}
	seen := make(map[SpanID]hop, len(spans))
	seen[spans[0].SpanID] = hop{0, spans[0].Kind}
	out := make([]int, 0, len(spans)-1)
	for i := 1; i < len(spans); i++ {
		sp := &spans[i]
		parent, ok := seen[sp.ParentSpanID]
		h := hop{parent.services, sp.Kind}
		switch {
		case !ok:
			h.services = 1
		case sp.Kind == KindServer && parent.kind != KindServer:
			h.services++
		}
		seen[sp.SpanID] = h
		if h.services <= 1 {
			out = append(out, i)
		}
	}
	return out
}

// FoldPath is the path of a request URI with its query dropped and the
// segments that are ids replaced by {id}, so that /orders/42?x=1 and
// /orders/43 share the route /orders/{id}. A segment is an id when it is
//
//   - all digits: 42, 2024;
//   - a UUID: 0b5f9a4e-7c1d-4e8a-9f3b-2d6c8e1a4b7f;
//   - 16 or more hex digits: a Mongo ObjectId, a SHA;
//   - four or more digits among other characters: ord_12345, INV-2024-0042,
//     a1b2c3d4, 2024-05-01, invoice-12345.pdf;
//   - a random token: 16 or more letters, digits, - and _, with digits and
//     both upper and lower case letters: cus_NffrFeUfNV2Hib.
//
// Words with a few digits stay (v2, page-2, oauth2, sha256, h264, mp3,
// v1.2.3), and so do lower-case slugs (how-to-use-http2-in-go): they name
// a route more often than a row.
func FoldPath(uri string) string {
	path, _, _ := strings.Cut(uri, "?")
	path, _, _ = strings.Cut(path, "#")
	if !strings.HasPrefix(path, "/") {
		// An absolute URI (a forward proxy's request), or "*".
		u, err := url.Parse(uri)
		if err != nil || !strings.HasPrefix(u.EscapedPath(), "/") {
			if path == "" {
				return "/"
			}
			return path
		}
		path = u.EscapedPath()
	}
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		if isIDSegment(seg) {
			segments[i] = "{id}"
		}
	}
	return strings.Join(segments, "/")
}

func isIDSegment(seg string) bool {
	if seg == "" {
		return false
	}
	var digits, hex, upper, lower, other int
	for i := 0; i < len(seg); i++ {
		switch c := seg[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			hex++
			if c >= 'a' {
				lower++
			} else {
				upper++
			}
		case c >= 'g' && c <= 'z':
			lower++
		case c >= 'G' && c <= 'Z':
			upper++
		case c == '-' || c == '_':
		default:
			other++
		}
	}
	switch {
	case digits == len(seg):
		return true
	case isUUID(seg):
		return true
	case digits+hex == len(seg) && len(seg) >= 16:
		return true
	case digits >= 4:
		return true
	}
	return other == 0 && len(seg) >= 16 && digits > 0 && upper > 0 && lower > 0
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// OperationOf names the GraphQL or RPC operation rec ran, which tells
// apart requests that share a route (POST /graphql), or "": from the app's
// spans (appSpans), graphql.operation.type and graphql.operation.name
// ("query GetCart"; either alone when the other is missing) or
// rpc.service and rpc.method ("shop.Cart/Get"); else the operationName of
// a captured JSON body (a GraphQL POST; a batch gives the names joined by
// ", ") or of the URL's query (a GraphQL GET), with the operation's type
// when the query text declares it.
func OperationOf(rec *Record, spans []Span) string {
	app := appSpans(spans)
	for _, i := range app {
		sp := &spans[i]
		if sp.Kind == KindClient {
			continue // the app asking another GraphQL API
		}
		typ := sp.AttrString("graphql.operation.type")
		name := sp.AttrString("graphql.operation.name")
		if op := strings.TrimSpace(typ + " " + name); op != "" {
			return op
		}
	}
	for _, i := range app {
		sp := &spans[i]
		if sp.Kind != KindServer {
			continue // the app's own calls to an RPC service
		}
		// Newer conventions put the service in rpc.method
		// ("shop.Cart/Get") and drop rpc.service.
		if method := sp.AttrString("rpc.method"); method != "" {
			if service := sp.AttrString("rpc.service"); service != "" {
				return service + "/" + method
			}
			return method
		}
	}
	if rec.RequestBody != nil && BodyKindOf(rec.RequestBody.ContentType) == JSONBody {
		return bodyOperation(rec.RequestBody.Text)
	}
	if _, query, ok := strings.Cut(rec.URL, "?"); ok && strings.Contains(query, "operationName=") {
		if q, err := url.ParseQuery(query); err == nil && q.Get("operationName") != "" {
			return graphQLOperation(q.Get("operationName"), q.Get("query"))
		}
	}
	return ""
}

// graphQLRequest is the part of a GraphQL-over-HTTP request body that
// names its operation.
type graphQLRequest struct {
	OperationName string `json:"operationName"`
	Query         string `json:"query"`
}

// bodyOperation reads the operation of a GraphQL request body, one
// request or a batch of them.
func bodyOperation(body string) string {
	body = strings.TrimSpace(body)
	var reqs []graphQLRequest
	if strings.HasPrefix(body, "[") {
		if json.Unmarshal([]byte(body), &reqs) != nil {
			return ""
		}
	} else {
		var one graphQLRequest
		if json.Unmarshal([]byte(body), &one) != nil {
			return ""
		}
		reqs = []graphQLRequest{one}
	}
	var names []string
	for _, req := range reqs {
		if req.OperationName != "" {
			names = append(names, graphQLOperation(req.OperationName, req.Query))
		}
	}
	return strings.Join(names, ", ")
}

// graphQLOperation puts the type in front of name when query declares
// the operation ("mutation AddToCart($sku: ID!) {...}"), as the
// graphql.operation.* attributes read.
func graphQLOperation(name, query string) string {
	for from := 0; ; {
		i := strings.Index(query[from:], name)
		if i < 0 {
			return name
		}
		at := from + i
		from = at + len(name)
		if from < len(query) && isNameChar(query[from]) {
			continue // a longer name that starts with this one
		}
		before := strings.TrimRight(query[:at], " \t\r\n")
		for _, typ := range []string{"query", "mutation", "subscription"} {
			if strings.HasSuffix(before, typ) && len(before) < at &&
				(len(before) == len(typ) || !isNameChar(before[len(before)-len(typ)-1])) {
				return typ + " " + name
			}
		}
	}
}

func isNameChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// recordFacts are what a record's summary reads off its spans.
type recordFacts struct {
	route     string // RouteOf
	pathRoute string // pathRouteOf: the route until the app's spans name one
	appRouted bool   // the app's spans named the route
	operation string
	services  []string // service.name of its spans, in order of appearance
	queries   int      // database spans
	failed    bool     // a 5xx status, or a span with an error status or an exception
}

// readFacts reads rec's facts off its spans (RecordSpans); spans without
// a service.name add no service.
func readFacts(rec *Record, spans []Span) recordFacts {
	f := recordFacts{
		pathRoute: pathRouteOf(rec),
		operation: OperationOf(rec, spans),
		services:  []string{},
	}
	f.route, f.appRouted = routeOf(rec, spans)
	for i := range spans {
		sp := &spans[i]
		if service := sp.Service(); service != "" && !slices.Contains(f.services, service) {
			f.services = append(f.services, service)
		}
		if isDBSpan(sp) {
			f.queries++
		}
	}
	// As the alerts see it: a 404 the proxy's span carries is no error.
	f.failed = rec.Status >= 500 || len(newSpanTree(spans).errorSpans(rec)) > 0
	return f
}

// sameRoute reports whether two records' facts name one route: the same
// RouteOf, or, while either record's app spans have not named a route
// (they arrive seconds after the proxy's record), the same folded path.
func sameRoute(a, b recordFacts) bool {
	return a.route == b.route ||
		(!a.appRouted || !b.appRouted) && a.pathRoute == b.pathRoute
}
