package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// The shop's GraphQL endpoint: enough of GraphQL over HTTP for the toolbar
// to name operations (graphql.operation.*) instead of a row of
// "POST /graphql". The schema: query { products cart } and
// mutation { addToCart(productId: Int!) }; answers carry whole objects
// (no field selection).

// graphqlRequest is the body of a GraphQL POST.
type graphqlRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

// operation is one operation definition of a GraphQL document, reduced to
// what this endpoint resolves: its type, name and first root field.
type operation struct {
	Type, Name string // "query", "GetCart"; Name "" when anonymous
	Field      string // the first field of its selection set
	Args       string // that field's arguments as written, without the parentheses
}

// graphql answers a GraphQL POST: request errors with 400, field errors
// with 200 and "errors", as GraphQL over HTTP does.
func (s *shop) graphql(w http.ResponseWriter, r *http.Request) {
	span := trace.SpanFromContext(r.Context())
	var req graphqlRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		graphqlError(w, http.StatusBadRequest, fmt.Errorf("body is not a GraphQL request: %w", err))
		return
	}
	op, err := pickOperation(req.Query, req.OperationName)
	if err != nil {
		graphqlError(w, http.StatusBadRequest, err)
		return
	}
	span.SetAttributes(semconv.GraphQLOperationTypeKey.String(op.Type), semconv.GraphQLDocument(req.Query))
	if op.Name != "" {
		span.SetAttributes(semconv.GraphQLOperationName(op.Name))
	}
	data, err := s.resolve(r.Context(), op, req.Variables)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		graphqlError(w, http.StatusOK, err)
		return
	}
	w.Header().Set("Content-Type", "application/graphql-response+json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{op.Field: data}})
}

func graphqlError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/graphql-response+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": err.Error()}}})
}

// resolve runs op's root field.
func (s *shop) resolve(ctx context.Context, op operation, vars map[string]any) (any, error) {
	switch op.Type + " " + op.Field {
	case "query products":
		ps, err := s.listProducts(ctx)
		return ps, err
	case "query cart":
		items, err := s.loadCart(ctx)
		return items, err
	case "mutation addToCart":
		id, err := intArg(op.Args, "productId", vars)
		if err != nil {
			return nil, err
		}
		if err := s.addToCart(ctx, id); err != nil {
			return nil, err
		}
		items, err := s.loadCart(ctx)
		return items, err
	}
	return nil, fmt.Errorf("cannot %s field %q", op.Type, op.Field)
}

// listProducts reads the products without asking the inventory.
func (s *shop) listProducts(ctx context.Context) ([]product, error) {
	rows, err := s.query(ctx, "SELECT id, name, price_cents FROM products ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	defer rows.Close()
	var ps []product
	for rows.Next() {
		var p product
		var cents int
		if err := rows.Scan(&p.ID, &p.Name, &cents); err != nil {
			return nil, fmt.Errorf("products: %w", err)
		}
		p.Price = fmt.Sprintf("%d.%02d", cents/100, cents%100)
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

var argRE = regexp.MustCompile(`^\s*(\w+)\s*:\s*(\$\w+|-?\d+)\s*$`)

// intArg reads the integer argument name of args ("productId: $id" or
// "productId: 3"), a variable taken from vars.
func intArg(args, name string, vars map[string]any) (int, error) {
	for _, a := range strings.Split(args, ",") {
		m := argRE.FindStringSubmatch(a)
		if m == nil || m[1] != name {
			continue
		}
		if v, ok := strings.CutPrefix(m[2], "$"); ok {
			n, isNumber := vars[v].(float64)
			if !isNumber || n != float64(int(n)) {
				return 0, fmt.Errorf("variable $%s must be an Int", v)
			}
			return int(n), nil
		}
		return strconv.Atoi(m[2])
	}
	return 0, fmt.Errorf("argument %q is required", name)
}

// pickOperation parses doc and returns the operation named name, or its
// only one when name is "".
func pickOperation(doc, name string) (operation, error) {
	ops, err := parseOperations(doc)
	if err != nil {
		return operation{}, err
	}
	if name == "" {
		if len(ops) != 1 {
			return operation{}, errors.New("operationName is required when the document has several operations")
		}
		return ops[0], nil
	}
	for _, op := range ops {
		if op.Name == name {
			return op, nil
		}
	}
	return operation{}, fmt.Errorf("no operation %q in the document", name)
}

// parseOperations reads the operation definitions of a GraphQL document
// (fragments are skipped): "query Name($v: T) { field(args) { ... } }" or
// the shorthand "{ field }".
func parseOperations(doc string) ([]operation, error) {
	p := &gqlScanner{src: doc}
	var ops []operation
	for p.skipSpace(); p.pos < len(p.src); p.skipSpace() {
		var op operation
		if p.peek() == '{' {
			op.Type = "query"
		} else {
			switch word := p.name(); word {
			case "query", "mutation", "subscription":
				op.Type = word
				p.skipSpace()
				op.Name = p.name()
			case "fragment":
				if err := p.skipPast('{'); err != nil {
					return nil, err
				}
				if err := p.skipBlock('{', '}'); err != nil {
					return nil, err
				}
				continue
			default:
				return nil, fmt.Errorf("syntax error at %d: want an operation, found %q", p.pos, word)
			}
			if err := p.skipPast('{'); err != nil {
				return nil, err
			}
			p.pos-- // back on the selection set's brace
		}
		p.pos++ // into the selection set
		p.skipSpace()
		op.Field = p.name()
		if p.skipSpace(); p.peek() == ':' { // an alias
			p.pos++
			p.skipSpace()
			op.Field = p.name()
		}
		if op.Field == "" {
			return nil, fmt.Errorf("syntax error at %d: want a field", p.pos)
		}
		if p.skipSpace(); p.peek() == '(' {
			start := p.pos + 1
			if err := p.skipBlock('(', ')'); err != nil {
				return nil, err
			}
			op.Args = p.src[start : p.pos-1]
		}
		if err := p.skipBlock(0, '}'); err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, errors.New("the document has no operation")
	}
	return ops, nil
}

// gqlScanner walks a GraphQL document.
type gqlScanner struct {
	src string
	pos int
}

func (p *gqlScanner) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// skipSpace skips white space, commas and comments.
func (p *gqlScanner) skipSpace() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			p.pos++
		default:
			return
		}
	}
}

// name reads a name ([_A-Za-z][_0-9A-Za-z]*), "" when there is none.
func (p *gqlScanner) name() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.pos > start && c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.src[start:p.pos]
}

// skipPast moves past the next c outside strings and parentheses.
func (p *gqlScanner) skipPast(c byte) error {
	for p.skipSpace(); p.pos < len(p.src); p.skipSpace() {
		switch p.src[p.pos] {
		case c:
			p.pos++
			return nil
		case '(':
			if err := p.skipBlock('(', ')'); err != nil {
				return err
			}
		case '"':
			p.skipString()
		default:
			p.pos++
		}
	}
	return fmt.Errorf("syntax error: no %q", c)
}

// skipBlock moves past the close that ends the block open starts at p.pos
// (open 0: p.pos is already inside it).
func (p *gqlScanner) skipBlock(open, close byte) error {
	depth := 1
	if open != 0 {
		p.pos++
	}
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; c {
		case '"':
			p.skipString()
			continue
		case '#':
			p.skipSpace()
			continue
		case '{', '(', '[':
			depth++
		case '}', ')', ']':
			depth--
		}
		p.pos++
		if depth == 0 {
			if p.src[p.pos-1] != close {
				return fmt.Errorf("syntax error at %d: unbalanced %q", p.pos-1, p.src[p.pos-1])
			}
			return nil
		}
	}
	return fmt.Errorf("syntax error: no closing %q", close)
}

// skipString moves past a string literal ("..." or a """block""").
func (p *gqlScanner) skipString() {
	if strings.HasPrefix(p.src[p.pos:], `"""`) {
		if end := strings.Index(p.src[p.pos+3:], `"""`); end >= 0 {
			p.pos += 3 + end + 3
		} else {
			p.pos = len(p.src)
		}
		return
	}
	for p.pos++; p.pos < len(p.src); p.pos++ {
		switch p.src[p.pos] {
		case '\\':
			p.pos++
		case '"':
			p.pos++
			return
		}
	}
}
