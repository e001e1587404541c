package caddymodule

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/tracebar/tracebar/otelbridge"
	"github.com/tracebar/tracebar/toolbar"
	"go.uber.org/zap"
)

// What the configs of one process share and a reload keeps: the span
// store (in memory, and in its storage file once a config that names one
// starts), the OTLP sink on it, and the app's metrics.

// newStore makes the store configs share, in memory: Provision makes it,
// and Start opens its storage file (openStorage), so that a config that is
// only validated (caddy validate, caddy adapt --validate) leaves the file
// to the Caddy that holds it.
func (a *App) newStore() (caddy.Destructor, error) {
	l := toolbar.Limits{Traces: a.MaxTraces, Spans: a.MaxSpans, Requests: a.MaxRequests, Bytes: a.MaxBytes}
	store := toolbar.NewStore(l)
	return pooledStore{store, otelbridge.NewSink(store), toolbar.NewMetricStore(toolbar.MetricLimits{}), &storageFile{}}, nil
}

type pooledStore struct {
	store   *toolbar.Store
	sink    *otelbridge.Sink
	metrics *toolbar.MetricStore // the app's metrics: memory only, storage or not
	file    *storageFile
}

// storageFile is the storage file the store keeps, once opened.
type storageFile struct {
	mu   sync.Mutex
	path string // "" until opened
}

// Destruct closes the storage file when the last config lets go.
func (p pooledStore) Destruct() error { return p.store.Close() }

// openStorage opens the config's storage file for the store, unless the
// store has one: the first config of the process that starts with
// `storage` opens it, and the configs after it share it. Another path in
// a later config is logged and left for the next start of the process, as
// the bounds are.
func (a *App) openStorage() error {
	if a.Storage == "" {
		return nil
	}
	f := a.file
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path != "" {
		if !samePath(f.path, a.Storage) {
			a.logger.Warn("storage stays on the file opened first; another takes effect when Caddy starts again",
				zap.String("open", f.path), zap.String("configured", a.Storage))
		}
		return nil
	}
	start, logger := time.Now(), caddy.Log().Named("tracebar.storage") // outlives this config's logger
	err := a.store.OpenStorage(a.Storage, toolbar.StorageOptions{OnError: func(err error) {
		logger.Error("not written to storage; kept in memory (counted in /api/stats storageErrors and storageDropped)", zap.Error(err))
	}})
	if err != nil {
		return fmt.Errorf("tracebar: %w", err)
	}
	f.path = a.Storage
	st := a.store.Stats()
	a.logger.Info("storage loaded", zap.String("path", a.Storage), zap.Int("traces", st.Traces), zap.Int("spans", st.Spans),
		zap.Int("logs", st.Logs), zap.Int("requests", st.Records), zap.Duration("took", time.Since(start)))
	return nil
}

// samePath reports whether two spellings of a path name one file.
func samePath(a, b string) bool {
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB || a == b
}
