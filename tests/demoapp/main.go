// Command demoapp is the app behind Tracebar's demo: a small shop page that
// does real work (a SQL query on an embedded SQLite database, an HTTP call
// to a second service, a template render), instrumented with the
// OpenTelemetry Go SDK and exporting OTLP to the standard endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318).
//
// Routes: / and /api/products (one query, one inventory call),
// /products/{slug} (one query; one route, many paths), /orders
// (an N+1, an exception, a log record; /old-orders redirects there, and
// /very-old-orders to /old-orders), /cart (an N+1 that grows by one query
// per load), /availability (three inventory calls one after another),
// /boom (a 500 with an exception and its stack trace), /report (a slow
// query) and POST /graphql. It exports metrics too (metrics.go; POST
// /debug/flush-metrics exports them now). The app's SERVER spans carry
// http.route and the handler's code.*; its queries the code.* of the line
// that issued them.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address of the shop (web) service")
	invAddr := flag.String("inventory", "127.0.0.1:3001", "address of the inventory service")
	invURL := flag.String("inventory-url", "", "URL the shop calls the inventory service at (default: http://<inventory>; e.g. a Caddy in front of it)")
	flag.Parse()
	if *invURL == "" {
		*invURL = "http://" + *invAddr
	}
	if err := run(*addr, *invAddr, *invURL); err != nil {
		log.Fatal(err)
	}
}

func run(addr, invAddr, invURL string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	webTP, err := newProvider(ctx, "shop-web")
	if err != nil {
		return err
	}
	defer shutdown(webTP)
	invTP, err := newProvider(ctx, "inventory")
	if err != nil {
		return err
	}
	defer shutdown(invTP)

	db, err := openDB()
	if err != nil {
		return err
	}
	defer db.Close()
	meters, err := newMeters(ctx, db)
	if err != nil {
		return err
	}
	defer meters.shutdown()

	s := &shop{
		db:        db,
		tracer:    webTP.Tracer("demoapp/shop"),
		inventory: strings.TrimSuffix(invURL, "/"),
		client:    &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(webTP), otelhttp.WithMeterProvider(meters.web))},
		loaded:    meters.loaded,
		logs:      otlpEndpoint() + "/v1/logs",
	}
	web := http.NewServeMux()
	handle(web, "GET /{$}", s, (*shop).index)
	handle(web, "GET /api/products", s, (*shop).products)
	handle(web, "GET /orders", s, (*shop).orders)
	handle(web, "GET /old-orders", s, (*shop).oldOrders)
	handle(web, "GET /products/{slug}", s, (*shop).product)
	handle(web, "GET /cart", s, (*shop).cart)
	handle(web, "GET /availability", s, (*shop).availability)
	handle(web, "GET /boom", s, (*shop).boom)
	handle(web, "GET /report", s, (*shop).report)
	handle(web, "GET /very-old-orders", s, (*shop).veryOldOrders)
	handle(web, "POST /graphql", s, (*shop).graphql)
	web.Handle(flushPath, meters.flush())
	inv := http.NewServeMux()
	handle(inv, "GET /stock", &warehouse{tracer: invTP.Tracer("demoapp/inventory")}, (*warehouse).stock)

	servers := []*http.Server{
		{Addr: addr, Handler: otelhttp.NewHandler(web, "shop", otelhttp.WithTracerProvider(webTP), otelhttp.WithMeterProvider(meters.web), otelhttp.WithFilter(notFlush), spanName())},
		{Addr: invAddr, Handler: otelhttp.NewHandler(inv, "inventory", otelhttp.WithTracerProvider(invTP), otelhttp.WithMeterProvider(meters.inv), spanName())},
	}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return err
		}
		go func() { errc <- srv.Serve(ln) }()
	}
	fmt.Printf("listening %s (inventory on %s)\n", addr, invAddr)
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	for _, srv := range servers {
		srv.Close()
	}
	return nil
}

func spanName() otelhttp.Option {
	return otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
		return r.Method + " " + r.URL.Path
	})
}

func newProvider(ctx context.Context, service string) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(200*time.Millisecond)),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))),
	), nil
}

func shutdown(tp *sdktrace.TracerProvider) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tp.Shutdown(ctx)
}

func openDB() (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:shop?mode=memory&cache=shared")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	_, err = db.Exec(`CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price_cents INTEGER);
		INSERT INTO products (name, price_cents) VALUES
		('Espresso cup', 900), ('Pour-over kettle', 4200), ('Grinder', 12900), ('Beans, 1 kg', 2400);
		CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, product_id INTEGER);
		INSERT INTO orders (customer, product_id) VALUES ('Ada', 3), ('Grace', 1), ('Linus', 4), ('Barbara', 2);
		CREATE TABLE cart_items (id INTEGER PRIMARY KEY, product_id INTEGER);`)
	return db, err
}

type product struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	Price   string `json:"price"`
	InStock int    `json:"inStock"`
}

type shop struct {
	db        *sql.DB
	tracer    trace.Tracer
	inventory string
	client    *http.Client
	logs      string // OTLP/HTTP logs endpoint
	loaded    metric.Int64Counter
}

// query runs a SQL query on products in a CLIENT span with the database
// semantic conventions and the code.* of the line that called it.
func (s *shop) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.queryAt(ctx, codeAttrs(1), "products", q, args...)
}

// queryTable is query on another table.
func (s *shop) queryTable(ctx context.Context, table, q string, args ...any) (*sql.Rows, error) {
	return s.queryAt(ctx, codeAttrs(1), table, q, args...)
}

func (s *shop) queryAt(ctx context.Context, code []attribute.KeyValue, table, q string, args ...any) (*sql.Rows, error) {
	ctx, span := s.dbSpan(ctx, code, "SELECT", table, q)
	defer span.End()
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return rows, err
}

// exec runs a SQL statement that returns no rows (operation: its first
// word) in a CLIENT span, as query does.
func (s *shop) exec(ctx context.Context, table, q string, args ...any) (sql.Result, error) {
	op, _, _ := strings.Cut(q, " ")
	ctx, span := s.dbSpan(ctx, codeAttrs(1), op, table, q)
	defer span.End()
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return res, err
}

func (s *shop) dbSpan(ctx context.Context, code []attribute.KeyValue, op, table, q string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, op+" "+table, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "sqlite"), attribute.String("db.query.text", q),
			attribute.String("db.collection.name", table), attribute.String("db.operation.name", op)),
		trace.WithAttributes(code...))
}

func (s *shop) load(ctx context.Context) ([]product, error) {
	ps, err := s.listProducts(ctx)
	if err != nil {
		return nil, err
	}
	s.loaded.Add(ctx, int64(len(ps))) // in the request's span: an exemplar
	// The inventory service knows the stock: one call for all products.
	stock, err := s.stock(ctx, "")
	if err != nil {
		return nil, err
	}
	for i := range ps {
		ps[i].InStock = stock[strconv.Itoa(ps[i].ID)]
	}
	return ps, nil
}

// stock asks the inventory service for the stock per product id, of one
// warehouse or ("") of all.
func (s *shop) stock(ctx context.Context, warehouse string) (map[string]int, error) {
	u := s.inventory + "/stock"
	if warehouse != "" {
		u += "?warehouse=" + url.QueryEscape(warehouse)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer resp.Body.Close()
	var stock map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&stock); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return stock, nil
}

var page = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Demo shop</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;color:#222}td,th{padding:.3rem .8rem;text-align:left}</style>
</head>
<body>
<h1>Demo shop</h1>
<p>This page was served through Caddy with Tracebar. The toolbar in the corner shows this request: timings, headers and a trace from the proxy through this app to its database and the inventory service.</p>
<table><tr><th>Product</th><th>Price</th><th>In stock</th></tr>
{{range .}}<tr><td>{{.Name}}</td><td>{{.Price}}</td><td>{{.InStock}}</td></tr>
{{end}}</table>
<p><button id="reload" type="button">Fetch /api/products</button> <span id="out"></span></p>
<h2>More pages</h2>
<ul>
<li><a href="/orders">Orders</a>: an N+1 query, an exception, a log record and requests made after load (SQL, Logs and Requests panels)</li>
<li><a href="/old-orders">Old orders link</a>: a redirect to the orders page (Requests: the redirects that led here)</li>
<li><a href="/api/products">/api/products</a>: JSON, which gets no toolbar (see it in the toolbar&rsquo;s history)</li>
<li><a href="/cart">Cart</a>: one more query on every load (Compare: what changed since the last load)</li>
<li><a href="/availability">Availability</a>: three calls to the inventory service, one after another (Alerts)</li>
<li><a href="/boom">Checkout</a>: a 500 with an exception and its stack trace</li>
<li><a href="/report">Sales report</a>: a slow query</li>
</ul>
<script>
document.getElementById('reload').onclick = async () => {
  const r = await fetch('/api/products');
  document.getElementById('out').textContent = (await r.json()).length + ' products';
};
</script>
</body>
</html>
`))

func (s *shop) index(w http.ResponseWriter, r *http.Request) {
	ps, err := s.load(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	_, span := s.tracer.Start(r.Context(), "render index.html", trace.WithAttributes(attribute.String("template.name", "index")))
	defer span.End()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, ps); err != nil {
		span.RecordError(err)
	}
}

func (s *shop) products(w http.ResponseWriter, r *http.Request) {
	ps, err := s.load(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ps)
}

// warehouse is the inventory service.
type warehouse struct {
	tracer trace.Tracer
}

// stock answers the stock per product id, of the warehouse named by the
// query parameter warehouse or of all.
func (wh *warehouse) stock(w http.ResponseWriter, r *http.Request) {
	key := "stock:all"
	if name := r.URL.Query().Get("warehouse"); name != "" {
		key = "stock:" + name
	}
	_, span := wh.tracer.Start(r.Context(), "compute stock")
	time.Sleep(3 * time.Millisecond) // a warehouse lookup
	span.AddEvent("cache miss", trace.WithAttributes(attribute.String("cache.key", key)))
	span.End()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"1":12,"2":3,"3":0,"4":40}`))
}

type order struct {
	ID        int
	Customer  string
	ProductID int
	Product   string
	Price     string
}

func (s *shop) oldOrders(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/orders", http.StatusFound)
}

// orders is the page with the classic N+1: one query for the orders, then
// one per order for its product (the id inlined in the SQL text, as many
// ORMs log it). It also fails to apply a coupon (an exception event on a
// span with error status), logs a warning as an OTLP log record, and its
// script fetches /api/products and calls it again with XHR after load,
// through a fetch reference taken before any of the page's code ran.
func (s *shop) orders(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, err := s.loadOrders(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, span := s.tracer.Start(ctx, "apply coupon", trace.WithAttributes(attribute.String("coupon.code", "SPRING")))
	cerr := errors.New(`coupon "SPRING" expired on 2024-03-31`)
	span.RecordError(cerr, trace.WithStackTrace(true))
	span.SetStatus(codes.Error, cerr.Error())
	span.End()
	s.log(ctx, 13, "WARN", "order 3 is waiting for stock")

	_, rs := s.tracer.Start(ctx, "render orders.html", trace.WithAttributes(attribute.String("template.name", "orders")))
	defer rs.End()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := ordersPage.Execute(w, list); err != nil {
		rs.RecordError(err)
	}
}

func (s *shop) loadOrders(ctx context.Context) ([]order, error) {
	rows, err := s.queryTable(ctx, "orders", "SELECT id, customer, product_id FROM orders ORDER BY id")
	if err != nil {
		return nil, err
	}
	var list []order
	for rows.Next() {
		var o order
		if err := rows.Scan(&o.ID, &o.Customer, &o.ProductID); err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, o)
	}
	rows.Close()
	for i := range list {
		prow, err := s.query(ctx, fmt.Sprintf("SELECT name, price_cents FROM products WHERE id = %d", list[i].ProductID))
		if err != nil {
			return nil, err
		}
		var cents int
		if prow.Next() {
			prow.Scan(&list[i].Product, &cents)
		}
		prow.Close()
		list[i].Price = fmt.Sprintf("%d.%02d", cents/100, cents%100)
	}
	return list, nil
}

var ordersPage = template.Must(template.New("orders").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Orders</title>
<script>const appFetch = window.fetch;</script>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;color:#222}td,th{padding:.3rem .8rem;text-align:left}</style>
</head>
<body>
<h1>Orders</h1>
<table><tr><th>#</th><th>Customer</th><th>Product</th><th>Price</th></tr>
{{range .}}<tr><td>{{.ID}}</td><td>{{.Customer}}</td><td>{{.Product}}</td><td>{{.Price}}</td></tr>
{{end}}</table>
<p id="out">Loading stock&hellip;</p>
<script>
addEventListener('load', async () => {
  const ps = await (await appFetch('/api/products')).json();
  const x = new XMLHttpRequest();
  x.open('GET', '/api/products?via=xhr');
  x.onloadend = () => {
    document.getElementById('out').textContent = ps.length + ' products in stock (XHR ' + x.status + ')';
    document.body.dataset.fetched = 'done';
  };
  x.send();
});
</script>
</body>
</html>
`))

func otlpEndpoint() string {
	if e := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); e != "" {
		return strings.TrimRight(e, "/")
	}
	return "http://localhost:4318"
}

// log sends one OTLP/JSON log record in the request's trace context, as
// an OpenTelemetry log bridge would (the Go logs SDK is not needed here).
func (s *shop) log(ctx context.Context, severity int, text, body string) {
	sc := trace.SpanContextFromContext(ctx)
	rec := map[string]any{
		"timeUnixNano": strconv.FormatInt(time.Now().UnixNano(), 10), "severityNumber": severity, "severityText": text,
		"body": map[string]string{"stringValue": body}, "traceId": sc.TraceID().String(), "spanId": sc.SpanID().String(),
		"attributes": []map[string]any{{"key": "code.function", "value": map[string]string{"stringValue": "orders"}}},
	}
	doc := map[string]any{"resourceLogs": []any{map[string]any{
		"resource":  map[string]any{"attributes": []any{map[string]any{"key": "service.name", "value": map[string]string{"stringValue": "shop-web"}}}},
		"scopeLogs": []any{map[string]any{"scope": map[string]string{"name": "demoapp/log"}, "logRecords": []any{rec}}},
	}}}
	b, _ := json.Marshal(doc)
	resp, err := http.Post(s.logs, "application/json", bytes.NewReader(b))
	if err != nil {
		log.Printf("log export: %v", err)
		return
	}
	resp.Body.Close()
}
