package otelbridge

// The sink's OTLP/gRPC transport: the trace, logs and metrics services,
// and the tap that turns exports away before decoding when saturated.

import (
	"context"
	"time"

	collectorlogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP/gRPC exporters may compress
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/durationpb"
)

// tapGRPC is the gRPC side of the slots. It runs before gRPC reads the
// message, so a saturated sink decodes nothing: it answers UNAVAILABLE with
// RetryInfo, which OTLP exporters retry after the delay. It must not block
// (it runs on the connection's reader), so it does not wait for a slot.
// The slot is given back when the stream's context ends, on every path.
func (s *Sink) tapGRPC(ctx context.Context, _ *tap.Info) (context.Context, error) {
	select {
	case s.slots <- struct{}{}:
		context.AfterFunc(ctx, s.release)
		return ctx, nil
	default:
	}
	st, err := status.New(grpccodes.Unavailable, "otlp sink: "+errBusy.Error()).
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	if err != nil {
		return nil, status.Error(grpccodes.Unavailable, "otlp sink: "+errBusy.Error())
	}
	return nil, st.Err()
}

var _ collectortrace.TraceServiceServer = (*Sink)(nil)

// Export implements OTLP/gRPC's TraceService.
func (s *Sink) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	return grpcAnswer(s.ingestSpans(req))
}

// grpcAnswer answers an export the storage file did not take (an error)
// with UNAVAILABLE, which the OTLP specification names retryable: the
// exporter sends it again after its backoff.
func grpcAnswer[T any](resp T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, status.Error(grpccodes.Unavailable, "otlp sink: "+err.Error())
	}
	return resp, nil
}

// NewGRPCServer returns a gRPC server with the TraceService, LogsService
// and MetricsService registered. Metrics are kept (SinkConfig.Metrics)
// and forwarded, or dropped with neither, so SDKs that export them by
// default do not log errors.
func (s *Sink) NewGRPCServer() *grpc.Server {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(int(s.config().maxBody())), grpc.InTapHandle(s.tapGRPC))
	collectortrace.RegisterTraceServiceServer(g, s)
	collectorlogs.RegisterLogsServiceServer(g, logsService{s: s})
	collectormetrics.RegisterMetricsServiceServer(g, metricsService{s: s})
	return g
}

// logsService is the Sink's OTLP/gRPC LogsService.
type logsService struct {
	s *Sink
	collectorlogs.UnimplementedLogsServiceServer
}

func (l logsService) Export(_ context.Context, req *collectorlogs.ExportLogsServiceRequest) (*collectorlogs.ExportLogsServiceResponse, error) {
	return grpcAnswer(l.s.ingestLogs(req))
}

// metricsService is the Sink's OTLP/gRPC MetricsService.
type metricsService struct {
	s *Sink
	collectormetrics.UnimplementedMetricsServiceServer
}

func (m metricsService) Export(_ context.Context, req *collectormetrics.ExportMetricsServiceRequest) (*collectormetrics.ExportMetricsServiceResponse, error) {
	return m.s.exportMetrics(req), nil
}
