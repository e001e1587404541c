package toolbar

import "testing"

func TestBodyKindOf(t *testing.T) {
	tests := []struct {
		contentType string
		want        BodyKind
	}{
		{"application/x-www-form-urlencoded", FormBody},
		{"Application/X-WWW-Form-Urlencoded; charset=UTF-8", FormBody},
		{"application/json", JSONBody},
		{" application/json ; charset=utf-8", JSONBody},
		{"Application/Merge-Patch+JSON", JSONBody},
		{"application/vnd.api+json", JSONBody},
		{"application/+json", OtherBody}, // no subtype before the suffix
		{"text/x+json", OtherBody},
		{"multipart/form-data; boundary=x", OtherBody},
		{"text/plain", OtherBody},
		{"application/jsonx", OtherBody},
		{"", OtherBody},
	}
	for _, tt := range tests {
		if got := BodyKindOf(tt.contentType); got != tt.want {
			t.Errorf("BodyKindOf(%q) = %d, want %d", tt.contentType, got, tt.want)
		}
	}
	// The proxy asks it of every request with a body.
	if n := testing.AllocsPerRun(100, func() { BodyKindOf(" Application/Merge-Patch+JSON; charset=utf-8") }); n != 0 {
		t.Errorf("BodyKindOf allocates %v times", n)
	}
}

func TestRedactFormBody(t *testing.T) {
	const r = "%5Bredacted%5D" // Redacted, form-escaped
	tests := []struct {
		name, form, want string
		redacted         bool
	}{
		{"no secret", "q=shoes&page=2", "q=shoes&page=2", false},
		{"password and csrf token", "user=ann&password=hunter2&csrfmiddlewaretoken=abc123&next=%2Fcart",
			"user=ann&password=" + r + "&csrfmiddlewaretoken=" + r + "&next=%2Fcart", true},
		{"escaped name, kept as written", "pass%77ord=x&a+b=c+d", "pass%77ord=" + r + "&a+b=c+d", true},
		{"empty value holds no secret", "password=&a=1", "password=&a=1", false},
		{"name without a value", "token&a=1", "token&a=1", false},
		{"empty fields and a trailing separator", "a=1&&session_id=s&", "a=1&&session_id=" + r + "&", true},
		{"unicode values", "name=%C3%A9t%C3%A9&api_key=%E2%9C%93", "name=%C3%A9t%C3%A9&api_key=" + r, true},
		{"a bad escape in a name", "%zz=1&secret=2", "%zz=1&secret=" + r, true},
		{"order of repeated fields", "token=a&x=1&token=b", "token=" + r + "&x=1&token=" + r, true},
		{"empty body", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, redacted, ok := NewRedactor().Body("application/x-www-form-urlencoded", tt.form)
			if got != tt.want || redacted != tt.redacted || !ok {
				t.Fatalf("Body(form %q) = %q, %v, %v; want %q, %v, true", tt.form, got, redacted, ok, tt.want, tt.redacted)
			}
		})
	}
}

func TestRedactJSONBody(t *testing.T) {
	const r = `"[redacted]"`
	tests := []struct {
		name, doc, want string
		redacted, ok    bool
	}{
		{"flat object", `{"user":"ann","password":"hunter2"}`, `{"user":"ann","password":` + r + `}`, true, true},
		{"spacing and key order kept", "{ \"password\" : \"x\" ,\n\t\"b\" : 1, \"a\": 2 }", "{ \"password\" : " + r + " ,\n\t\"b\" : 1, \"a\": 2 }", true, true},
		{"nested: a secret's whole value goes", `{"user":{"name":"ann","credentials":{"user":"u","pin":1}},"n":3}`,
			`{"user":{"name":"ann","credentials":` + r + `},"n":3}`, true, true},
		{"objects in arrays, at any depth", `{"items":[{"token":"t1","id":1},[{"secret":true}],{"id":2}],"total":2}`,
			`{"items":[{"token":` + r + `,"id":1},[{"secret":` + r + `}],{"id":2}],"total":2}`, true, true},
		{"top-level array", `[{"apiKey":"k"},{"name":"x"}]`, `[{"apiKey":` + r + `},{"name":"x"}]`, true, true},
		{"array value of a secret", `{"tokens":["a","b"],"x":[]}`, `{"tokens":` + r + `,"x":[]}`, true, true},
		{"numbers as written", `{"n":1e999,"big":12345678901234567890123,"password":-0.5e-3}`, `{"n":1e999,"big":12345678901234567890123,"password":` + r + `}`, true, true},
		{"null and empty hold no secret", `{"password":null,"token":""}`, `{"password":null,"token":""}`, false, true},
		{"unicode", `{"名前":"日本","password":"ünïcödé \u2713","note":"✓"}`, `{"名前":"日本","password":` + r + `,"note":"✓"}`, true, true},
		{"escaped key", `{"pass\u0077ord":"x"}`, `{"pass\u0077ord":` + r + `}`, true, true},
		{"secrets in values are not keys", `{"note":"\"password\":\"x\"","a":[1,{"b":"password"}]}`, `{"note":"\"password\":\"x\"","a":[1,{"b":"password"}]}`, false, true},
		{"empty containers", `{"a":{},"b":[],"session":{}}`, `{"a":{},"b":[],"session":` + r + `}`, true, true},
		{"repeated key", `{"token":"a","token":"b"}`, `{"token":` + r + `,"token":` + r + `}`, true, true},
		{"a scalar document", ` "password" `, ` "password" `, false, true},
		{"no secret", `{"operationName":"GetCart","variables":{"id":7}}`, `{"operationName":"GetCart","variables":{"id":7}}`, false, true},
		{"truncated", `{"password":"x"`, "", false, false},
		{"two documents", `{"a":1}{"b":2}`, "", false, false},
		{"single quotes", `{'a':1}`, "", false, false},
		{"trailing comma", `{"a":1,}`, "", false, false},
		{"empty", ``, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, redacted, ok := NewRedactor().Body("application/json", tt.doc)
			if got != tt.want || redacted != tt.redacted || ok != tt.ok {
				t.Fatalf("Body(JSON %s) = %s, %v, %v; want %s, %v, %v", tt.doc, got, redacted, ok, tt.want, tt.redacted, tt.ok)
			}
		})
	}
}

// TestRedactBodyRefusesWhatItCannotRedact: only well-formed UTF-8 forms
// and JSON are stored; the configured words count too.
func TestRedactBodyRefusesWhatItCannotRedact(t *testing.T) {
	tests := []struct {
		name, contentType, text, want string
		ok                            bool
	}{
		{"text/plain", "text/plain", "password=x", "", false},
		{"multipart", "multipart/form-data; boundary=x", "--x--", "", false},
		{"no content type", "", `{"password":"x"}`, "", false},
		{"a form that is not UTF-8", "application/x-www-form-urlencoded", "name=\xff\xfe", "", false},
		{"JSON that is not UTF-8", "application/json", "\"\xff\"", "", false},
		{"a configured word", "application/json; charset=utf-8", `{"tenant":"acme"}`, `{"tenant":"[redacted]"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, ok := NewRedactor("tenant").Body(tt.contentType, tt.text)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Body(%q, %q) = %q, %v; want %q, %v", tt.contentType, tt.text, got, ok, tt.want, tt.ok)
			}
		})
	}
}
