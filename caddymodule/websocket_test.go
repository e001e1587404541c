package caddymodule

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/tracebar/tracebar/toolbar"
)

// The masking key of RFC 6455 §5.7's examples.
var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// Length forms of a frame header (RFC 6455 §5.2): the shortest that
// holds the payload, or a longer one a sender may use all the same.
const (
	lenShortest = 0
	len16       = 16
	len64       = 64
)

// wsFrame encodes one frame; a masked one with testMask.
func wsFrame(fin bool, opcode byte, masked bool, form int, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	n := len(payload)
	out := []byte{b0}
	switch {
	case form == len64 || (form == lenShortest && n > 0xFFFF):
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	case form == len16 || (form == lenShortest && n > 125):
		out = append(out, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, maskBit|byte(n))
	}
	if !masked {
		return append(out, payload...)
	}
	out = append(out, testMask[:]...)
	for i, c := range payload {
		out = append(out, c^testMask[i%4])
	}
	return out
}

func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

func join(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// flowOf feeds the pieces to a new flow, checking that observing leaves
// every byte as it was, and returns what it counted.
func flowOf(t testing.TB, pieces ...[]byte) (toolbar.Flow, uint64, int, string) {
	t.Helper()
	var f wsFlow
	for _, p := range pieces {
		before := bytes.Clone(p)
		f.observe(p)
		if !bytes.Equal(p, before) {
			t.Fatal("observe changed the bytes it saw")
		}
	}
	return f.snapshot()
}

// TestWebSocketFrames: every payload length form, masked or not,
// fragmented messages, control frames between fragments and close codes
// are counted the same whether the bytes come in one read, split in two
// at any offset, or one byte at a time.
func TestWebSocketFrames(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70*1024)
	tests := []struct {
		name       string
		stream     []byte
		want       toolbar.Flow // Bytes is the stream's length
		wantClose  bool
		wantCode   int
		wantReason string
	}{
		{"text, 7-bit length, unmasked", wsFrame(true, opText, false, lenShortest, []byte("hello")),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 1}, false, 0, ""},
		{"text, 7-bit length, masked", wsFrame(true, opText, true, lenShortest, []byte("hello")),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 1}, false, 0, ""},
		{"empty binary", wsFrame(true, opBinary, true, lenShortest, nil),
			toolbar.Flow{Messages: 1, Binary: 1, Frames: 1}, false, 0, ""},
		{"125 bytes, the longest 7-bit length", wsFrame(true, opBinary, false, lenShortest, big[:125]),
			toolbar.Flow{Messages: 1, Binary: 1, Frames: 1}, false, 0, ""},
		{"126 bytes, the shortest 16-bit length", wsFrame(true, opBinary, true, lenShortest, big[:126]),
			toolbar.Flow{Messages: 1, Binary: 1, Frames: 1}, false, 0, ""},
		{"65535 bytes, the longest 16-bit length", wsFrame(true, opText, false, lenShortest, big[:65535]),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 1}, false, 0, ""},
		{"65536 bytes, the shortest 64-bit length", wsFrame(true, opText, true, lenShortest, big[:65536]),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 1}, false, 0, ""},
		{"70 KB, 64-bit length, unmasked", wsFrame(true, opBinary, false, lenShortest, big),
			toolbar.Flow{Messages: 1, Binary: 1, Frames: 1}, false, 0, ""},
		{"5 bytes in a 16-bit length", wsFrame(true, opText, true, len16, []byte("hello")),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 1}, false, 0, ""},
		{"5 bytes in a 64-bit length", wsFrame(true, opText, false, len64, []byte("hello")),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 1}, false, 0, ""},
		{"fragmented text: three frames, one message", join(
			wsFrame(false, opText, true, lenShortest, []byte("frag")),
			wsFrame(false, opContinuation, true, lenShortest, big[:300]),
			wsFrame(true, opContinuation, true, lenShortest, []byte("end"))),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 3}, false, 0, ""},
		{"fragmented binary with a ping and a pong between fragments", join(
			wsFrame(false, opBinary, false, lenShortest, []byte{1, 2}),
			wsFrame(true, opPing, false, lenShortest, []byte("are you there")),
			wsFrame(false, opContinuation, false, lenShortest, []byte{3}),
			wsFrame(true, opPong, false, lenShortest, nil),
			wsFrame(true, opContinuation, false, lenShortest, nil)),
			toolbar.Flow{Messages: 1, Binary: 1, Frames: 5, Pings: 1, Pongs: 1}, false, 0, ""},
		{"messages back to back", join(
			wsFrame(true, opText, true, lenShortest, []byte("a")),
			wsFrame(true, opBinary, true, lenShortest, big[:200]),
			wsFrame(true, opText, true, lenShortest, big[:70000])),
			toolbar.Flow{Messages: 3, Text: 2, Binary: 1, Frames: 3}, false, 0, ""},
		{"a continuation with no message to continue counts no message",
			wsFrame(true, opContinuation, false, lenShortest, []byte("stray")),
			toolbar.Flow{Frames: 1}, false, 0, ""},
		{"close with a code and reason, masked", join(
			wsFrame(true, opText, true, lenShortest, []byte("bye")),
			wsFrame(true, opClose, true, lenShortest, closePayload(1000, "done here"))),
			toolbar.Flow{Messages: 1, Text: 1, Frames: 2, Closes: 1}, true, 1000, "done here"},
		{"close with a code and reason, unmasked",
			wsFrame(true, opClose, false, lenShortest, closePayload(4001, "app says no")),
			toolbar.Flow{Frames: 1, Closes: 1}, true, 4001, "app says no"},
		{"close with the longest reason", wsFrame(true, opClose, true, lenShortest, closePayload(1001, strings.Repeat("r", 123))),
			toolbar.Flow{Frames: 1, Closes: 1}, true, 1001, strings.Repeat("r", 123)},
		{"close without a code is 1005", wsFrame(true, opClose, true, lenShortest, nil),
			toolbar.Flow{Frames: 1, Closes: 1}, true, closeNoStatus, ""},
		{"close with one byte is 1005", wsFrame(true, opClose, false, lenShortest, []byte{3}),
			toolbar.Flow{Frames: 1, Closes: 1}, true, closeNoStatus, ""},
		{"the first of two closes names the code", join(
			wsFrame(true, opClose, false, lenShortest, closePayload(1000, "first")),
			wsFrame(true, opClose, false, lenShortest, closePayload(1011, "second"))),
			toolbar.Flow{Frames: 2, Closes: 2}, true, 1000, "first"},
		{"an oversized close keeps 125 bytes", wsFrame(true, opClose, true, lenShortest, closePayload(1002, strings.Repeat("z", 200))),
			toolbar.Flow{Frames: 1, Closes: 1}, true, 1002, strings.Repeat("z", 123)},
		{"a reason that is not UTF-8 is made valid", wsFrame(true, opClose, false, lenShortest, closePayload(1007, "a\xffb")),
			toolbar.Flow{Frames: 1, Closes: 1}, true, 1007, "a\uFFFDb"},
		{"a frame cut short counts nothing", wsFrame(true, opText, true, lenShortest, big[:1000])[:500],
			toolbar.Flow{}, false, 0, ""},
		{"a header cut short counts nothing", wsFrame(true, opText, true, lenShortest, big[:70000])[:7],
			toolbar.Flow{}, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.Bytes = int64(len(tt.stream))
			check := func(how string, pieces ...[]byte) {
				t.Helper()
				got, order, code, reason := flowOf(t, pieces...)
				if got != want || (order != 0) != tt.wantClose || code != tt.wantCode || reason != tt.wantReason {
					t.Fatalf("%s: counts %+v, close %v %d %q; want %+v, close %v %d %q",
						how, got, order != 0, code, reason, want, tt.wantClose, tt.wantCode, tt.wantReason)
				}
			}
			check("one read", tt.stream)
			for i := 1; i < len(tt.stream) && i < 300; i++ {
				check(fmt.Sprintf("split at %d", i), tt.stream[:i], tt.stream[i:])
			}
			// The tail offsets too: a long frame's end, and the next header.
			for i := max(300, len(tt.stream)-300); i < len(tt.stream); i++ {
				check(fmt.Sprintf("split at %d", i), tt.stream[:i], tt.stream[i:])
			}
			if len(tt.stream) <= 4096 {
				bytewise := make([][]byte, len(tt.stream))
				for i := range tt.stream {
					bytewise[i] = tt.stream[i : i+1]
				}
				check("byte by byte", bytewise...)
			}
		})
	}
}

// TestWebSocketFlowAllocatesNothing: counting frames, a Close's payload
// included, costs no allocation, whatever the reads.
func TestWebSocketFlowAllocatesNothing(t *testing.T) {
	stream := join(
		wsFrame(false, opText, true, lenShortest, []byte("frag")),
		wsFrame(true, opPing, true, lenShortest, nil),
		wsFrame(true, opContinuation, true, lenShortest, make([]byte, 70000)),
		wsFrame(true, opClose, true, lenShortest, closePayload(1000, "bye")))
	ws := newWSSession()
	allocs := testing.AllocsPerRun(50, func() {
		for i := 0; i < len(stream); i += 7 {
			ws.fromClient.observe(stream[i:min(i+7, len(stream))])
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per stream", allocs)
	}
}

// BenchmarkWebSocketFlow measures counting a stream of small masked
// frames read 32 KB at a time, as reverse_proxy's tunnel copies.
func BenchmarkWebSocketFlow(b *testing.B) {
	var frames [][]byte
	for len(frames) < 1000 {
		frames = append(frames, wsFrame(true, opText, true, lenShortest, []byte(`{"type":"tick","n":12345}`)))
	}
	stream := join(frames...)
	var f wsFlow
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		for i := 0; i < len(stream); i += 32 << 10 {
			f.observe(stream[i:min(i+32<<10, len(stream))])
		}
	}
}

// TestWebSocketCloseOrder: the session's close is the first Close frame
// to pass in either direction, and 1006 when none passed.
func TestWebSocketCloseOrder(t *testing.T) {
	clientClose := wsFrame(true, opClose, true, lenShortest, closePayload(1000, "client done"))
	serverClose := wsFrame(true, opClose, false, lenShortest, closePayload(1001, "going away"))
	tests := []struct {
		name       string
		steps      []string // "client" or "server": who sends Close, in order
		wantCode   int
		wantReason string
		wantBy     string
	}{
		{"the client closes, the server echoes", []string{"client", "server"}, 1000, "client done", "client"},
		{"the server closes, the client echoes", []string{"server", "client"}, 1001, "going away", "server"},
		{"only the server closes", []string{"server"}, 1001, "going away", "server"},
		{"no Close frame: abnormal closure", nil, closeAbnormal, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := newWSSession()
			for _, who := range tt.steps {
				if who == "client" {
					ws.fromClient.observe(clientClose)
				} else {
					ws.toClient.observe(serverClose)
				}
			}
			var s toolbar.Session
			ws.figures(&s)
			if s.CloseCode != tt.wantCode || s.CloseReason != tt.wantReason || s.ClosedBy != tt.wantBy {
				t.Fatalf("close %d %q by %q, want %d %q by %q", s.CloseCode, s.CloseReason, s.ClosedBy, tt.wantCode, tt.wantReason, tt.wantBy)
			}
		})
	}
}

// TestObserveTunnelKeepsHalfClose: the observed connection can close its
// write half exactly when the hijacked one can, so reverse_proxy passes
// an EOF on, or ends the tunnel, as it would without Tracebar.
func TestObserveTunnelKeepsHalfClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcp, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	pipe, other := net.Pipe()
	defer pipe.Close()
	defer other.Close()
	for _, tt := range []struct {
		name string
		conn net.Conn
		want bool
	}{
		{"TCP has a write half", tcp, true},
		{"a pipe has none", pipe, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, got := observeTunnel(tt.conn, nil, newWSSession()).(interface{ CloseWrite() error })
			if got != tt.want {
				t.Fatalf("CloseWrite %v, want %v", got, tt.want)
			}
		})
	}
}

// playTunnel plays reverse_proxy's part in an upgrade: the 101, the
// hijack, the bytes the server read past the request head sent on first,
// then a tunnel to an upstream that echoes every byte.
var playTunnel = caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Upgrade", "websocket")
	w.Header().Set("Connection", "Upgrade")
	w.WriteHeader(http.StatusSwitchingProtocols)
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := brw.Flush(); err != nil {
		return err
	}
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Peek(n)
		if _, err := conn.Write(b); err != nil { // the echo upstream's answer
			return err
		}
	}
	_, err = io.Copy(conn, conn)
	return err
})

// TestHijackedWebSocketIsObserved: through the handler, a hijacked
// WebSocket is published as an open session at the upgrade, its bytes
// pass untouched both ways (frames the client sent right behind its
// request head included), and the done record counts them.
func TestHijackedWebSocketIsObserved(t *testing.T) {
	h := benchHandler(t)
	served := make(chan struct{}) // the handler returned: the record is done
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
		if err := h.ServeHTTP(w, r, playTunnel); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()

	early := wsFrame(true, opText, true, lenShortest, []byte("sent with the head"))
	later := join(
		wsFrame(false, opBinary, true, lenShortest, bytes.Repeat([]byte{7}, 300)),
		wsFrame(true, opPing, true, lenShortest, nil),
		wsFrame(true, opContinuation, true, lenShortest, bytes.Repeat([]byte{8}, 70000)),
		wsFrame(true, opClose, true, lenShortest, closePayload(1000, "bye")))

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
	if _, err := conn.Write(append([]byte(head), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	id := strings.TrimPrefix(resp.Header.Get("X-Tracebar-Link"), "/__tracebar/requests/")
	echo := make([]byte, len(early))
	if _, err := io.ReadFull(br, echo); err != nil || !bytes.Equal(echo, early) {
		t.Fatalf("early frame echoed as %q (%v)", echo, err)
	}
	if rec := h.store.Request(id); rec == nil || rec.Kind != toolbar.RecordWebSocket || rec.Done || rec.Session == nil || rec.Session.OpenedAt.IsZero() {
		t.Fatalf("in flight, the record is %+v, want an open websocket session", rec)
	}
	if _, err := conn.Write(later); err != nil {
		t.Fatal(err)
	}
	echo = make([]byte, len(later))
	if _, err := io.ReadFull(br, echo); err != nil || !bytes.Equal(echo, later) {
		t.Fatalf("frames came back changed (%v)", err)
	}
	conn.(*net.TCPConn).CloseWrite() // the tunnel ends when both directions did
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the echo: %v, want EOF", err)
	}
	<-served

	rec := h.store.Request(id)
	if rec == nil || !rec.Done || rec.Kind != toolbar.RecordWebSocket || rec.Session == nil {
		t.Fatalf("record %+v", rec)
	}
	s := rec.Session
	want := toolbar.Flow{Bytes: int64(len(early) + len(later)), Messages: 2, Text: 1, Binary: 1, Frames: 5, Pings: 1, Closes: 1}
	if s.ClientToServer != want || s.ServerToClient != want {
		t.Errorf("client to server %+v, server to client %+v, want %+v both", s.ClientToServer, s.ServerToClient, want)
	}
	if s.CloseCode != 1000 || s.CloseReason != "bye" || s.ClosedBy != "client" {
		t.Errorf("close %d %q by %q", s.CloseCode, s.CloseReason, s.ClosedBy)
	}
	if s.ClosedAt.Before(s.OpenedAt) || rec.Status != http.StatusSwitchingProtocols {
		t.Errorf("opened %v closed %v status %d", s.OpenedAt, s.ClosedAt, rec.Status)
	}
}

// TestExtendedConnectWebSocketIsObserved: a WebSocket over HTTP/2
// (extended CONNECT, RFC 8441) has no hijack: its frames are the request
// and response bodies, counted as they pass.
func TestExtendedConnectWebSocketIsObserved(t *testing.T) {
	fromClient := join(wsFrame(true, opText, true, lenShortest, []byte("hi")), wsFrame(true, opClose, true, lenShortest, closePayload(1000, "")))
	fromServer := join(wsFrame(true, opBinary, false, lenShortest, make([]byte, 1000)), wsFrame(true, opClose, false, lenShortest, closePayload(1000, "")))
	next := caddyHandler(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil {
			return err
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(got, fromClient) {
			return fmt.Errorf("upstream got %q (%v)", got, err)
		}
		_, err = w.Write(fromServer)
		return err
	})
	h := benchHandler(t)
	r := httptest.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()), http.MethodConnect, "http://127.0.0.1/chat", bytes.NewReader(fromClient))
	r.RemoteAddr = "127.0.0.1:1"
	r.Host = "127.0.0.1"
	r.ProtoMajor, r.ProtoMinor, r.Proto = 2, 0, "HTTP/2.0"
	r.Header.Set(":protocol", "websocket")
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Body.Bytes(), fromServer) {
		t.Fatal("the server's frames came through changed")
	}
	id := strings.TrimPrefix(w.Header().Get("X-Tracebar-Link"), "/__tracebar/requests/")
	rec := h.store.Request(id)
	if rec == nil || !rec.Done || rec.Kind != toolbar.RecordWebSocket || rec.Session == nil {
		t.Fatalf("record %+v", rec)
	}
	s := rec.Session
	if up := s.ClientToServer; up.Bytes != int64(len(fromClient)) || up.Text != 1 || up.Closes != 1 {
		t.Errorf("client to server %+v", up)
	}
	if down := s.ServerToClient; down.Bytes != int64(len(fromServer)) || down.Binary != 1 || down.Closes != 1 {
		t.Errorf("server to client %+v", down)
	}
	if s.CloseCode != 1000 || s.ClosedBy != "client" {
		t.Errorf("close %d by %q", s.CloseCode, s.ClosedBy)
	}
}

// TestOtherUpgradesPassUntouched: an upgrade to anything but WebSocket
// is neither recorded nor wrapped.
func TestOtherUpgradesPassUntouched(t *testing.T) {
	h := benchHandler(t)
	var got http.ResponseWriter
	next := caddyHandler(func(w http.ResponseWriter, r *http.Request) error { got = w; return nil })
	r := httptest.NewRequestWithContext(context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer()), http.MethodGet, "http://127.0.0.1/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "h2c")
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, r, next); err != nil {
		t.Fatal(err)
	}
	if got != http.ResponseWriter(w) {
		t.Fatalf("the h2c upgrade got a %T, want the writer as it came", got)
	}
}

// FuzzWebSocketFrames: any bytes, cut anywhere, give the counts they give
// in one piece, and never a panic.
func FuzzWebSocketFrames(f *testing.F) {
	f.Add(join(wsFrame(false, opText, true, lenShortest, []byte("a")), wsFrame(true, opPing, true, lenShortest, nil),
		wsFrame(true, opContinuation, true, len64, []byte("b")), wsFrame(true, opClose, true, lenShortest, closePayload(1000, "x"))), []byte{1, 5, 9})
	f.Add(wsFrame(true, opBinary, false, lenShortest, make([]byte, 300)), []byte{2, 3})
	f.Add([]byte{0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1}, []byte{4})
	f.Add([]byte{0x88, 0xFE, 0x00, 0xC8, 1, 2}, []byte{0})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		whole, wo, wc, wr := flowOf(t, stream)
		if whole.Bytes != int64(len(stream)) {
			t.Fatalf("bytes %d of %d", whole.Bytes, len(stream))
		}
		var pieces [][]byte
		rest := stream
		for _, c := range cuts {
			n := min(int(c), len(rest))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		pieces = append(pieces, rest)
		got, o, c, r := flowOf(t, pieces...)
		if got != whole || o != wo || c != wc || r != wr {
			t.Fatalf("in %d pieces %+v %d %d %q; whole %+v %d %d %q", len(pieces), got, o, c, r, whole, wo, wc, wr)
		}
	})
}
