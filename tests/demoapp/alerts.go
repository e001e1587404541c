package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Pages that trip the toolbar's alerts, each the way real code does.

// veryOldOrders is the first hop of a redirect chain: here, /old-orders,
// then /orders.
func (s *shop) veryOldOrders(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/old-orders", http.StatusMovedPermanently)
}

// report runs one slow query: it adds up two million generated rows.
func (s *shop) report(w http.ResponseWriter, r *http.Request) {
	rows, err := s.queryTable(r.Context(), "sales", "WITH RECURSIVE sale(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM sale WHERE n < 2000000) SELECT COUNT(*), SUM(n % 97) FROM sale")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rows.Close()
	var count, sum int
	if rows.Next() {
		rows.Scan(&count, &sum)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%d sales, %d units\n", count, sum)
}

// availability asks each warehouse for its stock one after another, calls
// that could have run at the same time.
func (s *shop) availability(w http.ResponseWriter, r *http.Request) {
	total := map[string]int{}
	for _, name := range []string{"north", "south", "east"} {
		stock, err := s.stock(r.Context(), name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for id, n := range stock {
			total[id] += n
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for id := 1; id <= len(total); id++ {
		fmt.Fprintf(w, "product %d: %d in stock\n", id, total[strconv.Itoa(id)])
	}
}

// errDeclined is the payment provider's answer to every checkout.
var errDeclined = errors.New("card declined: insufficient funds")

// boom is a checkout that fails: the error goes on the handler's span
// with its stack trace (an exception event), the span's status is Error
// and the answer a 500.
func (s *shop) boom(w http.ResponseWriter, r *http.Request) {
	span := trace.SpanFromContext(r.Context())
	if err := s.checkout(r.Context()); err != nil {
		span.RecordError(err, trace.WithStackTrace(true))
		span.SetStatus(codes.Error, err.Error())
		http.Error(w, "checkout failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "paid")
}

// checkout charges the cart's total, which the provider always declines.
func (s *shop) checkout(ctx context.Context) error {
	cents, err := s.loadCartTotal(ctx)
	if err != nil {
		return err
	}
	return fmt.Errorf("checkout of %d cents: %w", cents, errDeclined)
}

// loadCartTotal sums the cart in one query.
func (s *shop) loadCartTotal(ctx context.Context) (int, error) {
	rows, err := s.queryTable(ctx, "cart_items", "SELECT COALESCE(SUM(p.price_cents), 0) FROM cart_items c JOIN products p ON p.id = c.product_id")
	if err != nil {
		return 0, fmt.Errorf("checkout: %w", err)
	}
	defer rows.Close()
	total := 0
	if rows.Next() {
		if err := rows.Scan(&total); err != nil {
			return 0, fmt.Errorf("checkout: %w", err)
		}
	}
	return total, rows.Err()
}
