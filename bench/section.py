#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Replace (or append) one marked section of a report: the text of SECTION_MD goes between
<!-- NAME:begin --> and <!-- NAME:end --> in REPORT; the rest of REPORT is kept.
Usage: section.py NAME REPORT SECTION_MD"""
import os
import sys

name, path, sec = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
B, E = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
doc = open(path).read() if os.path.exists(path) else ""
block = f"{B}\n{sec}\n{E}"
if B in doc and E in doc:
    doc = doc[:doc.index(B)] + block + doc[doc.index(E) + len(E):]
else:
    doc = (doc.rstrip("\n") + "\n\n" if doc else "") + block + "\n"
open(path, "w").write(doc)
