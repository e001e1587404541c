#!/usr/bin/env python3
"""Lays out what tests/bench.sh's upstream serves, in argv[1]:

  small.json      ~200 B JSON (an API call)
  table.html      100 KB synthetic page: rows of <div><a><span>
  go_spec.html    $GOROOT/doc/go_spec.html (a fragment: wrapped in a minimal
                  html/head/body as go.dev serves it, so both injectors find </body>)
  py_*.html       Sphinx pages of Debian's python3-doc (argv[3])
  marketing.html  argv[4], the committed marketing-style page
  big10.html, big100.html   10 MB and 100 MB pages (memory, first byte)

and pages.tsv: name, kind (json|synthetic|real), bytes, where it came from.
Usage: pages.py WWW GOROOT PYDOC_HTML MARKETING_HTML
"""
import os
import sys

www, goroot, pydoc, marketing = sys.argv[1:5]
os.makedirs(www, exist_ok=True)
rows = []


def put(name, kind, data, source):
    with open(os.path.join(www, name), "wb") as f:
        f.write(data)
    rows.append((name, kind, str(len(data)), source))


items = ",".join('{"id":%d,"name":"item %d","price":%d.99}' % (i, i, 10 + i) for i in range(5))
put("small.json", "json", ('{"ok":true,"page":1,"total":5,"items":[%s]}' % items).encode(), "generated")

row = '<div class="row"><a href="/item?id=42">Item &amp; more</a> <span>text text text</span></div>\n'
table = '<!doctype html><html><head><title>bench</title></head><body>\n' + row * (100 * 1024 // len(row)) + '</body></html>\n'
put("table.html", "synthetic", table.encode(), "generated (as the old bench.sh)")

spec = open(os.path.join(goroot, "doc", "go_spec.html"), "rb").read()
wrapped = (b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
           b'<title>The Go Programming Language Specification</title>\n</head>\n<body>\n'
           + spec + b'\n</body>\n</html>\n')
put("go_spec.html", "real", wrapped, "$GOROOT/doc/go_spec.html, wrapped in html/head/body")

for rel in ("library/stdtypes.html", "reference/datamodel.html", "library/os.path.html"):
    put("py_" + os.path.basename(rel), "real", open(os.path.join(pydoc, rel), "rb").read(), "python3-doc " + rel)

put("marketing.html", "real", open(marketing, "rb").read(), os.path.relpath(marketing))

for name, mb in (("big10.html", 10), ("big100.html", 100)):
    with open(os.path.join(www, name), "w") as f:
        f.write('<!doctype html><html><body>\n')
        chunk = row * 10000
        for _ in range(mb * 1024 * 1024 // len(chunk)):
            f.write(chunk)
        f.write('</body></html>\n')

with open(os.path.join(www, "pages.tsv"), "w") as f:
    for r in rows:
        f.write("\t".join(r) + "\n")
