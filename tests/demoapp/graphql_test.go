package main

import (
	"reflect"
	"testing"
)

func TestPickOperation(t *testing.T) {
	tests := []struct {
		name, doc, operationName string
		want                     operation
		wantErr                  bool
	}{
		{name: "shorthand is an anonymous query", doc: "{ products { id name } }",
			want: operation{Type: "query", Field: "products"}},
		{name: "named query with variables", doc: "query GetCart($first: Int = 10) {\n  cart { id product }\n}",
			want: operation{Type: "query", Name: "GetCart", Field: "cart"}},
		{name: "mutation with arguments and an alias", doc: `mutation Add($id: Int!) { added: addToCart(productId: $id) { id } }`,
			want: operation{Type: "mutation", Name: "Add", Field: "addToCart", Args: "productId: $id"}},
		{name: "operationName picks one of several", doc: "query A { products }\n# a comment { \nquery B { cart }\nfragment F on Product { id }", operationName: "B",
			want: operation{Type: "query", Name: "B", Field: "cart"}},
		{name: "strings with braces do not end the block", doc: `query S { products(filter: "}{") { id } }`,
			want: operation{Type: "query", Name: "S", Field: "products", Args: `filter: "}{"`}},
		{name: "several operations need a name", doc: "query A { products } query B { cart }", wantErr: true},
		{name: "an unknown operation name", doc: "query A { products }", operationName: "B", wantErr: true},
		{name: "unbalanced braces", doc: "query A { products { id }", wantErr: true},
		{name: "not an operation", doc: "select * from products", wantErr: true},
		{name: "empty document", doc: "  # nothing\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickOperation(tt.doc, tt.operationName)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestIntArg(t *testing.T) {
	tests := []struct {
		name, args string
		vars       map[string]any
		want       int
		wantErr    bool
	}{
		{name: "literal", args: "productId: 3", want: 3},
		{name: "variable", args: "productId: $id", vars: map[string]any{"id": float64(2)}, want: 2},
		{name: "among others", args: "qty: 1, productId: 4", want: 4},
		{name: "variable not an integer", args: "productId: $id", vars: map[string]any{"id": "2"}, wantErr: true},
		{name: "missing", args: "qty: 1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := intArg(tt.args, "productId", tt.vars)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
