#!/usr/bin/env python3
"""Prints tests/bench.sh's table and issue 12's targets.

Usage: report.py RESULTS PAGES FACTS
  RESULTS  one wrk run a line: round page variant requests cpu_ticks req/s latency_us bad
  PAGES    pages.tsv: name kind bytes source
  FACTS    key=value lines: clk_tck, rounds, seconds, rss_*, ttfb_*
"""
import statistics
import sys

res_path, pages_path, facts_path = sys.argv[1:4]
facts = dict(l.rstrip("\n").split("=", 1) for l in open(facts_path) if "=" in l)
tck = float(facts["clk_tck"])
pages = [l.rstrip("\n").split("\t") for l in open(pages_path) if l.strip()]
kind = {p[0]: p[1] for p in pages}
size = {p[0]: int(p[2]) for p in pages}
order = [p[0] for p in pages]
V = ["plain", "tracing", "tracebar", "outside", "nginx", "nginx_sub"]

runs = {}  # (page, variant) -> list of (us/req, rps, latency_us)
rounds = {}  # (page, variant) -> list of (round, us/req)
bad = 0
for line in open(res_path):
    r, page, v, n, ticks, rps, lat, nbad = line.split()
    n, ticks, nbad = int(n), int(ticks), int(nbad)
    bad += nbad
    us = ticks / tck * 1e6 / n if n else float("nan")
    runs.setdefault((page, v), []).append((us, float(rps), float(lat)))
    rounds.setdefault((page, v), []).append((r, us))


def med(page, v, i=0):
    xs = [x[i] for x in runs.get((page, v), [])]
    return statistics.median(xs) if xs else float("nan")


def paired(page, v, base):
    """Median over the rounds of v's figure over base's in the same round."""
    a = {r: x for r, x in rounds.get((page, v), [])}
    b = {r: x for r, x in rounds.get((page, base), [])}
    xs = [a[r] / b[r] for r in a if r in b and b[r] > 0]
    return statistics.median(xs) if xs else float("nan")


def spread(page, v):
    xs = [x[0] for x in runs.get((page, v), [])]
    return (max(xs) - min(xs)) / statistics.median(xs) if len(xs) > 1 else 0.0


def human(n):
    return f"{n} B" if n < 1024 else f"{n / 1024:.0f} KB"


cpu = {(p, v): med(p, v) for p in order for v in V}
json = next(p for p in order if kind[p] == "json")
real = [p for p in order if kind[p] == "real"]

print()
print(f"Proxy CPU per request, µs (utime+stime of the proxy process / requests wrk completed;")
print(f"median of {facts['rounds']} interleaved rounds of {facts['seconds']} s, wrk -t1 -c8, loopback)")
hdr = f"{'page':<22}{'size':>8} {'plain':>7} {'tracing (+added)':>17} {'Tracebar':>9} {'TB/plain':>9} {'outside/plain':>14} {'nginx':>7} {'nginx+sub':>10}"
print(hdr)
print("-" * len(hdr))
for p in order:
    c = {v: cpu[(p, v)] for v in V}
    tr = f"{c['tracing']:.1f} (+{c['tracing'] - c['plain']:.1f})"
    print(f"{p:<22}{human(size[p]):>8} {c['plain']:>7.1f} {tr:>17} {c['tracebar']:>9.1f} "
          f"{c['tracebar'] / c['plain']:>9.2f} {c['outside'] / c['plain']:>14.3f} {c['nginx']:>7.1f} {c['nginx_sub']:>10.1f}")

print()
print("Requests/s and latency (medians; latency is wrk's average)")
hdr2 = f"{'page':<22}" + "".join(f"{v:>17}" for v in V)
print(hdr2)
print("-" * len(hdr2))
for p in order:
    print(f"{p:<22}" + "".join(f"{med(p, v, 1):.0f} {med(p, v, 2) / 1000:.2f}ms".rjust(17) for v in V))

print()
print("Spread of the CPU figure over the rounds, (max-min)/median, %")
print(hdr2)
for p in order:
    print(f"{p:<22}" + "".join(f"{100 * spread(p, v):>16.0f}%" for v in V))
if bad:
    print(f"\nWARNING: {bad} non-2xx responses or socket errors in the wrk runs (listed at the end)")

print()
print("Injection cost per page, µs/req: Tracebar = (page - plain) - (small JSON added, "
      f"{cpu[(json, 'tracebar')] - cpu[(json, 'plain')]:.1f}); nginx = sub_filter - plain nginx")
inj = {}
for p in order:
    if p == json:
        continue
    tb = (cpu[(p, "tracebar")] - cpu[(p, "plain")]) - (cpu[(json, "tracebar")] - cpu[(json, "plain")])
    ng = cpu[(p, "nginx_sub")] - cpu[(p, "nginx")]
    inj[p] = (tb, ng)
    per = f"  ({tb / (size[p] / 102400):.1f} vs {ng / (size[p] / 102400):.1f} per 100 KB)"
    print(f"  {p:<22} Tracebar {tb:>7.1f}   nginx sub_filter {ng:>7.1f}{per}")


def verdict(ok):
    return "MET" if ok else "NOT MET"


print()
print("Issue 12 targets (verdicts on the medians above; \"paired\": median of each round's own ratio)")
print("1) injector speed: BenchmarkRealPages, printed below")
print("2) every real page: Tracebar <= 2.0x plain's proxy CPU, and injection cost <= nginx sub_filter's over plain nginx")
all2 = True
for p in real:
    ratio = cpu[(p, "tracebar")] / cpu[(p, "plain")]
    tb, ng = inj[p]
    ok = ratio <= 2.0 and tb <= ng
    all2 &= ok
    print(f"   {p:<22} {ratio:.2f}x plain ({verdict(ratio <= 2.0)}; paired {paired(p, 'tracebar', 'plain'):.2f}x); "
          f"injection {tb:.1f} vs nginx {ng:.1f} µs ({verdict(tb <= ng)})")
print(f"   => {verdict(all2)}")
tba = cpu[(json, "tracebar")] - cpu[(json, "plain")]
tra = cpu[(json, "tracing")] - cpu[(json, "plain")]
print(f"3) small JSON: Tracebar added {tba:.1f} µs/req <= tracing added {tra:.1f} µs/req: {verdict(tba <= tra)}")
worst = max(order, key=lambda p: cpu[(p, "outside")] / cpu[(p, "plain")])
ratios = ", ".join(f"{p} {cpu[(p, 'outside')] / cpu[(p, 'plain')]:.3f}" for p in order)
wr = cpu[(worst, "outside")] / cpu[(worst, "plain")]
print(f"4) pass-through (outside allow) <= 1.05x plain: {ratios}")
print(f"   paired, median of the rounds' own ratios: "
      + ", ".join(f"{p} {paired(p, 'outside', 'plain'):.3f}" for p in order))
print(f"   => worst {worst} {wr:.3f}x: {verdict(wr <= 1.05)}")
if "rss_growth_kb" in facts:
    g = int(facts["rss_growth_kb"]) / 1024
    print(f"5) 100 MB page through Tracebar: proxy peak RSS grew {g:.1f} MB (< 16 MB): {verdict(g < 16)}; "
          f"first byte plain {facts['ttfb_plain_ms']} ms, Tracebar {facts['ttfb_tracebar_ms']} ms")
