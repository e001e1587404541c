/* Tracebar debug toolbar. Plain ES2020, no dependencies, nothing fetched
   from outside the page's origin. Every value that comes from the API
   (span names, attributes, headers, URLs) is rendered as a text node. */
(function () {
  'use strict';
  if (window.__tracebar) return;
  var me = document.currentScript || document.querySelector('script[data-tracebar-request]');
  if (!me) return;
  window.__tracebar = { version: 1 };

  const reqId = me.getAttribute('data-tracebar-request') || '';
  const src = me.src || me.getAttribute('src') || '';
  const cut = src.lastIndexOf('/static/toolbar.js');
  const prefix = cut >= 0 ? src.slice(0, cut) : '/__tracebar';
  const TABS = ['timing', 'headers', 'trace'];
  const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

  /* ---------- helpers ---------- */
  function h(tag, cls, kids) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    add(e, kids);
    return e;
  }
  function add(e, k) {
    if (k == null || k === false) return;
    if (Array.isArray(k)) k.forEach(function (c) { add(e, c); });
    else if (typeof k === 'object' && k.nodeType) e.appendChild(k);
    else e.appendChild(document.createTextNode(String(k)));
  }
  function btn(cls, kids, label) {
    const b = h('button', cls, kids);
    b.type = 'button';
    if (label) b.setAttribute('aria-label', label);
    return b;
  }
  const ls = {
    get(k) { try { return localStorage.getItem(k); } catch (e) { return null; } },
    set(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* storage off */ } }
  };
  function fmtMs(v) {
    if (v == null || !isFinite(v)) return '—';
    const a = Math.abs(v);
    if (a === 0) return '0 ms';
    if (a >= 1000) return (v / 1000).toFixed(a >= 10000 ? 1 : 2) + ' s';
    if (a >= 100) return v.toFixed(0) + ' ms';
    if (a >= 10) return v.toFixed(1) + ' ms';
    if (a >= 1) return v.toFixed(2) + ' ms';
    return (v * 1000).toFixed(0) + ' µs';
  }
  function fmtBytes(n) {
    if (n == null || !isFinite(n)) return '—';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KB';
    return (n / 1048576).toFixed(2) + ' MB';
  }
  function toNs(x) {
    if (x == null || x === '') return 0n;
    try { return BigInt(x); } catch (e) {
      const n = Number(x);
      return isFinite(n) ? BigInt(Math.round(n)) : 0n;
    }
  }
  const msBetween = (a, b) => Number(b - a) / 1e6;
  function anyStr(v, nested) {
    if (v == null || typeof v !== 'object') return v == null ? '' : String(v);
    if ('stringValue' in v) return nested ? JSON.stringify(String(v.stringValue)) : String(v.stringValue);
    if ('intValue' in v) return String(v.intValue);
    if ('doubleValue' in v) return String(v.doubleValue);
    if ('boolValue' in v) return String(v.boolValue);
    if ('bytesValue' in v) return 'base64:' + v.bytesValue;
    if (v.arrayValue) return '[' + (v.arrayValue.values || []).map(function (x) { return anyStr(x, 1); }).join(', ') + ']';
    if (v.kvlistValue) return '{' + (v.kvlistValue.values || []).map(function (kv) { return kv.key + ': ' + anyStr(kv.value, 1); }).join(', ') + '}';
    return '';
  }
  function hue(s) {
    let x = 2166136261;
    for (let i = 0; i < s.length; i++) { x ^= s.charCodeAt(i); x = Math.imul(x, 16777619); }
    return ((x >>> 0) % 360);
  }
  const svcColor = (s) => 'hsl(' + hue(s) + ',58%,52%)';
  function pct(x) { return Math.max(0, Math.min(100, x * 100)) + '%'; }

  /* ---------- state ---------- */
  let rec = null;
  let traceId = '';
  let es = null;
  let evicted = false;
  let failed = '';
  let open = ls.get('tracebar.open') === '1';
  let tab = ls.get('tracebar.tab');
  if (TABS.indexOf(tab) < 0) tab = 'timing';
  let selected = '';
  const collapsed = new Set();
  const spans = new Map();
  const scrolls = {};
  let shownTab = '';
  window.__tracebar.spans = spans;

  /* ---------- DOM skeleton ---------- */
  const host = document.createElement('div');
  host.id = 'tracebar-root';
  [['all', 'initial'], ['position', 'fixed'], ['right', '12px'], ['bottom', '12px'], ['left', 'auto'], ['top', 'auto'],
    ['z-index', '2147483647'], ['display', 'block'], ['margin', '0'], ['padding', '0'], ['transform', 'none']]
    .forEach(function (p) { host.style.setProperty(p[0], p[1], 'important'); });
  host.setAttribute('data-state', 'loading');
  host.setAttribute('data-span-count', '0');
  const root = host.attachShadow({ mode: 'open' });
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = prefix + '/static/toolbar.css';
  const wrap = h('div', 'tb');
  wrap.style.display = 'none'; // until the stylesheet is in
  link.onload = function () { wrap.style.display = ''; };
  root.append(link, wrap);

  const badge = btn('tb-badge', null);
  badge.title = 'Tracebar: toggle debug panel';
  const panel = h('div', 'tb-panel');
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', 'Tracebar');
  const head = h('div', 'tb-head');
  const tabsEl = h('div', 'tb-tabs');
  tabsEl.setAttribute('role', 'tablist');
  const tabBtns = {};
  TABS.forEach(function (t) {
    const b = btn('tb-tab', t[0].toUpperCase() + t.slice(1));
    b.setAttribute('role', 'tab');
    b.dataset.tab = t;
    tabBtns[t] = b;
    tabsEl.appendChild(b);
  });
  const sum = h('div', 'tb-sum');
  const closeBtn = btn('tb-x', '×', 'Close panel');
  head.append(h('span', 'tb-brand', 'Tracebar'), tabsEl, sum, closeBtn);
  const body = h('div', 'tb-body');
  body.setAttribute('role', 'tabpanel');
  panel.append(head, body);
  wrap.append(panel, badge);
  (document.body || document.documentElement).appendChild(host);

  /* ---------- rendering ---------- */
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    if (window.requestAnimationFrame) requestAnimationFrame(flush);
    setTimeout(flush, 120); // rAF does not run in hidden tabs
  }
  function flush() {
    if (!pending) return;
    pending = false;
    render();
  }

  function errCount() {
    let n = 0;
    spans.forEach(function (s) { if (s.err) n++; });
    return n;
  }
  function totalMs(r) { return r ? ((r.timing && r.timing.totalMs) || r.durationMs || 0) : 0; }

  function render() {
    renderBadge();
    panel.hidden = !open;
    if (!open) return;
    renderHead();
    const st = tab === shownTab ? body.scrollTop : (scrolls[tab] || 0);
    if (shownTab && shownTab !== tab) scrolls[shownTab] = body.scrollTop;
    const fa = root.activeElement;
    const fr = fa && fa.closest && fa.closest('.tb-span');
    const focusId = fr ? fr.dataset.spanId : '';
    const focusTog = fa && fa.classList && fa.classList.contains('tb-tog');
    let c;
    if (tab === 'timing') c = renderTiming();
    else if (tab === 'headers') c = renderHeaders();
    else c = renderTrace();
    body.replaceChildren(c);
    body.scrollTop = st;
    shownTab = tab;
    if (focusId) {
      const r = body.querySelector('.tb-span[data-span-id="' + CSS.escape(focusId) + '"]');
      const t = r && (focusTog ? r.querySelector('.tb-tog') : r);
      if (t && t.focus) t.focus({ preventScroll: true });
    }
  }

  function renderBadge() {
    const r = rec;
    const code = r && r.status ? r.status : 0;
    const errs = errCount();
    let cls = 'tb-badge';
    if (code >= 500 || (r && r.error)) cls += ' tb-5xx';
    else if (code >= 400) cls += ' tb-4xx';
    else if (code >= 300) cls += ' tb-3xx';
    else if (code >= 200) cls += ' tb-2xx';
    if (errs) cls += ' tb-has-err';
    if (open) cls += ' tb-open';
    badge.className = cls;
    badge.setAttribute('aria-expanded', String(open));
    const kids = [h('span', 'tb-dot')];
    if (failed && !r) kids.push(h('span', 'tb-st', 'Tracebar: no data'));
    else {
      kids.push(h('span', 'tb-st', code || '…'), h('span', 'tb-sep', '·'),
        h('span', 'tb-ms', r && (r.done || totalMs(r)) ? fmtMs(totalMs(r)) : '—'),
        h('span', 'tb-cnt', spans.size + (spans.size === 1 ? ' span' : ' spans')));
      if (errs) kids.push(h('span', 'tb-errn', '⚠ ' + errs));
    }
    badge.replaceChildren.apply(badge, kids);
  }

  function renderHead() {
    TABS.forEach(function (t) {
      const b = tabBtns[t];
      b.setAttribute('aria-selected', String(t === tab));
      b.tabIndex = t === tab ? 0 : -1;
      if (t === 'trace') b.replaceChildren('Trace', h('span', 'tb-n', spans.size));
    });
    const r = rec;
    const kids = [];
    if (r) {
      kids.push(h('span', 'tb-meth', r.method || ''), h('span', 'tb-url', r.url || ''));
      kids[1].title = r.url || '';
      kids.push(h('span', 'tb-chip' + (r.status >= 500 ? ' tb-bad' : r.status >= 400 ? ' tb-warn' : ''), r.status || (r.done ? '—' : 'in flight')));
    }
    if (traceId) {
      const t = h('span', 'tb-tid', 'trace ' + traceId.slice(0, 8) + '…');
      t.title = traceId;
      kids.push(t);
    }
    if (evicted) kids.push(h('span', 'tb-chip tb-warn', 'evicted'));
    sum.replaceChildren.apply(sum, kids);
  }

  function section(title, content, extra) {
    return h('section', 'tb-sec', [h('h3', null, [title, extra ? h('span', 'tb-sub', extra) : null]), content]);
  }
  function kvTable(rows) {
    const t = h('table', 'tb-kv');
    rows.forEach(function (r) { if (r) t.appendChild(h('tr', null, [h('th', null, r[0]), h('td', null, r[1])])); });
    return t;
  }
  function miniBar(a, b, total, kind) {
    const cell = h('td', 'tb-mini');
    if (total > 0 && b > a) {
      const bar = h('i', 'tb-mb tb-k-' + kind);
      bar.style.left = pct(a / total);
      bar.style.width = pct((b - a) / total);
      cell.appendChild(h('div', 'tb-mt', bar));
    }
    return cell;
  }

  /* ---------- Timing ---------- */
  function renderTiming() {
    const out = h('div', 'tb-timing');
    if (!rec) {
      out.appendChild(h('div', 'tb-empty', failed ? 'Could not load the request record: ' + failed : 'Loading request…'));
      out.appendChild(browserSection());
      return out;
    }
    const r = rec, t = r.timing || {};
    if (r.error) out.appendChild(h('div', 'tb-note tb-bad', ['Proxy error: ', r.error]));
    const total = totalMs(r);
    const rows = [];
    const row = function (label, v, a, b, kind, isOffset) {
      rows.push(h('tr', null, [h('th', null, label), h('td', 'tb-num', (isOffset ? '@ ' : '') + fmtMs(v)), miniBar(a, b, total, kind)]));
    };
    row('Total (proxy)', total, 0, total, 'tot');
    if (t.headersMs) row('Response headers', t.headersMs, 0, t.headersMs, 'off', true);
    const us = t.upstreamStartMs || 0;
    if (us) row('Upstream start', us, 0, us, 'off', true);
    let at = us;
    [['DNS', t.dnsMs], ['Connect', t.connectMs], ['TLS', t.tlsMs]].forEach(function (p) {
      if (p[1]) { row(p[0], p[1], at, at + p[1], 'net'); at += p[1]; }
    });
    if (t.wroteRequestMs) row('Request written', t.wroteRequestMs, 0, t.wroteRequestMs, 'off', true);
    if (t.firstByteMs) row('First byte', t.firstByteMs, 0, t.firstByteMs, 'off', true);
    if (t.upstreamLatencyMs) row('Upstream latency', t.upstreamLatencyMs, us, us + t.upstreamLatencyMs, 'up');
    if (t.upstreamDurationMs) row('Upstream duration', t.upstreamDurationMs, us, us + t.upstreamDurationMs, 'up');
    const tbl = h('table', 'tb-kv tb-tt', rows);
    const hasUp = hasHeaders(r.upstreamRequestHeaders) || t.upstreamDurationMs || t.upstreamLatencyMs;
    const info = kvTable([
      ['Request', (r.method || '') + ' ' + (r.url || '')],
      ['Status', (r.status || '—') + (r.done ? '' : ' (in flight)')],
      r.proto ? ['Protocol', r.proto] : null,
      r.host ? ['Host', r.host] : null,
      r.remoteAddr ? ['Client', r.remoteAddr] : null,
      r.contentType ? ['Content-Type', r.contentType] : null,
      hasUp ? ['Upstream conn.', t.connReused ? 'reused' : 'new'] : null,
      ['Request body', fmtBytes(r.requestBytes || 0)],
      ['Response body', fmtBytes(r.responseBytes || 0) + (hasUp ? ' from upstream' : '')],
      ['Sent to client', fmtBytes(r.clientBytes || 0) + (r.injected ? ' (toolbar injected)' : '')],
      r.startTime ? ['Started', String(r.startTime)] : null
    ]);
    out.append(h('div', 'tb-cols', [section('Proxy', tbl, hasUp ? null : 'no upstream'), section('Request', info)]), browserSection());
    return out;
  }

  function browserSection() {
    const n = performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
    if (!n) return section('Browser', h('div', 'tb-empty', 'Navigation Timing is not available.'));
    const end = n.loadEventEnd || Math.max(n.domContentLoadedEventEnd, n.domInteractive, n.responseEnd);
    const segs = [
      ['Waiting', 0, n.domainLookupStart],
      ['DNS', n.domainLookupStart, n.domainLookupEnd],
      ['Connect', n.connectStart, n.connectEnd],
      ['Request', n.connectEnd, n.responseStart],
      ['Response', n.responseStart, n.responseEnd],
      ['DOM', n.responseEnd, n.domInteractive],
      ['DOMContentLoaded', n.domInteractive, n.domContentLoadedEventEnd],
      ['Load', n.domContentLoadedEventEnd, n.loadEventEnd]
    ];
    const bar = h('div', 'tb-stack');
    const legend = h('div', 'tb-legend');
    segs.forEach(function (s, i) {
      const d = s[2] - s[1];
      if (!(d > 0) || !(end > 0)) return;
      const seg = h('i', 'tb-p' + i);
      seg.style.width = pct(d / end);
      seg.title = s[0] + ': ' + fmtMs(d);
      bar.appendChild(seg);
      legend.appendChild(h('span', null, [h('i', 'tb-p' + i), s[0] + ' ' + fmtMs(d)]));
    });
    const ms = function (v) { return v > 0 ? fmtMs(v) : 'pending'; };
    const tlsMs = n.secureConnectionStart > 0 ? n.connectEnd - n.secureConnectionStart : 0;
    const tbl = kvTable([
      ['DNS', fmtMs(n.domainLookupEnd - n.domainLookupStart)],
      ['Connect', fmtMs(n.connectEnd - n.connectStart)],
      tlsMs > 0 ? ['TLS', fmtMs(tlsMs)] : null,
      ['Request', fmtMs(n.responseStart - n.requestStart)],
      ['Response', fmtMs(n.responseEnd - n.responseStart)],
      ['DOM interactive', ms(n.domInteractive)],
      ['DOMContentLoaded', ms(n.domContentLoadedEventEnd)],
      ['Load', ms(n.loadEventEnd)],
      n.transferSize ? ['Transferred', fmtBytes(n.transferSize)] : null
    ]);
    tbl.classList.add('tb-num2');
    return section('Browser', [bar, legend, tbl], 'Navigation Timing, ms from navigation start');
  }

  /* ---------- Headers ---------- */
  function hasHeaders(m) { return !!m && typeof m === 'object' && Object.keys(m).length > 0; }
  function hmap(m) {
    const o = new Map();
    if (m && typeof m === 'object') Object.keys(m).forEach(function (k) {
      o.set(k.toLowerCase(), { name: k, vals: [].concat(m[k] == null ? [] : m[k]).map(String) });
    });
    return o;
  }
  function headerTable(title, m, base, none) {
    if (!hasHeaders(m) && none) return section(title, h('div', 'tb-empty', none));
    const cur = hmap(m), prev = base ? hmap(base) : null;
    const rows = [];
    const counts = { added: 0, changed: 0, removed: 0 };
    cur.forEach(function (v, k) {
      let tag = '';
      if (prev) {
        const p = prev.get(k);
        if (!p) tag = 'added';
        else if (p.vals.join('\n') !== v.vals.join('\n')) tag = 'changed';
      }
      rows.push([v.name, v.vals, tag]);
    });
    if (prev) prev.forEach(function (v, k) { if (!cur.has(k)) rows.push([v.name, v.vals, 'removed']); });
    rows.sort(function (a, b) { return a[0].toLowerCase() < b[0].toLowerCase() ? -1 : 1; });
    const t = h('table', 'tb-kv tb-hdr');
    rows.forEach(function (r) {
      if (r[2]) counts[r[2]]++;
      const tr = h('tr', r[2] ? 'tb-d-' + r[2] : null, [
        h('th', null, r[0]),
        h('td', null, r[1].map(function (v, i) { return [i ? h('br') : null, v]; })),
        h('td', 'tb-tagc', r[2] ? h('span', 'tb-tag tb-t-' + r[2], r[2]) : null)
      ]);
      if (r[2] === 'changed' && prev) tr.title = 'was: ' + prev.get(r[0].toLowerCase()).vals.join(', ');
      t.appendChild(tr);
    });
    const bits = [cur.size + ' header' + (cur.size === 1 ? '' : 's')];
    Object.keys(counts).forEach(function (k) { if (counts[k]) bits.push(counts[k] + ' ' + k); });
    return section(title, rows.length ? t : h('div', 'tb-empty', 'no headers'), bits.join(' · '));
  }
  function renderHeaders() {
    const out = h('div', 'tb-headers');
    if (!rec) { out.appendChild(h('div', 'tb-empty', failed ? 'No request record.' : 'Loading request…')); return out; }
    const r = rec;
    const upReq = hasHeaders(r.upstreamRequestHeaders), upRes = hasHeaders(r.upstreamResponseHeaders);
    out.append(
      h('div', 'tb-note', 'Tags compare proxy → upstream with client → proxy, and proxy → client with upstream → proxy.'),
      headerTable('Client → proxy', r.clientRequestHeaders, null),
      headerTable('Proxy → upstream', r.upstreamRequestHeaders, r.clientRequestHeaders, 'no upstream request'),
      headerTable('Upstream → proxy', r.upstreamResponseHeaders, null, upReq ? 'no upstream response' : 'no upstream request'),
      headerTable('Proxy → client', r.clientResponseHeaders, upRes ? r.upstreamResponseHeaders : null, r.done ? null : 'response not sent yet'));
    return out;
  }

  /* ---------- Trace ---------- */
  function niceStep(x) {
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    const f = x / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  }
  function layout() {
    const list = Array.from(spans.values());
    const kids = new Map(), roots = [];
    list.forEach(function (s) {
      if (s.p && s.p !== s.id && spans.has(s.p)) {
        if (!kids.has(s.p)) kids.set(s.p, []);
        kids.get(s.p).push(s);
      } else roots.push(s);
    });
    const byStart = function (a, b) { return a.s < b.s ? -1 : a.s > b.s ? 1 : 0; };
    kids.forEach(function (k) { k.sort(byStart); });
    roots.sort(byStart);
    const rows = [], seen = new Set();
    function walk(s, d) {
      if (seen.has(s.id)) return;
      seen.add(s.id);
      const k = kids.get(s.id) || [];
      rows.push({ s: s, d: d, n: k.length });
      if (!collapsed.has(s.id)) k.forEach(function (c) { walk(c, d + 1); });
      else k.forEach(function mark(c) { seen.add(c.id); (kids.get(c.id) || []).forEach(mark); });
    }
    roots.forEach(function (r) { walk(r, 0); });
    // Parent cycles leave spans unreachable: show them as roots.
    list.sort(byStart).forEach(function (s) { if (!seen.has(s.id)) walk(s, 0); });
    return rows;
  }
  function renderTrace() {
    if (!spans.size) {
      return h('div', 'tb-empty', traceId ? (evicted ? 'The trace was evicted from the store.' : 'Waiting for spans…') :
        rec || failed ? 'No trace for this request.' : 'Loading…');
    }
    let t0 = null, t1 = null;
    const svcs = new Set();
    spans.forEach(function (s) {
      if (t0 === null || s.s < t0) t0 = s.s;
      if (t1 === null || s.e > t1) t1 = s.e;
      svcs.add(s.svc);
    });
    const dur = Math.max(msBetween(t0, t1), 0.001);
    const step = niceStep(dur / 5);
    const wf = h('div', 'tb-wf');
    wf.style.setProperty('--tick', (step / dur * 100) + '%');
    const ticks = h('div', 'tb-lane tb-ticks');
    for (let v = 0; v <= dur * 1.0001; v += step) {
      const tk = h('span', v / dur > 0.9 ? 'tb-tk tb-tkr' : 'tb-tk', v === 0 ? '0' : fmtMs(v));
      tk.style.left = pct(v / dur);
      ticks.appendChild(tk);
    }
    wf.appendChild(h('div', 'tb-axis', [h('div', 'tb-nm', spans.size + ' spans · ' + svcs.size + ' service' + (svcs.size === 1 ? '' : 's') + ' · ' + fmtMs(dur)), ticks]));
    layout().forEach(function (r) {
      const s = r.s, sel = s.id === selected;
      const row = h('div', 'tb-span' + (sel ? ' tb-sel' : '') + (s.err ? ' tb-err' : '') + (rec && s.id === rec.spanId ? ' tb-me' : ''));
      row.dataset.spanId = s.id;
      row.tabIndex = 0;
      row.setAttribute('role', 'treeitem');
      row.setAttribute('aria-level', r.d + 1);
      row.setAttribute('aria-selected', String(sel));
      const nm = h('div', 'tb-nm');
      nm.style.paddingLeft = (4 + r.d * 14) + 'px';
      if (r.n) {
        const c = collapsed.has(s.id);
        row.setAttribute('aria-expanded', String(!c));
        const tg = btn('tb-tog', c ? '▸' : '▾', (c ? 'Expand' : 'Collapse') + ' ' + r.n + ' children');
        nm.appendChild(tg);
      } else nm.appendChild(h('span', 'tb-tog'));
      const dot = h('span', 'tb-dot');
      dot.style.background = svcColor(s.svc);
      nm.append(dot, h('span', 'tb-sn', s.name || '(unnamed)'), h('span', 'tb-svc', s.svc));
      if (r.n && collapsed.has(s.id)) nm.appendChild(h('span', 'tb-n', '+' + r.n));
      nm.title = s.svc + ': ' + s.name;
      const lane = h('div', 'tb-lane');
      const a = msBetween(t0, s.s) / dur, w = msBetween(s.s, s.e) / dur;
      const bar = h('div', 'tb-bar');
      bar.style.left = pct(a);
      bar.style.width = pct(w);
      if (!s.err) bar.style.background = svcColor(s.svc);
      s.events.forEach(function (ev) {
        const m = h('i', 'tb-ev');
        m.style.left = pct(msBetween(t0, toNs(ev.timeUnixNano)) / dur);
        m.title = ev.name || 'event';
        lane.appendChild(m);
      });
      const lab = h('span', 'tb-dur', fmtMs(msBetween(s.s, s.e)));
      if (a + w > 0.8) lab.style.right = pct(1 - a + 0.004);
      else lab.style.left = pct(a + w + 0.004);
      lane.prepend(bar);
      lane.appendChild(lab);
      row.append(nm, lane);
      wf.appendChild(row);
      if (sel) wf.appendChild(renderDetail(s, t0));
    });
    return wf;
  }

  function attrTable(attrs) {
    if (!attrs || !attrs.length) return h('div', 'tb-empty tb-sm', 'none');
    const sorted = attrs.slice().sort(function (a, b) { return String(a.key) < String(b.key) ? -1 : 1; });
    return kvTable(sorted.map(function (kv) { return [String(kv.key), anyStr(kv.value)]; }));
  }
  function goBtn(id) {
    if (!spans.has(id)) return h('code', null, id);
    const b = btn('tb-go', id, 'Go to span ' + id);
    b.dataset.goto = id;
    return b;
  }
  function renderDetail(s, t0) {
    const d = h('div', 'tb-detail');
    const st = s.st || {};
    const code = st.code === 2 || st.code === 'STATUS_CODE_ERROR' ? 'Error' : st.code === 1 || st.code === 'STATUS_CODE_OK' ? 'OK' : 'Unset';
    const sc = s.scope || {};
    d.appendChild(h('div', 'tb-dh', [h('strong', null, s.name || '(unnamed)'), h('span', 'tb-svc', s.svc), btn('tb-dx', '×', 'Close details')]));
    let abs = '';
    try { abs = new Date(Number(s.s / 1000000n)).toISOString(); } catch (e) { /* out of range */ }
    const info = kvTable([
      ['Service', s.svc],
      ['Kind', KINDS[s.kind] || String(s.kind)],
      ['Start', '+' + fmtMs(msBetween(t0, s.s)) + (abs ? '  (' + abs + ')' : '')],
      ['Duration', fmtMs(msBetween(s.s, s.e))],
      ['Span ID', h('code', null, s.id)],
      ['Parent ID', s.p ? goBtn(s.p) : '— (root)'],
      ['Status', code + (st.message ? ': ' + st.message : '')],
      sc.name ? ['Scope', sc.name + (sc.version ? ' ' + sc.version : '')] : null
    ]);
    if (s.err) info.classList.add('tb-errt');
    const evs = h('div', 'tb-evs');
    s.events.forEach(function (ev) {
      evs.appendChild(h('div', 'tb-evr', [
        h('div', null, [h('span', 'tb-off', '+' + fmtMs(msBetween(s.s, toNs(ev.timeUnixNano)))), h('strong', null, ev.name || '(event)')]),
        ev.attributes && ev.attributes.length ? attrTable(ev.attributes) : null]));
    });
    const lks = h('div', 'tb-evs');
    s.links.forEach(function (l) {
      lks.appendChild(h('div', 'tb-evr', [
        h('div', null, ['trace ', h('code', null, l.traceId || ''), ' span ', l.traceId === s.tid ? goBtn(l.spanId || '') : h('code', null, l.spanId || '')]),
        l.attributes && l.attributes.length ? attrTable(l.attributes) : null]));
    });
    d.appendChild(h('div', 'tb-cols', [
      h('div', null, [section('Span', info), section('Resource', attrTable(s.res), String(s.res.length))]),
      h('div', null, [section('Attributes', attrTable(s.attrs), String(s.attrs.length)),
        s.events.length ? section('Events', evs, String(s.events.length)) : null,
        s.links.length ? section('Links', lks, String(s.links.length)) : null])
    ]));
    return d;
  }

  /* ---------- data ---------- */
  function mergeOTLP(doc) {
    if (!doc || !Array.isArray(doc.resourceSpans)) return;
    let n = 0;
    doc.resourceSpans.forEach(function (rs) {
      const res = (rs && rs.resource && rs.resource.attributes) || [];
      let svc = 'unknown';
      res.forEach(function (kv) { if (kv && kv.key === 'service.name') svc = anyStr(kv.value) || svc; });
      (rs.scopeSpans || rs.instrumentationLibrarySpans || []).forEach(function (ss) {
        (ss.spans || []).forEach(function (sp) {
          if (!sp || !sp.spanId) return;
          const s = toNs(sp.startTimeUnixNano);
          let e = toNs(sp.endTimeUnixNano);
          if (e < s) e = s;
          let kind = sp.kind;
          if (typeof kind === 'string') kind = Math.max(0, KINDS.indexOf(kind.replace('SPAN_KIND_', '').toLowerCase()));
          const p = sp.parentSpanId && !/^0*$/.test(sp.parentSpanId) ? sp.parentSpanId : '';
          const st = sp.status || {};
          spans.set(sp.spanId, {
            id: sp.spanId, p: p, tid: sp.traceId || '', name: String(sp.name || ''), kind: kind | 0, s: s, e: e,
            attrs: sp.attributes || [], events: sp.events || [], links: sp.links || [], st: st,
            err: st.code === 2 || st.code === 'STATUS_CODE_ERROR', svc: svc, res: res, scope: ss.scope || {}
          });
          n++;
        });
      });
    });
    if (n) {
      host.setAttribute('data-span-count', String(spans.size));
      schedule();
    }
  }
  function setRec(r) {
    if (!r || typeof r !== 'object') return;
    if (rec && rec.done && !r.done) return; // a stale in-flight copy
    rec = r;
    if (r.traceId) startTrace(r.traceId);
    schedule();
  }
  function getJSON(path) {
    return fetch(prefix + path, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (res.status === 404) return null;
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      });
  }
  let tries = 0;
  function retry(msg) {
    if (++tries < 8) setTimeout(loadRecord, 250 * tries);
    else {
      failed = msg;
      host.setAttribute('data-state', 'error');
      schedule();
    }
  }
  function loadRecord() {
    getJSON('/api/requests/' + encodeURIComponent(reqId)).then(function (r) {
      if (!r) return retry('not found');
      setRec(r);
      if (!r.traceId) ready();
    }, function (e) { retry(e.message || 'failed'); });
  }
  function ready() {
    host.setAttribute('data-state', 'ready');
    schedule();
  }
  function startTrace(id) {
    if (traceId) return;
    traceId = id;
    openStream();
    getJSON('/api/traces/' + encodeURIComponent(id)).then(mergeOTLP, function () { /* treat as empty */ }).then(ready);
  }
  function parse(e) { try { return JSON.parse(e.data); } catch (x) { return null; } }
  function openStream() {
    if (es || evicted || !traceId || !window.EventSource) return;
    es = new EventSource(prefix + '/api/traces/' + encodeURIComponent(traceId) + '/stream');
    es.addEventListener('request', function (e) {
      const r = parse(e);
      if (r && r.id === reqId) setRec(r);
    });
    es.addEventListener('spans', function (e) { mergeOTLP(parse(e)); });
    es.addEventListener('evicted', function () {
      evicted = true;
      closeStream();
      schedule();
    });
  }
  function closeStream() {
    if (es) es.close();
    es = null;
  }
  window.addEventListener('pagehide', closeStream);
  window.addEventListener('pageshow', function (e) { if (e.persisted) openStream(); });

  /* ---------- interaction ---------- */
  function setOpen(v) {
    open = v;
    ls.set('tracebar.open', v ? '1' : '0');
    render();
  }
  function setTab(t) {
    if (tab !== t) scrolls[tab] = body.scrollTop;
    tab = t;
    ls.set('tracebar.tab', t);
    render();
  }
  function select(id) {
    selected = selected === id ? '' : id;
    // Reveal the span: expand its collapsed ancestors.
    for (let s = spans.get(id), i = 0; s && s.p && i < 1000; s = spans.get(s.p), i++) collapsed.delete(s.p);
    render();
    const r = body.querySelector('.tb-span[data-span-id="' + CSS.escape(id) + '"]');
    if (r && selected) r.scrollIntoView({ block: 'nearest' });
  }
  badge.addEventListener('click', function () { setOpen(!open); });
  closeBtn.addEventListener('click', function () { setOpen(false); badge.focus(); });
  tabsEl.addEventListener('click', function (e) {
    const b = e.target.closest('.tb-tab');
    if (b) setTab(b.dataset.tab);
  });
  tabsEl.addEventListener('keydown', function (e) {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!d) return;
    setTab(TABS[(TABS.indexOf(tab) + d + TABS.length) % TABS.length]);
    tabBtns[tab].focus();
  });
  body.addEventListener('click', function (e) {
    const t = e.target;
    const go = t.closest('.tb-go');
    if (go) return select(go.dataset.goto);
    if (t.closest('.tb-dx')) { selected = ''; return render(); }
    const row = t.closest('.tb-span');
    if (!row) return;
    const id = row.dataset.spanId;
    if (t.closest('.tb-tog')) {
      if (collapsed.has(id)) collapsed.delete(id); else collapsed.add(id);
      return render();
    }
    select(id);
  });
  body.addEventListener('keydown', function (e) {
    const row = e.target.classList && e.target.classList.contains('tb-span') ? e.target : null;
    if (!row) return;
    const id = row.dataset.spanId;
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(id); }
    else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const all = Array.from(body.querySelectorAll('.tb-span'));
      const n = all[all.indexOf(row) + (e.key === 'ArrowDown' ? 1 : -1)];
      if (n) n.focus();
    } else if ((e.key === 'ArrowLeft' && !collapsed.has(id)) || (e.key === 'ArrowRight' && collapsed.has(id))) {
      if (row.hasAttribute('aria-expanded')) {
        if (e.key === 'ArrowLeft') collapsed.add(id); else collapsed.delete(id);
        render();
      }
    }
  });
  document.addEventListener('keydown', function (e) {
    if (e.key !== 'Escape' || !open) return;
    const inside = !!root.activeElement;
    setOpen(false);
    if (inside) badge.focus();
  });
  if (document.readyState !== 'complete') {
    window.addEventListener('load', function () { setTimeout(schedule, 0); });
  }

  render();
  if (reqId) loadRecord();
  else { failed = 'no request id'; host.setAttribute('data-state', 'error'); render(); }
})();
