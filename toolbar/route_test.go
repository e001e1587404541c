package toolbar

import (
	"testing"
	"time"
)

func TestFoldPathFoldsIdsAndKeepsWords(t *testing.T) {
	tests := []struct{ uri, want string }{
		{"/orders/42", "/orders/{id}"},
		{"/orders/42?ref=nav&page=2", "/orders/{id}"},
		{"/orders/42#items", "/orders/{id}"},
		{"/users/7/orders/1043/items", "/users/{id}/orders/{id}/items"},
		{"/carts/0b5f9a4e-7c1d-4e8a-9f3b-2d6c8e1a4b7f", "/carts/{id}"},
		{"/carts/0B5F9A4E-7C1D-4E8A-9F3B-2D6C8E1A4B7F/checkout", "/carts/{id}/checkout"},
		{"/commits/3f786850e387550fdab836ed7e6dc881de23001b", "/commits/{id}"},
		{"/posts/507f1f77bcf86cd799439011", "/posts/{id}"}, // a Mongo ObjectId
		{"/orders/ord_12345", "/orders/{id}"},
		{"/invoices/INV-2024-0042", "/invoices/{id}"},
		{"/invoices/invoice-12345.pdf", "/invoices/{id}"},
		{"/archive/2024-05-01", "/archive/{id}"},
		{"/tokens/a1b2c3d4", "/tokens/{id}"},
		{"/customers/cus_NffrFeUfNV2Hib", "/customers/{id}"},
		// Words with a few digits, and slugs, name routes.
		{"/api/v2/products", "/api/v2/products"},
		{"/list/page-2", "/list/page-2"},
		{"/auth/oauth2/callback", "/auth/oauth2/callback"},
		{"/hash/sha256", "/hash/sha256"},
		{"/static/app.v1.2.3.js", "/static/app.v1.2.3.js"},
		{"/blog/how-to-use-http2-in-go", "/blog/how-to-use-http2-in-go"},
		{"/products/espresso-cup", "/products/espresso-cup"},
		{"/cafe/deadbeef", "/cafe/deadbeef"}, // hex, but short: a word
		{"/", "/"},
		{"/orders/", "/orders/"},
		{"", "/"},
		{"?q=1", "/"},
		{"*", "*"},
		{"http://shop.test/orders/42?x=1", "/orders/{id}"},
	}
	for _, tt := range tests {
		if got := FoldPath(tt.uri); got != tt.want {
			t.Errorf("FoldPath(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}

// demoSpans are a proxy span, its client span and an app SERVER span
// (with attrs) under it, as RecordSpans returns them.
func demoSpans(appAttrs ...KeyValue) []Span {
	return []Span{
		{SpanID: sid(1), Name: "GET /orders/42", Kind: KindServer, Resource: proxyService,
			Attributes: []KeyValue{str("url.path", "/orders/42")}},
		{SpanID: sid(2), ParentSpanID: sid(1), Name: "GET upstream", Kind: KindClient, Resource: proxyService},
		{SpanID: sid(3), ParentSpanID: sid(2), Name: "GET /orders/42", Kind: KindServer, Resource: shopService, Attributes: appAttrs},
	}
}

func TestRouteOfPrefersTheAppsRoute(t *testing.T) {
	rec := &Record{Method: "GET", URL: "/orders/42?ref=nav"}
	downstream := append(demoSpans(),
		Span{SpanID: sid(4), ParentSpanID: sid(3), Name: "GET", Kind: KindClient, Resource: shopService},
		Span{SpanID: sid(5), ParentSpanID: sid(4), Name: "GET /stock", Kind: KindServer, Resource: inventoryService,
			Attributes: []KeyValue{str("http.route", "/stock")}})
	nested := append(demoSpans(str("http.route", "/orders/{id}")),
		Span{SpanID: sid(6), ParentSpanID: sid(3), Name: "handler", Kind: KindServer, Resource: shopService,
			Attributes: []KeyValue{str("http.route", "/inner")}})
	tests := []struct {
		name  string
		spans []Span
		want  string
	}{
		{"http.route of the app's SERVER span", demoSpans(str("http.route", "/orders/{id}")), "GET /orders/{id}"},
		{"an Express route", demoSpans(str("http.route", "/orders/:id")), "GET /orders/:id"},
		{"a Django route, without its leading slash", demoSpans(str("http.route", "orders/<int:pk>/")), "GET /orders/<int:pk>/"},
		{"a Go pattern with its method", demoSpans(str("http.route", "GET /orders/{id}")), "GET /orders/{id}"},
		{"no http.route: the folded path", demoSpans(), "GET /orders/{id}"},
		{"an empty http.route: the folded path", demoSpans(str("http.route", "")), "GET /orders/{id}"},
		{"no spans yet", nil, "GET /orders/{id}"},
		{"only the proxy's spans", demoSpans()[:2], "GET /orders/{id}"},
		{"never the route of a service the app called", downstream, "GET /orders/{id}"},
		{"the app's outer SERVER span before a nested one", nested, "GET /orders/{id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RouteOf(rec, tt.spans); got != tt.want {
				t.Errorf("RouteOf = %q, want %q", got, tt.want)
			}
		})
	}
	// The proxy's own span never names the route, even with http.route.
	proxyOnly := demoSpans()[:1]
	proxyOnly[0].Attributes = []KeyValue{str("http.route", "/proxy")}
	if got := RouteOf(&Record{Method: "GET", URL: "/a/1"}, proxyOnly); got != "GET /a/{id}" {
		t.Errorf("RouteOf with the proxy's http.route = %q", got)
	}
}

func TestOperationOfNamesGraphQLAndRPCOperations(t *testing.T) {
	graphqlSpan := func(attrs ...KeyValue) []Span {
		spans := demoSpans(str("http.route", "/graphql"))
		return append(spans, Span{SpanID: sid(4), ParentSpanID: sid(3), Name: "graphql.execute", Kind: KindInternal,
			Resource: shopService, Attributes: attrs})
	}
	post := func(contentType, body string) *Record {
		return &Record{Method: "POST", URL: "/graphql", RequestBody: &Body{ContentType: contentType, Text: body}}
	}
	cartQuery := `{"operationName":"GetCart","query":"query GetCart($id: ID!) { cart(id: $id) { lines { sku } } }","variables":{"id":"7"}}`
	tests := []struct {
		name  string
		rec   *Record
		spans []Span
		want  string
	}{
		{"graphql type and name", post("", ""),
			graphqlSpan(str("graphql.operation.type", "query"), str("graphql.operation.name", "GetCart")), "query GetCart"},
		{"graphql name alone", post("", ""), graphqlSpan(str("graphql.operation.name", "GetCart")), "GetCart"},
		{"graphql type alone (an anonymous operation)", post("", ""), graphqlSpan(str("graphql.operation.type", "mutation")), "mutation"},
		{"the spans before the body", post("application/json", cartQuery),
			graphqlSpan(str("graphql.operation.type", "query"), str("graphql.operation.name", "FromSpan")), "query FromSpan"},
		{"rpc service and method of the app's SERVER span", &Record{Method: "POST", URL: "/shop.Cart/Get"},
			demoSpans(str("rpc.system", "grpc"), str("rpc.service", "shop.Cart"), str("rpc.method", "Get")), "shop.Cart/Get"},
		{"rpc method fully qualified (newer conventions)", &Record{Method: "POST", URL: "/shop.Cart/Get"},
			demoSpans(str("rpc.system.name", "grpc"), str("rpc.method", "shop.Cart/Get")), "shop.Cart/Get"},
		{"not an rpc the app called", &Record{Method: "GET", URL: "/orders/1"},
			append(demoSpans(), Span{SpanID: sid(4), ParentSpanID: sid(3), Name: "inventory.Stock/Check", Kind: KindClient,
				Resource: shopService, Attributes: []KeyValue{str("rpc.service", "inventory.Stock"), str("rpc.method", "Check")}}), ""},
		{"captured JSON body", post("application/json; charset=utf-8", cartQuery), demoSpans(), "query GetCart"},
		{"captured body of a mutation", post("application/json",
			`{"operationName":"AddToCart","query":"query Cart { cart { id } }\nmutation AddToCart($sku: ID!) { add(sku: $sku) { id } }"}`),
			nil, "mutation AddToCart"},
		{"captured body without the operation's text", post("application/graphql+json", `{"operationName":"GetCart","extensions":{"persistedQuery":{"version":1}}}`),
			nil, "GetCart"},
		{"a batch", post("application/json", `[{"operationName":"GetCart","query":"query GetCart { cart { id } }"},{"operationName":"Me","query":"{ me { id } }"}]`),
			nil, "query GetCart, Me"},
		{"a body that is not JSON", post("application/x-www-form-urlencoded", "operationName=GetCart&query=x"), nil, ""},
		{"a JSON body without an operationName", post("application/json", `{"query":"{ cart { id } }"}`), nil, ""},
		{"a body that does not parse", post("application/json", `{"operationName":`), nil, ""},
		{"a GraphQL GET", &Record{Method: "GET", URL: "/graphql?operationName=GetCart&query=query%20GetCart%20%7B%20cart%20%7B%20id%20%7D%20%7D"},
			nil, "query GetCart"},
		{"a plain page", &Record{Method: "GET", URL: "/orders/42"}, demoSpans(str("http.route", "/orders/{id}")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OperationOf(tt.rec, tt.spans); got != tt.want {
				t.Errorf("OperationOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadFactsSummarizesTheSpans(t *testing.T) {
	failedQuery := func(sp *Span) { sp.Status = Status{Code: StatusError, Message: "no such table"} }
	exception := func(sp *Span) {
		sp.Events = []Event{{Name: "exception", Attributes: []KeyValue{str("exception.type", "KeyError")}}}
	}
	tests := []struct {
		name     string
		status   int
		at       int // the span changed: 1 the proxy's CLIENT span, 3 the orders query
		change   func(*Span)
		wantFail bool
	}{
		{"a good load", 200, 3, nil, false},
		{"a 5xx", 503, 3, nil, true},
		{"a 4xx is no error", 404, 3, nil, false},
		// The Go SDK's otelhttp marks a CLIENT span of a 4xx as an error:
		// it only carries the status the record shows.
		{"a 4xx the proxy's span carries is no error", 404, 1, func(sp *Span) {
			sp.Status = Status{Code: StatusError}
			sp.Attributes = append(sp.Attributes, KeyValue{"http.response.status_code", ValueOf(int64(404))})
		}, false},
		{"a span with an error status", 200, 3, failedQuery, true},
		{"a span with an exception", 200, 3, exception, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, spans := orderLoad(1, time.Now(), 42, 3, 1, nil)
			rec.Status = tt.status
			if tt.change != nil {
				tt.change(&spans[tt.at])
			}
			f := readFacts(rec, spans)
			if f.failed != tt.wantFail {
				t.Errorf("failed %v, want %v", f.failed, tt.wantFail)
			}
			if f.route != "GET /orders/{id}" || f.queries != 4 || len(f.services) != 3 ||
				f.services[0] != "tracebar" || f.services[1] != "shop" || f.services[2] != "inventory" {
				t.Errorf("facts %+v, want the route, 4 queries, three services in order", f)
			}
		})
	}
}
