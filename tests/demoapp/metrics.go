package main

// The demo's metrics, exported over OTLP/HTTP to the same endpoint as its
// spans: otelhttp's HTTP server and client durations (histograms whose
// exemplars name the sampled span of each measurement), the database
// pool's connections, the Go runtime's memory and a counter of the
// products the shop loaded. POST /debug/flush-metrics exports them at
// once (the SDK's ForceFlush), so tests need not wait for the interval.

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"runtime/metrics"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// flushPath is the route that exports the metrics now; otelhttp leaves it
// out, so a flush measures nothing itself.
const flushPath = "/debug/flush-metrics"

// meters are the shop's and the inventory service's meter providers and
// the shop's own counter.
type meters struct {
	web, inv *sdkmetric.MeterProvider
	loaded   metric.Int64Counter // products read from the database
}

func newMeters(ctx context.Context, db *sql.DB) (*meters, error) {
	m := &meters{}
	var err error
	if m.web, err = newMeterProvider(ctx, "shop-web"); err != nil {
		return nil, err
	}
	if m.inv, err = newMeterProvider(ctx, "inventory"); err != nil {
		return nil, err
	}
	if err := observeRuntime(m.web, db); err != nil {
		return nil, err
	}
	m.loaded, err = m.web.Meter("demoapp/shop").Int64Counter("shop.products.loaded",
		metric.WithDescription("Products read from the database"), metric.WithUnit("{product}"))
	return m, err
}

// newMeterProvider exports service's metrics every 5 s, so a page's
// metrics reach the toolbar soon after it loaded, unless
// OTEL_METRIC_EXPORT_INTERVAL says otherwise. The SDK keeps an exemplar
// for measurements made in a sampled span (its default filter).
func newMeterProvider(ctx context.Context, service string) (*sdkmetric.MeterProvider, error) {
	exp, err := otlpmetrichttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp metric exporter: %w", err)
	}
	var opts []sdkmetric.PeriodicReaderOption
	if os.Getenv("OTEL_METRIC_EXPORT_INTERVAL") == "" {
		opts = append(opts, sdkmetric.WithInterval(5*time.Second))
	}
	return sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, opts...)),
		sdkmetric.WithResource(resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service))),
	), nil
}

// observeRuntime registers the gauges read at each export: the pool's
// connections by state and the memory the Go runtime holds.
func observeRuntime(mp metric.MeterProvider, db *sql.DB) error {
	meter := mp.Meter("demoapp/runtime")
	conns, err := meter.Int64ObservableGauge("db.client.connection.count",
		metric.WithDescription("Connections of the pool, by state"), metric.WithUnit("{connection}"))
	if err != nil {
		return err
	}
	max, err := meter.Int64ObservableGauge("db.client.connection.max",
		metric.WithDescription("The most open connections the pool allows"), metric.WithUnit("{connection}"))
	if err != nil {
		return err
	}
	memory, err := meter.Int64ObservableGauge("go.memory.used",
		metric.WithDescription("Memory the Go runtime holds from the OS, less what it released"), metric.WithUnit("By"))
	if err != nil {
		return err
	}
	pool := attribute.String("db.client.connection.pool.name", "shop")
	idle, used := metric.WithAttributes(pool, attribute.String("db.client.connection.state", "idle")), metric.WithAttributes(pool, attribute.String("db.client.connection.state", "used"))
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := db.Stats()
		o.ObserveInt64(conns, int64(st.Idle), idle)
		o.ObserveInt64(conns, int64(st.InUse), used)
		o.ObserveInt64(max, int64(st.MaxOpenConnections), metric.WithAttributes(pool))
		metrics.Read(samples)
		o.ObserveInt64(memory, int64(samples[0].Value.Uint64()-samples[1].Value.Uint64()))
		return nil
	}, conns, max, memory)
	return err
}

// flush answers POST /debug/flush-metrics: both providers export what
// they have measured, and the answer comes when the sink has it.
func (m *meters) flush() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		for _, mp := range []*sdkmetric.MeterProvider{m.web, m.inv} {
			if err := mp.ForceFlush(r.Context()); err != nil {
				http.Error(w, "flushing metrics: "+err.Error(), http.StatusBadGateway)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// notFlush keeps the flush route out of otelhttp's spans and metrics.
func notFlush(r *http.Request) bool { return r.URL.Path != flushPath }

func (m *meters) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.web.Shutdown(ctx)
	m.inv.Shutdown(ctx)
}
