package toolbar

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A record in full carries the names the history gives it, so the
// toolbar's head can show a GraphQL request's operation.
func TestRequestInFullNamesItsRouteAndOperation(t *testing.T) {
	s := NewStore(Limits{})
	rec := &Record{ID: "0000000000000001", TraceID: TraceID{1}, Method: "POST", URL: "/graphql", Done: true, StartTime: time.Now(),
		RequestBody: &Body{ContentType: "application/json", Text: `{"query":"mutation AddItem { addToCart(productId: 2) }","operationName":"AddItem"}`}}
	s.PutRequest(rec)
	rr := httptest.NewRecorder()
	NewAPI(s).ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/api/requests/"+rec.ID, nil))
	var got struct {
		ID, Method, Route, Operation string
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &got); rr.Code != http.StatusOK || err != nil {
		t.Fatalf("GET: %d %v %s", rr.Code, err, rr.Body)
	}
	if got.ID != rec.ID || got.Method != "POST" || got.Route != "POST /graphql" || got.Operation != "mutation AddItem" {
		t.Errorf("the record in full is %+v, want its route POST /graphql and operation mutation AddItem", got)
	}
}
