// OpenTelemetry setup for the Node test upstream app used by Tracebar's tests.
// Load it before anything else (server.js requires it first; `node -r ./tracing.js`
// works too). It starts a NodeSDK with the HTTP instrumentation and an OTLP trace
// exporter chosen by OTEL_EXPORTER_OTLP_PROTOCOL:
//   "http/protobuf" (default) -> @opentelemetry/exporter-trace-otlp-proto
//   "http/json"               -> @opentelemetry/exporter-trace-otlp-http
//   "grpc"                    -> @opentelemetry/exporter-trace-otlp-grpc
// The exporters read OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// themselves (defaults: http://localhost:4318 for HTTP, http://localhost:4317 for gRPC).
// With OTEL_TRACES_EXPORTER=zipkin it exports Zipkin v2 JSON instead, with
// @opentelemetry/exporter-zipkin, to OTEL_EXPORTER_ZIPKIN_ENDPOINT (default
// http://localhost:9411/api/v2/spans); other values of that variable are ignored.
// Spans go through a BatchSpanProcessor with a 200 ms delay so tests see them fast.
// Metrics (the HTTP instrumentation's http.server.request.duration histogram) go through
// the SDK's own OTLP metric exporter, set up from the environment like the trace exporter's
// protocol and endpoint (OTEL_METRICS_EXPORTER=none turns them off), every
// OTEL_METRIC_EXPORT_INTERVAL ms: 5000 unless set, so a page's points reach the toolbar
// soon. None with Zipkin traces (no OTLP endpoint then). The JS SDK records no exemplars
// yet (opentelemetry-js#5147): unlike the Go demo's, these histograms name no trace.
// Propagation is the SDK default: W3C tracecontext + baggage.
// On SIGTERM/SIGINT the SDK is shut down (flushing pending spans) and the process exits 0
// (after at most 3 s, even if the collector is unreachable).
'use strict';

const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace');

// Guard against being loaded twice (e.g. `node -r ./tracing.js server.js`,
// where server.js requires this file again: Node caches it, but be explicit).
if (!globalThis.__tracebarTestTracing) {
  globalThis.__tracebarTestTracing = true;

  function createTraceExporter() {
    if ((process.env.OTEL_TRACES_EXPORTER || '').trim() === 'zipkin') {
      const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
      return new ZipkinExporter();
    }
    const protocol = (
      process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ||
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL ||
      'http/protobuf'
    ).trim();
    switch (protocol) {
      case 'http/protobuf': {
        const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
        return new OTLPTraceExporter();
      }
      case 'http/json': {
        const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
        return new OTLPTraceExporter();
      }
      case 'grpc': {
        const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
        return new OTLPTraceExporter();
      }
      default:
        throw new Error(
          `tracing.js: unsupported OTEL_EXPORTER_OTLP_PROTOCOL "${protocol}" ` +
            '(use http/protobuf, http/json or grpc)'
        );
    }
  }

  const zipkin = (process.env.OTEL_TRACES_EXPORTER || '').trim() === 'zipkin';
  if (!process.env.OTEL_METRIC_EXPORT_INTERVAL) process.env.OTEL_METRIC_EXPORT_INTERVAL = '5000';

  const sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME || 'node-app',
    spanProcessors: [
      // Note: @opentelemetry/sdk-trace 2.x takes ONE options object with `exporter`
      // (the old sdk-trace-base signature `(exporter, config)` would leave the
      // exporter undefined and crash the process on the first export).
      new BatchSpanProcessor({ exporter: createTraceExporter(), scheduledDelayMillis: 200 }),
    ],
    instrumentations: [new HttpInstrumentation()],
    // No log processors: the app's logs are not exported. Metric readers come from
    // the environment (the SDK's default when this option is left out), but for Zipkin.
    ...(zipkin ? { metricReaders: [] } : {}),
    logRecordProcessors: [],
  });
  sdk.start();

  let shuttingDown = false;
  function shutdown() {
    if (shuttingDown) return;
    shuttingDown = true;
    // If the collector is unreachable the exporter retries for several seconds;
    // never let that hold the process up for more than 3 s.
    setTimeout(() => process.exit(0), 3000).unref();
    sdk
      .shutdown()
      .catch((err) => console.error('tracing.js: error shutting down the SDK:', err))
      .finally(() => process.exit(0));
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
