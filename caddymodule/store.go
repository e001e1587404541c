package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
	"go.uber.org/zap"
)

// What the configs of one process share and a reload keeps: the span
// store (in memory, or filled from its storage file), the OTLP sink on it,
// and the app's metrics.

// newStore makes the store configs share, filled from its storage file.
func (a *App) newStore() (caddy.Destructor, error) {
	l := toolbar.Limits{Traces: a.MaxTraces, Spans: a.MaxSpans, Requests: a.MaxRequests, Bytes: a.MaxBytes}
	if a.Storage == "" {
		store := toolbar.NewStore(l)
		return pooledStore{store, otelbridge.NewSink(store), toolbar.NewMetricStore(toolbar.MetricLimits{})}, nil
	}
	start, logger := time.Now(), caddy.Log().Named("tracebar.storage") // outlives this config's logger
	store, err := toolbar.OpenStore(a.Storage, l, func(err error) { logger.Error("not written to storage; kept in memory", zap.Error(err)) })
	if err != nil {
		return nil, err
	}
	st := store.Stats()
	a.logger.Info("storage loaded", zap.String("path", a.Storage), zap.Int("traces", st.Traces), zap.Int("spans", st.Spans),
		zap.Int("logs", st.Logs), zap.Int("requests", st.Records), zap.Duration("took", time.Since(start)))
	return pooledStore{store, otelbridge.NewSink(store), toolbar.NewMetricStore(toolbar.MetricLimits{})}, nil
}

type pooledStore struct {
	store   *toolbar.Store
	sink    *otelbridge.Sink
	metrics *toolbar.MetricStore // the app's metrics: memory only, storage or not
}

// Destruct closes the storage file when the last config lets go.
func (p pooledStore) Destruct() error { return p.store.Close() }
