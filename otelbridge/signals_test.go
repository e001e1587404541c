package otelbridge

import (
	"maps"
	"testing"
	"time"
)

// TestOTLPHeaders reads the exporter header variables as the SDKs do.
func TestOTLPHeaders(t *testing.T) {
	tests := []struct {
		name, all, logs string
		want            map[string]string
	}{
		{"none", "", "", map[string]string{}},
		{"general", "x-api-key=k%201, tenant = acme ", "", map[string]string{"x-api-key": "k 1", "tenant": "acme"}},
		{"per signal wins", "a=1", "b=2", map[string]string{"b": "2"}},
		{"blank per signal falls back", "a=1", "  ", map[string]string{"a": "1"}},
		{"'=' inside a value", "auth=Basic%20dTpw==", "", map[string]string{"auth": "Basic dTpw=="}},
		{"invalid pairs skipped", "no-value,bad key=1,ok=1,esc=%zz,ctl=a%0Ab", "", map[string]string{"ok": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", tt.all)
			t.Setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", tt.logs)
			if got := otlpHeaders("LOGS"); !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRetryWait honours Retry-After in seconds or as a date, bounded, else
// backs off.
func TestRetryWait(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", time.Second},                                // no header: the backoff
		{"2", 2 * time.Second},                           // as asked
		{"0", 0},                                         // at once
		{"3600", retryAfterMax},                          // bounded
		{"99999999999999999", retryAfterMax},             // no overflow
		{"-1", time.Second},                              // nonsense: the backoff
		{"Sun, 06 Nov 1994 08:49:37 GMT", 0},             // a date past
		{"Fri, 31 Dec 9999 23:59:59 GMT", retryAfterMax}, // a date far ahead
	}
	for _, tt := range tests {
		if got := retryWait(tt.header, time.Second); got != tt.want {
			t.Errorf("Retry-After %q: wait %v, want %v", tt.header, got, tt.want)
		}
	}
}
