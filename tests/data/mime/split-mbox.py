#!/usr/bin/env python3
"""Splits the MimeKit mbox test files into single messages (run by hand once).

A line "From SENDER ..." starts a message when SENDER is "-" or an address
(as the files' separators are) and it is the first line of the file or is
followed by a header line ("Name: value"): that keeps unmunged body lines such
as "From Russia with love" inside their message. The blank line that mbox puts
before a separator belongs to the separator, not to the message before it.
Usage: split-mbox.py MBOX OUTPREFIX  ->  OUTPREFIX.1.eml, OUTPREFIX.2.eml, ...
"""
import re
import sys

HEADER = re.compile(rb"^[!-9;-~]+[ \t]*:")
SEPARATOR = re.compile(rb"^From (-|\S*@\S*)(\s|$)")

data = open(sys.argv[1], "rb").read()
if data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
lines = data.splitlines(keepends=True)
messages, cur = [], None
for i, line in enumerate(lines):
    nxt = lines[i + 1] if i + 1 < len(lines) else b""
    if SEPARATOR.match(line) and (i == 0 or HEADER.match(nxt)):
        if cur is not None:
            messages.append(cur)
        cur = []
        continue
    if cur is not None:
        cur.append(line)
if cur is not None:
    messages.append(cur)
for n, msg in enumerate(messages, 1):
    body = b"".join(msg)
    if body.endswith(b"\n\n"):
        body = body[:-1]
    elif body.endswith(b"\r\n\r\n"):
        body = body[:-2]
    with open("%s.%d.eml" % (sys.argv[2], n), "wb") as f:
        f.write(body)
print("%s: %d messages" % (sys.argv[1], len(messages)))
