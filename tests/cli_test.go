package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaddyCLI: the modules are listed, Caddyfiles adapt and validate, and
// bad input is an error that names the line.
func TestCaddyCLI(t *testing.T) {
	out, err := exec.Command(caddyBin, "list-modules").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "http.handlers.tracebar\n") || !strings.Contains(string(out), "\ntracebar\n") {
		t.Fatalf("list-modules: %v\n%s", err, out)
	}
	dir := t.TempDir()
	tests := []struct {
		name, caddyfile string
		wantErr         string // empty: must adapt and validate
		wantJSON        []string
	}{
		{"one directive, no global block", "localhost:8080 {\n\ttracebar\n\treverse_proxy localhost:3000\n}\n", "",
			[]string{`"handler":"tracebar"`}},
		{"ordered after encode, before handle", "localhost:8080 {\n\thandle /x {\n\t\trespond hi\n\t}\n\ttracebar\n\tencode gzip\n\treverse_proxy localhost:3000\n}\n", "",
			[]string{`"handler":"encode"`, `"handler":"tracebar"`}},
		{"global options", "{\n\ttracebar {\n\t\totlp_http 127.0.0.1:5318\n\t\totlp_grpc off\n\t}\n}\nlocalhost:8080 {\n\ttracebar\n\trespond ok\n}\n", "",
			[]string{`"tracebar":{"otlp_http":"127.0.0.1:5318","otlp_grpc":"off"}`}},
		{"unknown option", "localhost:8080 {\n\ttracebar {\n\t\tfrobnicate\n\t}\n}\n", "Caddyfile:3", nil},
		{"bad propagator", "localhost:8080 {\n\ttracebar {\n\t\tpropagators jaeger\n\t}\n}\n", "unknown propagator", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := filepath.Join(dir, "Caddyfile")
			if err := os.WriteFile(cf, []byte(tt.caddyfile), 0o644); err != nil {
				t.Fatal(err)
			}
			adapted, aerr := exec.Command(caddyBin, "adapt", "--config", cf).CombinedOutput()
			validated, verr := exec.Command(caddyBin, "validate", "--config", cf).CombinedOutput()
			if tt.wantErr != "" {
				if aerr == nil && verr == nil {
					t.Fatalf("bad Caddyfile accepted")
				}
				if !strings.Contains(string(adapted)+string(validated), tt.wantErr) {
					t.Fatalf("error does not say %q:\n%s\n%s", tt.wantErr, adapted, validated)
				}
				return
			}
			if aerr != nil || verr != nil {
				t.Fatalf("adapt: %v %s\nvalidate: %v %s", aerr, adapted, verr, validated)
			}
			prev := -1
			for _, want := range tt.wantJSON {
				i := strings.Index(string(adapted), want)
				if i < 0 || i < prev {
					t.Fatalf("adapted config lacks %s (in order):\n%s", want, adapted)
				}
				prev = i
			}
		})
	}
}
