package main

import (
	"net/http"
	"reflect"
	"runtime"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// codeAttrs returns the code.* attributes (function, file, line) of the
// call skip frames above its caller: codeAttrs(1) in a helper names the
// line that called the helper, where a query was issued. nil when the
// runtime cannot say.
func codeAttrs(skip int) []attribute.KeyValue {
	pc, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return nil
	}
	attrs := []attribute.KeyValue{semconv.CodeFilePath(file), semconv.CodeLineNumber(line)}
	if fn := runtime.FuncForPC(pc); fn != nil {
		attrs = append(attrs, semconv.CodeFunctionName(fn.Name()))
	}
	return attrs
}

// handle registers the method h of recv for pattern on mux. The request's
// SERVER span (otelhttp's, around mux) gets the route as http.route and
// h's code.* (its declaration), which otelhttp does not know: the mux
// picks the handler after the span started. h is a method expression,
// e.g. (*shop).cart, so the runtime can name the method itself (a method
// value would name a generated wrapper).
func handle[T any](mux *http.ServeMux, pattern string, recv T, h func(T, http.ResponseWriter, *http.Request)) {
	_, route, _ := strings.Cut(pattern, " ")
	route = strings.TrimSuffix(route, "{$}")
	attrs := []attribute.KeyValue{semconv.HTTPRoute(route)}
	if fn := runtime.FuncForPC(reflect.ValueOf(h).Pointer()); fn != nil {
		file, line := fn.FileLine(fn.Entry())
		attrs = append(attrs, semconv.CodeFunctionName(fn.Name()), semconv.CodeFilePath(file), semconv.CodeLineNumber(line))
	}
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		trace.SpanFromContext(r.Context()).SetAttributes(attrs...)
		h(recv, w, r)
	})
}
