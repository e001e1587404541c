package otelbridge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"golang.org/x/net/http/httpguts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// signalSender sends received logs and metrics exports to the backend as
// they are. The OpenTelemetry SDKs export their own records only, so these
// two speak OTLP directly, with the specification's retries.
type signalSender interface {
	send(ctx context.Context, req proto.Message) error
	close() error
}

// Retries of an export the backend could not take now.
const (
	retryAttempts = 5
	retryFirst    = 200 * time.Millisecond
	retryMax      = 5 * time.Second
	retryAfterMax = 30 * time.Second // the longest Retry-After honoured
)

// signalOf names the signal of an export as the OTEL_EXPORTER_OTLP_<SIGNAL>_*
// variables do, and its OTLP/HTTP path.
func signalOf(req proto.Message) (name, path string) {
	if _, ok := req.(*collectorlogs.ExportLogsServiceRequest); ok {
		return "LOGS", "/v1/logs"
	}
	return "METRICS", "/v1/metrics"
}

// otlpHeaders reads OTEL_EXPORTER_OTLP_<signal>_HEADERS, else (when unset
// or blank) OTEL_EXPORTER_OTLP_HEADERS: "key=value,..." with URL-encoded
// values, as the SDKs, and so the traces client, read it. A backend that
// wants an API key gets it with logs and metrics too. Pairs that do not
// make a valid header are skipped.
func otlpHeaders(signal string) map[string]string {
	v := os.Getenv("OTEL_EXPORTER_OTLP_" + signal + "_HEADERS")
	if strings.TrimSpace(v) == "" {
		v = os.Getenv("OTEL_EXPORTER_OTLP_HEADERS")
	}
	h := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		val, err := url.PathUnescape(strings.TrimSpace(val))
		if ok && err == nil && httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(val) {
			h[k] = val
		}
	}
	return h
}

// exportHeaders reads the headers of both signals once, as the SDKs read
// theirs when an exporter is made, so an export does not parse the
// environment.
func exportHeaders() map[string]map[string]string {
	return map[string]map[string]string{"LOGS": otlpHeaders("LOGS"), "METRICS": otlpHeaders("METRICS")}
}

// retryWait is how long to wait before the next attempt: what the
// backend's Retry-After (seconds or an HTTP date) asks, up to
// retryAfterMax, else the current backoff.
func retryWait(retryAfter string, backoff time.Duration) time.Duration {
	if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
		return time.Duration(min(s, int(retryAfterMax/time.Second))) * time.Second
	}
	if at, err := http.ParseTime(retryAfter); err == nil {
		return min(max(time.Until(at), 0), retryAfterMax)
	}
	return backoff
}

// httpSignals posts exports as OTLP/HTTP protobuf to base/v1/logs and
// base/v1/metrics. It retries what the specification calls retryable (429,
// 502, 503, 504, and connection failures), after Retry-After when given.
type httpSignals struct {
	base    string
	client  *http.Client
	headers map[string]map[string]string // by signal
}

func newHTTPSignals(base string) *httpSignals {
	return &httpSignals{base: base, client: forwardHTTPClient(), headers: exportHeaders()}
}

func (h *httpSignals) send(ctx context.Context, req proto.Message) error {
	signal, path := signalOf(req)
	body, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("forward %s: %w", path, err)
	}
	return postRetrying(ctx, h.client, h.base+path, "application/x-protobuf", body, h.headers[signal], path)
}

// postRetrying posts body to url, and again after a wait (Retry-After, up
// to retryAfterMax, else backing off) while the answer is what the OTLP
// specification calls retryable (429, 502, 503, 504, or no answer), up to
// retryAttempts times. what names the export in errors; a refusal's
// error carries the start of the backend's message.
func postRetrying(ctx context.Context, client *http.Client, url, contentType string, body []byte, headers map[string]string, what string) error {
	wait := retryFirst
	for attempt := 1; ; attempt++ {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("forward %s: %w", what, err)
		}
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		r.Header.Set("Content-Type", contentType)
		resp, err := client.Do(r)
		if err == nil {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
				err = fmt.Errorf("forward %s: %s", what, resp.Status)
				wait = retryWait(resp.Header.Get("Retry-After"), wait)
			default:
				if resp.StatusCode/100 == 2 {
					return nil
				}
				return fmt.Errorf("forward %s: %s%s", what, resp.Status, backendSays(msg))
			}
		}
		if attempt == retryAttempts {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(2*max(wait, retryFirst), retryMax)
	}
}

// backendSays is the first line of a refusal's body, short and printable,
// for the log: Zipkin and the Collector say there what they did not like.
func backendSays(body []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	line = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, line)
	if r := []rune(line); len(r) > 200 {
		line = string(r[:200]) + "..."
	}
	if line == "" {
		return ""
	}
	return ": " + line
}

func (h *httpSignals) close() error {
	h.client.CloseIdleConnections()
	return nil
}

// grpcRetry is the gRPC service config that retries the codes OTLP/gRPC
// calls retryable.
const grpcRetry = `{"methodConfig": [{
	"name": [{"service": "opentelemetry.proto.collector.logs.v1.LogsService"}, {"service": "opentelemetry.proto.collector.metrics.v1.MetricsService"}],
	"retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.2s", "maxBackoff": "5s", "backoffMultiplier": 2,
		"retryableStatusCodes": ["CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"]}
}]}`

// grpcSignals calls the backend's OTLP/gRPC LogsService and MetricsService.
type grpcSignals struct {
	conn    *grpc.ClientConn
	logs    collectorlogs.LogsServiceClient
	metrics collectormetrics.MetricsServiceClient
	headers map[string]map[string]string // by signal
}

func newGRPCSignals(host string, creds credentials.TransportCredentials) (*grpcSignals, error) {
	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(creds), grpc.WithDefaultServiceConfig(grpcRetry),
		// gRPC retries only calls it could buffer whole: room for the
		// largest export the sink takes.
		grpc.WithDefaultCallOptions(grpc.MaxRetryRPCBufferSize(DefaultMaxBodyBytes)))
	if err != nil {
		return nil, err
	}
	return &grpcSignals{conn: conn, logs: collectorlogs.NewLogsServiceClient(conn), metrics: collectormetrics.NewMetricsServiceClient(conn),
		headers: exportHeaders()}, nil
}

func (g *grpcSignals) send(ctx context.Context, req proto.Message) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	signal, _ := signalOf(req)
	ctx = metadata.NewOutgoingContext(ctx, metadata.New(g.headers[signal]))
	var err error
	switch req := req.(type) {
	case *collectorlogs.ExportLogsServiceRequest:
		_, err = g.logs.Export(ctx, req)
	case *collectormetrics.ExportMetricsServiceRequest:
		_, err = g.metrics.Export(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	return nil
}

func (g *grpcSignals) close() error { return g.conn.Close() }
