package caddymodule

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tracebar/tracebar/toolbar"
	"golang.org/x/net/http/httpguts"
)

// isWebSocket tells whether r opens a WebSocket: an HTTP/1.1 upgrade
// (RFC 6455 §4.1), or an extended CONNECT over HTTP/2 (RFC 8441 §4) or
// HTTP/3 (RFC 9220), which reverse_proxy turns into an upgrade upstream.
// The tests are reverse_proxy's own (isWebsocket, and its extended CONNECT
// check), so Tracebar observes exactly the tunnels it builds.
func isWebSocket(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return (r.ProtoMajor == 2 && r.Header.Get(":protocol") == "websocket") ||
			(r.ProtoMajor == 3 && r.Proto == "websocket")
	}
	return httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade") &&
		httpguts.HeaderValuesContainsToken(r.Header["Upgrade"], "websocket")
}

// WebSocket opcodes (RFC 6455 §5.2, §11.8).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// Close codes that never travel in a Close frame but name how a
// connection ended (RFC 6455 §7.1.5, §7.4.1).
const (
	closeNoStatus = 1005 // a Close frame without a status code
	closeAbnormal = 1006 // the connection ended without a Close frame
)

// maxControlPayload bounds a control frame's payload (RFC 6455 §5.5).
const maxControlPayload = 125

// Where wsFlow is in a frame.
const (
	wsFirst   = iota // FIN, RSV1-3, opcode
	wsSecond         // MASK, payload length (7 bits)
	wsLength         // the 16- or 64-bit extended payload length
	wsMaskKey        // the 4-byte masking key
	wsPayload        // payload bytes, passed without a look but a Close's
)

// wsFlow counts one direction of a WebSocket connection as its bytes pass:
// a state machine over frame headers (RFC 6455 §5.2) that reads a header
// byte by byte, whatever reads split it, and skips payloads whole. It
// neither holds nor changes a byte, and allocates nothing per frame; only
// the first Close frame's payload (at most 125 bytes) is kept, unmasked in
// its own copy (§5.3), for the close code and reason (§5.5.1).
//
// A stream that is not WebSocket gives meaningless counts, never a panic.
type wsFlow struct {
	mu    sync.Mutex     // the copy goroutine observes; a shutdown's Close or a snapshot may come from another
	order *atomic.Uint64 // shared by both directions: which sent Close first

	counts toolbar.Flow

	state     int
	need      int    // bytes of the extended length or masking key still to come
	fin       bool   // the frame ends its message
	opcode    byte   // the frame's
	masked    bool   // the frame has a masking key (client to server, §5.1)
	length    uint64 // the frame's payload length
	remaining uint64 // payload bytes still to pass
	mask      [4]byte
	message   byte // opcode of the fragmented data message in progress, or 0

	closePayload [maxControlPayload]byte
	closeLen     int    // bytes of closePayload kept
	closeOrder   uint64 // 0 until a whole Close frame passed
}

// observe counts p, bytes that passed in this direction.
func (f *wsFlow) observe(p []byte) {
	f.mu.Lock()
	f.counts.Bytes += int64(len(p))
	for len(p) > 0 {
		if f.state == wsPayload {
			n := uint64(len(p))
			if n > f.remaining {
				n = f.remaining
			}
			if f.opcode == opClose && f.closeOrder == 0 {
				f.keepClose(p[:n])
			}
			f.remaining -= n
			p = p[n:]
			if f.remaining == 0 {
				f.frameDone()
			}
			continue
		}
		b := p[0]
		p = p[1:]
		switch f.state {
		case wsFirst:
			f.fin, f.opcode = b&0x80 != 0, b&0x0F
			f.state = wsSecond
		case wsSecond:
			f.masked = b&0x80 != 0
			switch n := b & 0x7F; n {
			case 126:
				f.length, f.need, f.state = 0, 2, wsLength
			case 127:
				f.length, f.need, f.state = 0, 8, wsLength
			default:
				f.length = uint64(n)
				f.lengthDone()
			}
		case wsLength:
			f.length = f.length<<8 | uint64(b)
			if f.need--; f.need == 0 {
				f.lengthDone()
			}
		case wsMaskKey:
			f.mask[4-f.need] = b
			if f.need--; f.need == 0 {
				f.headerDone()
			}
		}
	}
	f.mu.Unlock()
}

func (f *wsFlow) lengthDone() {
	if f.masked {
		f.need, f.state = 4, wsMaskKey
		return
	}
	f.headerDone()
}

func (f *wsFlow) headerDone() {
	f.remaining = f.length
	if f.opcode == opClose && f.closeOrder == 0 {
		f.closeLen = 0 // a Close cut short before: this one counts
	}
	if f.remaining == 0 {
		f.frameDone()
		return
	}
	f.state = wsPayload
}

// keepClose copies a Close frame's payload bytes, unmasked, up to 125:
// p starts at payload offset length-remaining.
func (f *wsFlow) keepClose(p []byte) {
	at := f.length - f.remaining
	for i, b := range p {
		pos := at + uint64(i)
		if pos >= maxControlPayload {
			break
		}
		if f.masked {
			b ^= f.mask[pos&3]
		}
		f.closePayload[pos] = b
		f.closeLen = int(pos) + 1
	}
}

// frameDone counts the frame whose last byte passed. A message counts
// when its final frame has passed: a text or binary frame with FIN, or the
// continuation frame with FIN that ends a fragmented one (§5.4); control
// frames may come between fragments and leave the message alone.
func (f *wsFlow) frameDone() {
	c := &f.counts
	c.Frames++
	switch f.opcode {
	case opContinuation:
		if f.fin && f.message != 0 {
			f.countMessage(f.message)
			f.message = 0
		}
	case opText, opBinary:
		if f.fin {
			f.countMessage(f.opcode)
			f.message = 0
		} else {
			f.message = f.opcode
		}
	case opClose:
		c.Closes++
		if f.closeOrder == 0 {
			f.closeOrder = 1
			if f.order != nil {
				f.closeOrder = f.order.Add(1)
			}
		}
	case opPing:
		c.Pings++
	case opPong:
		c.Pongs++
	}
	f.state = wsFirst
}

func (f *wsFlow) countMessage(opcode byte) {
	f.counts.Messages++
	if opcode == opText {
		f.counts.Text++
	} else {
		f.counts.Binary++
	}
}

// snapshot returns the counts so far and the first Close frame's order
// (0 if none passed), code and reason.
func (f *wsFlow) snapshot() (counts toolbar.Flow, closeOrder uint64, code int, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closeOrder == 0 {
		return f.counts, 0, 0, ""
	}
	if f.closeLen < 2 {
		return f.counts, f.closeOrder, closeNoStatus, ""
	}
	code = int(f.closePayload[0])<<8 | int(f.closePayload[1])
	reason = strings.ToValidUTF8(string(f.closePayload[2:f.closeLen]), "\uFFFD")
	return f.counts, f.closeOrder, code, reason
}

// wsSession observes both directions of one WebSocket connection.
type wsSession struct {
	order      atomic.Uint64
	fromClient wsFlow
	toClient   wsFlow
}

func newWSSession() *wsSession {
	s := new(wsSession)
	s.fromClient.order = &s.order
	s.toClient.order = &s.order
	return s
}

// figures fills s with both directions' counts and the close: the first
// Close frame to pass gives the code and reason, or 1006 when none did.
func (ws *wsSession) figures(s *toolbar.Session) {
	var upOrder, downOrder uint64
	var upCode, downCode int
	var upReason, downReason string
	s.ClientToServer, upOrder, upCode, upReason = ws.fromClient.snapshot()
	s.ServerToClient, downOrder, downCode, downReason = ws.toClient.snapshot()
	switch {
	case upOrder != 0 && (downOrder == 0 || upOrder < downOrder):
		s.CloseCode, s.CloseReason, s.ClosedBy = upCode, upReason, "client"
	case downOrder != 0:
		s.CloseCode, s.CloseReason, s.ClosedBy = downCode, downReason, "server"
	default:
		s.CloseCode, s.CloseReason, s.ClosedBy = closeAbnormal, "", ""
	}
}

// tunnelConn is the hijacked client connection as reverse_proxy's tunnel
// copies it: what it reads goes to the upstream, what it writes came from
// it. Both pass untouched; the session's flows count them. It has no
// ReadFrom or WriteTo, so the copies go through Read and Write.
type tunnelConn struct {
	net.Conn
	ws *wsSession
}

func (c *tunnelConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.ws.fromClient.observe(p[:n])
	}
	return n, err
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.ws.toClient.observe(p[:n])
	}
	return n, err
}

// tunnelHalfCloser is a tunnelConn over a connection with a write half
// to close (TCP, TLS): reverse_proxy passes an upstream's EOF on with
// CloseWrite when the connection has it, and ends the tunnel when not
// (caddyserver/caddy#8026), so the wrapper has it exactly when the
// connection does.
type tunnelHalfCloser struct{ *tunnelConn }

func (c tunnelHalfCloser) CloseWrite() error {
	return c.Conn.(interface{ CloseWrite() error }).CloseWrite()
}

// observeTunnel wraps a hijacked connection so ws counts both directions.
// Bytes the server read past the request head (a client's first frames,
// sent before the 101 came) wait in brw's reader, and reverse_proxy sends
// them upstream first (caddyserver/caddy#6273): they are counted here.
func observeTunnel(conn net.Conn, brw *bufio.ReadWriter, ws *wsSession) net.Conn {
	if brw != nil {
		if n := brw.Reader.Buffered(); n > 0 {
			if b, err := brw.Reader.Peek(n); err == nil {
				ws.fromClient.observe(b)
			}
		}
	}
	tc := &tunnelConn{Conn: conn, ws: ws}
	if _, ok := conn.(interface{ CloseWrite() error }); ok {
		return tunnelHalfCloser{tc}
	}
	return tc
}

// tunnelBody is the request body of a WebSocket over HTTP/2 or HTTP/3
// (extended CONNECT): the client's frames, counted as they are read.
type tunnelBody struct {
	io.ReadCloser
	flow *wsFlow
}

func (b *tunnelBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.flow.observe(p[:n])
	}
	return n, err
}
