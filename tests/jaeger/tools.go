//go:build tools

// Package jaeger pins the Jaeger v2 all-in-one that tests/jaeger_test.go
// forwards to. It is its own module because Jaeger's OpenTelemetry
// versions differ from Tracebar's; `go test ./...` at the root does not
// descend into it. Build it with
//
//	cd tests/jaeger && go build -trimpath -o jaeger github.com/jaegertracing/jaeger/cmd/jaeger
package jaeger

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
