package inject

import (
	"bytes"
	"strings"

	"golang.org/x/net/html"
)

// scanner finds the end tags that the golang.org/x/net/html tokenizer would
// report as </body> and </html>, and where the head starts, without
// tokenizing every byte: it jumps
// from '<' to '<' and tracks only the states that can hide an end tag
// (comments, raw text, script data and its escapes, plaintext). It is
// resumable: Write feeds it a growing buffer, and it keeps a checkpoint
// before any construct it has not seen the end of.
//
// The tokenizer itself is the specification: writer_test.go and the fuzz
// target compare every insertion point with it.
type scanner struct {
	pos  int64 // every byte before pos is classified
	mode mode
	raw  string // the raw-text element while mode is modeRawText
	ss   scriptState

	// comment state (modeComment)
	dashes    int
	beginning bool

	// prologue is true while only a BOM, doctypes, comments, whitespace
	// and <html> start tags have been seen: the head is not known yet.
	prologue bool
	// xml is set for XML documents (XHTML): the head starts only at a
	// literal <head>, and a self-closing tag (<script src="a.js"/>) is
	// empty, not the start of raw text.
	xml bool

	body, htmlEnd int64  // offsets of the last </body> and </html>, or -1
	head          int64  // offset where the head snippet goes, or -1
	metaNonce     string // script nonce of the first <meta http-equiv> CSP that has one
	metaAt        int64  // offset of that <meta>
}

type mode uint8

const (
	modeData      mode = iota
	modeRawText        // after <style>, <textarea>, <title>, ...: until </name
	modeScript         // after <script>: script data states
	modePlainText      // after <plaintext>: the rest is text
	modeComment        // inside <!-- ... -->
	modeBogus          // inside a bogus comment or doctype: until '>'
)

// scriptState is one of the stable states of the tokenizer's readScript.
type scriptState uint8

const (
	sData scriptState = iota
	sEscaped
	sEscapedDash
	sEscapedDashDash
	sDoubleEscaped
	sDoubleEscapedDash
	sDoubleEscapedDashDash
)

func newScanner() scanner { return scanner{body: -1, htmlEnd: -1, head: -1, prologue: true} }

// bom is the UTF-8 byte order mark; a decoder drops it before tokenizing.
const bom = "\xef\xbb\xbf"

// text notes that b[i:j] is text: the head is implied at its first
// character that is not whitespace, while in the prologue.
func (s *scanner) text(b []byte, i, j int, base int64) {
	if !s.prologue {
		return
	}
	if base+int64(i) == 0 && bytes.HasPrefix(b[i:j], []byte(bom)) {
		i += len(bom)
	}
	for k := i; k < j; k++ {
		if class[b[k]]&cSpace == 0 {
			s.endPrologue(base + int64(k))
			return
		}
	}
}

// endPrologue puts the head at offset at, where the HTML parser implies
// it: the first token that is not a doctype, comment, whitespace or <html>
// start tag (WHATWG HTML, 13.2.6.4.1-3, "before html" and "before head").
func (s *scanner) endPrologue(at int64) {
	s.prologue = false
	if !s.xml {
		s.head = at
	}
}

// scan classifies b, which holds the stream from offset base on and starts
// at or before s.pos. eof says b ends the stream.
func (s *scanner) scan(b []byte, base int64, eof bool) {
	i := int(s.pos - base)
	for i < len(b) {
		var ok bool
		switch s.mode {
		case modePlainText:
			i = len(b)
			ok = true
		case modeComment:
			i, ok = s.comment(b, i)
		case modeBogus:
			if j := bytes.IndexByte(b[i:], '>'); j >= 0 {
				i, ok = i+j+1, true
				s.mode = modeData
			} else {
				i = len(b)
			}
		case modeRawText:
			i, ok = s.rawText(b, i, eof)
		case modeScript:
			i, ok = s.script(b, i, eof)
		default:
			i, ok = s.data(b, i, base, eof)
		}
		s.pos = base + int64(i)
		if !ok {
			return // needs more input
		}
	}
	s.pos = base + int64(i)
}

// data handles the data state from b[i]: text and tags up to a token
// that changes the mode. It returns the index after what it consumed, and
// false when the token there is incomplete (i then points at its '<').
func (s *scanner) data(b []byte, i int, base int64, eof bool) (int, bool) {
	if s.prologue && base+int64(i) == 0 && !eof && len(b) < len(bom) && bytes.HasPrefix([]byte(bom), b) {
		return 0, false // a BOM or not?
	}
	for {
		lt := i
		if i >= len(b) || b[i] != '<' { // a tag is often followed by the next
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				s.text(b, i, len(b), base)
				return len(b), true
			}
			lt += j
		}
		if s.prologue {
			s.text(b, i, lt, base)
		}
		if lt+1 >= len(b) {
			if eof {
				s.text(b, lt, lt+1, base)
			}
			return lt + boolInt(eof), eof
		}
		switch c := b[lt+1]; {
		case isLetter(c):
			end, nameEnd := tagEnd(b, lt+1)
			if end < 0 { // at the end of the stream, an unfinished tag is no token
				return lt + boolInt(eof)*(len(b)-lt), eof
			}
			i = end
			if s.prologue {
				s.startTagInPrologue(b[lt+1:nameEnd], base+int64(lt), base+int64(end))
			}
			if n := nameEnd - lt - 1; n >= 3 && n <= 9 && s.startTag(b[lt:end], n, base+int64(end)) {
				return i, true
			}
		case c == '/':
			if lt+2 >= len(b) {
				if eof { // "</" at the end is text
					s.text(b, lt, lt+1, base)
				}
				return lt + boolInt(eof)*(len(b)-lt), eof
			}
			switch c2 := b[lt+2]; {
			case c2 == '>':
				i = lt + 3 // "</>" is an empty comment
			case isLetter(c2):
				end, nameEnd := tagEnd(b, lt+2)
				if end < 0 {
					return lt + boolInt(eof)*(len(b)-lt), eof
				}
				if s.prologue {
					s.endPrologue(base + int64(lt))
				}
				if nameEnd-lt-2 == 4 {
					name := b[lt+2 : nameEnd]
					switch {
					case equalFold(name, "body"):
						s.body = base + int64(lt)
					case equalFold(name, "html"):
						s.htmlEnd = base + int64(lt)
					}
				}
				i = end
			default:
				s.mode = modeBogus
				return lt + 2, true
			}
		case c == '!':
			if lt+3 >= len(b) && !eof {
				return lt, false // "<!" or "<!-": comment or not?
			}
			if lt+3 < len(b) && b[lt+2] == '-' && b[lt+3] == '-' {
				s.mode, s.dashes, s.beginning = modeComment, 0, true
				return lt + 4, true
			}
			s.mode = modeBogus
			return lt + 2, true
		case c == '?':
			s.mode = modeBogus
			return lt + 2, true
		default:
			s.text(b, lt, lt+1, base)
			i = lt + 1 // a '<' that starts nothing is text
		}
	}
}

// startTagInPrologue ends the prologue at a start tag other than <html>:
// after it when it is <head>, else before it.
func (s *scanner) startTagInPrologue(name []byte, start, end int64) {
	switch {
	case equalFold(name, "html"):
	case equalFold(name, "head"):
		s.endPrologue(end)
	default:
		s.endPrologue(start)
	}
}

// startTag notes a start tag (whose name is n bytes long) ending at offset
// end: the first <head>, a <meta> Content-Security-Policy, and the elements
// whose content is raw text. It reports whether the mode changed.
func (s *scanner) startTag(tag []byte, n int, end int64) bool {
	name := tag[1 : 1+n]
	if s.xml && tag[len(tag)-2] == '/' { // self-closing, as the tokenizer tells
		if n == 4 && s.head < 0 && equalFold(name, "head") {
			s.head = end
		}
		return false
	}
	switch n {
	case 3:
		if equalFold(name, "xmp") {
			s.mode, s.raw = modeRawText, "xmp"
		}
	case 4:
		if s.xml && s.head < 0 && equalFold(name, "head") {
			s.head = end
		} else if s.metaNonce == "" && equalFold(name, "meta") {
			s.metaNonce, s.metaAt = metaCSPNonce(tag), end-int64(len(tag))
		}
	case 5:
		for _, r := range [...]string{"title", "style"} {
			if equalFold(name, r) {
				s.mode, s.raw = modeRawText, r
			}
		}
	case 6:
		if equalFold(name, "script") {
			s.mode, s.ss = modeScript, sData
		} else if equalFold(name, "iframe") {
			s.mode, s.raw = modeRawText, "iframe"
		}
	case 7:
		if equalFold(name, "noembed") {
			s.mode, s.raw = modeRawText, "noembed"
		}
	case 8:
		for _, r := range [...]string{"noframes", "noscript", "textarea"} {
			if equalFold(name, r) {
				s.mode, s.raw = modeRawText, r
			}
		}
	case 9:
		if equalFold(name, "plaintext") {
			s.mode = modePlainText
		}
	}
	return s.mode != modeData
}

// comment follows readComment: the comment ends at "-->", "--!>", or a '>'
// right at its beginning ("<!-->", "<!--->").
func (s *scanner) comment(b []byte, i int) (int, bool) {
	for ; i < len(b); i++ {
		switch b[i] {
		case '-':
			s.dashes++
			continue
		case '>':
			if s.dashes >= 2 || s.beginning {
				s.mode = modeData
				return i + 1, true
			}
		case '!':
			if s.dashes >= 2 {
				if i+1 >= len(b) {
					return i, false
				}
				i++
				switch b[i] {
				case '>':
					s.mode = modeData
					return i + 1, true
				case '-':
					s.dashes, s.beginning = 1, false
					continue
				}
			}
		}
		s.dashes, s.beginning = 0, false
	}
	return i, true
}

// rawText looks for the end tag of the raw-text element, as readRawOrRCDATA.
func (s *scanner) rawText(b []byte, i int, eof bool) (int, bool) {
	for {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			return len(b), true
		}
		lt := i + j
		switch rawEndTag(b, lt, s.raw) {
		case matched:
			s.mode = modeData
			return lt, true
		case short:
			if eof {
				return len(b), true
			}
			return lt, false
		}
		i = lt + 1
	}
}

type match uint8

const (
	mismatch match = iota
	matched
	short // not enough input to tell
)

// rawEndTag reports whether b[lt:] starts with "</" name and a delimiter,
// the name matched ASCII case-insensitively, as readRawEndTag.
func rawEndTag(b []byte, lt int, name string) match {
	need := lt + 2 + len(name) + 1
	for k := lt + 1; k < need; k++ {
		if k >= len(b) {
			return short
		}
		c := b[k]
		switch {
		case k == lt+1:
			if c != '/' {
				return mismatch
			}
		case k < need-1:
			if n := name[k-lt-2]; c != n && c != n-('a'-'A') {
				return mismatch
			}
		}
	}
	switch b[need-1] {
	case ' ', '\n', '\r', '\t', '\f', '/', '>':
		return matched
	}
	return mismatch
}

// script follows readScript through script data and its escaped and
// double-escaped states until the "</script" that ends it. Checkpoints are
// kept at stable states, so lookahead that runs out of input is redone.
func (s *scanner) script(b []byte, i int, eof bool) (int, bool) {
	for i < len(b) {
		switch s.ss {
		case sData:
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				return len(b), true
			}
			lt := i + j
			if lt+1 >= len(b) {
				return end(b, lt, eof)
			}
			switch b[lt+1] {
			case '/':
				switch rawEndTag(b, lt, "script") {
				case matched:
					s.mode = modeData
					return lt, true
				case short:
					return end(b, lt, eof)
				}
				i = lt + 2 + matchedPrefix(b[lt+2:], "script")
			case '!':
				if lt+3 >= len(b) && !(lt+2 < len(b) && b[lt+2] != '-') {
					return end(b, lt, eof)
				}
				if b[lt+2] == '-' && b[lt+3] == '-' {
					s.ss, i = sEscapedDashDash, lt+4
				} else {
					i = lt + 2 + boolInt(b[lt+2] == '-')
				}
			default:
				i = lt + 1
			}
		case sEscaped, sEscapedDash, sEscapedDashDash:
			c := b[i]
			switch {
			case c == '-':
				if s.ss == sEscaped {
					s.ss = sEscapedDash
				} else {
					s.ss = sEscapedDashDash
				}
				i++
			case c == '>' && s.ss == sEscapedDashDash:
				s.ss, i = sData, i+1
			case c == '<':
				if i+1 >= len(b) {
					return end(b, i, eof)
				}
				switch c2 := b[i+1]; {
				case c2 == '/':
					switch rawEndTag(b, i, "script") {
					case matched:
						s.mode = modeData
						return i, true
					case short:
						return end(b, i, eof)
					}
					s.ss, i = sEscaped, i+2+matchedPrefix(b[i+2:], "script")
				case isLetter(c2):
					n := matchedPrefix(b[i+1:], "script")
					if n < 6 {
						if i+1+n >= len(b) {
							return end(b, i, eof)
						}
						s.ss, i = sEscaped, i+1+n
						break
					}
					if i+7 >= len(b) {
						return end(b, i, eof)
					}
					if isDelim(b[i+7]) {
						s.ss, i = sDoubleEscaped, i+8
					} else {
						s.ss, i = sEscaped, i+7
					}
				default:
					s.ss, i = sData, i+1
				}
			default:
				s.ss, i = sEscaped, i+1
			}
		default: // double escaped
			c := b[i]
			switch {
			case c == '-':
				if s.ss == sDoubleEscaped {
					s.ss = sDoubleEscapedDash
				} else {
					s.ss = sDoubleEscapedDashDash
				}
				i++
			case c == '>' && s.ss == sDoubleEscapedDashDash:
				s.ss, i = sData, i+1
			case c == '<':
				if i+1 >= len(b) {
					return end(b, i, eof)
				}
				if b[i+1] != '/' {
					s.ss, i = sDoubleEscaped, i+1
					break
				}
				switch rawEndTag(b, i, "script") {
				case matched:
					s.ss, i = sEscaped, i+9
				case short:
					return end(b, i, eof)
				default:
					s.ss, i = sDoubleEscaped, i+2+matchedPrefix(b[i+2:], "script")
				}
			default:
				s.ss, i = sDoubleEscaped, i+1
			}
		}
	}
	return i, true
}

// end returns what a scan that ran out of input at a checkpoint returns:
// wait for more, or at the end of the stream classify the rest as text.
func end(b []byte, checkpoint int, eof bool) (int, bool) {
	if eof {
		return len(b), true
	}
	return checkpoint, false
}

// matchedPrefix counts how many leading bytes of b match name (ASCII
// case-insensitively), as the tokenizer consumes them before a mismatch.
func matchedPrefix(b []byte, name string) int {
	n := 0
	for n < len(name) && n < len(b) && (b[n] == name[n] || b[n] == name[n]-('a'-'A')) {
		n++
	}
	return n
}

// Byte classes for tagEnd's loops.
const (
	cSpace   = 1 << iota // ' ', '\n', '\r', '\t', '\f'
	cNameEnd             // space, '/', '>'
	cKeyEnd              // space, '/', '>', '='
	cValEnd              // space, '>'
)

var class = func() (t [256]uint8) {
	for _, c := range []byte(" \n\r\t\f") {
		t[c] |= cSpace | cNameEnd | cKeyEnd | cValEnd
	}
	t['/'] |= cNameEnd | cKeyEnd
	t['>'] |= cNameEnd | cKeyEnd | cValEnd
	t['='] |= cKeyEnd
	return t
}()

// tagEnd follows readTag from the first byte of a tag name at b[i]: the
// name, then attributes with quoted values. It returns the index after the
// closing '>' and the index after the name, or -1 when the input ends first.
func tagEnd(b []byte, i int) (end, nameEnd int) {
	for i++; i < len(b) && class[b[i]]&cNameEnd == 0; i++ {
	}
	nameEnd = i
	for {
		// the common attribute, ` key="value"`, without the general loops
		if i+1 < len(b) && b[i] == ' ' && class[b[i+1]]&cKeyEnd == 0 {
			k := i + 2
			for k < len(b) && class[b[k]]&cKeyEnd == 0 {
				k++
			}
			if k+1 < len(b) && b[k] == '=' && (b[k+1] == '"' || b[k+1] == '\'') {
				j := bytes.IndexByte(b[k+2:], b[k+1])
				if j < 0 {
					return -1, 0
				}
				i = k + j + 3
				continue
			}
		}
		for i < len(b) && class[b[i]]&cSpace != 0 {
			i++
		}
		if i >= len(b) {
			return -1, 0
		}
		if b[i] == '>' {
			return i + 1, nameEnd
		}
		// attribute key: a leading '=' belongs to it
		if b[i] == '=' {
			i++
		}
		for i < len(b) && class[b[i]]&cKeyEnd == 0 {
			i++
		}
		// attribute value
		for i < len(b) && class[b[i]]&cSpace != 0 {
			i++
		}
		if i >= len(b) {
			return -1, 0
		}
		switch b[i] {
		case '/':
			i++
		case '=':
			for i++; i < len(b) && class[b[i]]&cSpace != 0; i++ {
			}
			if i >= len(b) {
				return -1, 0
			}
			switch q := b[i]; q {
			case '>':
			case '\'', '"':
				j := bytes.IndexByte(b[i+1:], q)
				if j < 0 {
					return -1, 0
				}
				i += j + 2
			default:
				for i < len(b) && class[b[i]]&cValEnd == 0 {
					i++
				}
			}
		}
	}
}

// metaCSPNonce returns the script nonce of a <meta http-equiv=
// "Content-Security-Policy" content="..."> tag, or "". Such tags are few,
// so the tokenizer itself reads their attributes, but only of a tag that
// could name that policy: pages carry dozens of other <meta> tags, and
// http-equiv="X-UA-Compatible" among them. A '&' could spell the name
// with a character reference, so such a tag is read too.
func metaCSPNonce(tag []byte) string {
	if !containsFold(tag, "http-equiv") ||
		!containsFold(tag, "content-security-policy") && bytes.IndexByte(tag, '&') < 0 {
		return ""
	}
	z := html.NewTokenizer(bytes.NewReader(tag))
	z.Next()
	var equiv, content string
	for more := true; more; {
		var k, v []byte
		k, v, more = z.TagAttr()
		switch string(k) {
		case "http-equiv":
			equiv = string(v)
		case "content":
			content = string(v)
		}
	}
	// An ASCII case-insensitive match, not Unicode folding (WHATWG HTML,
	// 4.2.5.3 "Pragma directives"): the long s (U+017F) is no 's'.
	if !equalFold([]byte(equiv), "content-security-policy") {
		return ""
	}
	p := parsePolicy(content)
	if i := p.scriptDirective(); i >= 0 {
		return nonceOf(p[i].sources)
	}
	return ""
}

// containsFold reports whether b holds name, a lowercase name with a '-',
// in any ASCII case, looking only around b's '-' bytes.
func containsFold(b []byte, name string) bool {
	dash := strings.IndexByte(name, '-')
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '-')
		if j < 0 {
			return false
		}
		at := i + j - dash
		i += j + 1
		if at >= 0 && at+len(name) <= len(b) && equalFold(b[at:at+len(name)], name) {
			return true
		}
	}
}

func isDelim(c byte) bool { return class[c]&cNameEnd != 0 }

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// equalFold reports whether b is the lowercase name s, ASCII
// case-insensitively, as the tokenizer compares tag names.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
