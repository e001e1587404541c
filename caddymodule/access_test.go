package caddymodule

import (
	"strings"
	"testing"
	"time"
)

func TestSecretCookie(t *testing.T) {
	h := &Handler{Secret: "a-secret-of-16-chars"}
	now := time.Unix(1_800_000_000, 0)
	c := h.newCookie(now)
	other := (&Handler{Secret: "another-secret-16ch"}).newCookie(now)
	ts, sum, _ := strings.Cut(c, ".")
	tests := []struct {
		name  string
		value string
		at    time.Time
		want  bool
	}{
		{"fresh", c, now, true},
		{"a day old", c, now.Add(24 * time.Hour), true},
		{"expired", c, now.Add(cookieLife), false},
		{"other secret", other, now, false},
		{"time changed", "1900000000." + sum, now, false},
		{"sum changed", ts + "." + strings.Repeat("0", len(sum)), now, false},
		{"no dot", ts + sum, now, false},
		{"empty", "", now, false},
	}
	for _, tt := range tests {
		if got := h.validCookie(tt.value, tt.at); got != tt.want {
			t.Errorf("%s: valid %v, want %v", tt.name, got, tt.want)
		}
	}
	if strings.Contains(c, h.Secret) {
		t.Fatal("the cookie holds the secret")
	}
}
