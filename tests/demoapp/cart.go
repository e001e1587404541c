package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"go.opentelemetry.io/otel/trace"
)

// cartItem is one line of the cart.
type cartItem struct {
	ID        int    `json:"id"`
	ProductID int    `json:"productId"`
	Product   string `json:"product"`
	Price     string `json:"price"`
}

// cart is the page whose queries change from one load to the next: every
// load puts one more product in the cart, then reads the cart's items and
// each item's product with a query of its own, an N+1 that grows by one
// query per load. It sets a cookie the page's script may read (no
// HttpOnly), as carts often do.
func (s *shop) cart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := s.addToCart(ctx, 0); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	items, err := s.loadCart(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "cart_items", Value: strconv.Itoa(len(items)), Path: "/", SameSite: http.SameSiteLaxMode})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := cartPage.Execute(w, items); err != nil {
		trace.SpanFromContext(ctx).RecordError(err)
	}
}

// addToCart adds product id to the cart; 0 picks the next product in
// turn.
func (s *shop) addToCart(ctx context.Context, id int) error {
	var err error
	if id == 0 {
		_, err = s.exec(ctx, "cart_items", "INSERT INTO cart_items (product_id) SELECT 1 + COUNT(*) % 4 FROM cart_items")
	} else {
		_, err = s.exec(ctx, "cart_items", "INSERT INTO cart_items (product_id) VALUES (?)", id)
	}
	if err != nil {
		return fmt.Errorf("add to cart: %w", err)
	}
	return nil
}

// loadCart reads the cart's items, then each item's product one by one.
func (s *shop) loadCart(ctx context.Context) ([]cartItem, error) {
	rows, err := s.queryTable(ctx, "cart_items", "SELECT id, product_id FROM cart_items ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("cart: %w", err)
	}
	var items []cartItem
	for rows.Next() {
		var it cartItem
		if err := rows.Scan(&it.ID, &it.ProductID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cart: %w", err)
		}
		items = append(items, it)
	}
	rows.Close()
	for i := range items {
		prow, err := s.query(ctx, "SELECT name, price_cents FROM products WHERE id = ?", items[i].ProductID)
		if err != nil {
			return nil, fmt.Errorf("cart: %w", err)
		}
		var cents int
		if prow.Next() {
			prow.Scan(&items[i].Product, &cents)
		}
		prow.Close()
		items[i].Price = fmt.Sprintf("%d.%02d", cents/100, cents%100)
	}
	return items, nil
}

var cartPage = template.Must(template.New("cart").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Cart</title></head>
<body>
<h1>Cart</h1>
<p>Every load of this page adds a product, and the page reads each item's product with a query of its own: one more query per load (Compare shows it).</p>
<table><tr><th>#</th><th>Product</th><th>Price</th></tr>
{{range .}}<tr><td>{{.ID}}</td><td>{{.Product}}</td><td>{{.Price}}</td></tr>
{{end}}</table>
</body>
</html>
`))

// product is a product's page, found by the slug of its name
// (/products/pour-over-kettle): one route, many paths.
func (s *shop) product(w http.ResponseWriter, r *http.Request) {
	ps, err := s.listProducts(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, p := range ps {
		if slug(p.Name) == r.PathValue("slug") {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(p)
			return
		}
	}
	http.NotFound(w, r)
}

// slug is name in lower case, its runs of other characters than letters
// and digits a hyphen: "Beans, 1 kg" is beans-1-kg.
func slug(name string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if b.Len() > 0 {
			b.WriteByte('-')
		}
		b.WriteString(word)
	}
	return b.String()
}
