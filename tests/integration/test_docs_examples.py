# SPDX-License-Identifier: Apache-2.0
"""The user guide's examples run against a real daemon, so the docs cannot
drift from the code. docs/guide.md's fenced ```sh blocks run in order in one
bash process (set -euo pipefail; every curl uses -f, so an HTTP error fails
the block) with LOOM, DATA and ADMIN_TOKEN set and `loom` on PATH; a ```text
block right after a `<!-- test: output -->` comment lists lines each of which
must appear in the output of the sh block before it. The ```python blocks then
run, in order, in one namespace, with LOOM and ADMIN_TOKEN in the
environment. Blocks fenced plainly (```) are not run."""
import io
import os
import re
import shutil
import subprocess
import tempfile
from contextlib import redirect_stdout

import pytest

from conftest import LOOM_BIN, TOKEN

GUIDE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "guide.md")
FENCE = re.compile(r"^```([A-Za-z]*)\s*$")
MARK = "@@loom-docs-block-{}@@"


def blocks(path=GUIDE):
    """[(lang, text, expected_lines or None, line_no)] in document order."""
    out, lines, i, pending_output = [], open(path, encoding="utf-8").read().split("\n"), 0, False
    while i < len(lines):
        if lines[i].strip() == "<!-- test: output -->":
            pending_output = True
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start, body = m.group(1), i + 1, []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        i += 1
        text = "\n".join(body)
        if lang == "text" and pending_output:
            assert out and out[-1][0] == "sh", f"guide line {start}: an output block must follow a sh block"
            out[-1] = (out[-1][0], out[-1][1], [l for l in body if l.strip()], out[-1][3])
        elif lang in ("sh", "python"):
            out.append((lang, text, None, start))
        pending_output = False
    return out


def test_guide_has_the_walkthrough():
    b = blocks()
    assert sum(1 for x in b if x[0] == "sh") >= 12
    assert any(x[0] == "python" for x in b)
    assert sum(1 for x in b if x[2]) >= 4  # checked outputs


@pytest.fixture
def srv(loom_factory):
    return loom_factory(env={"LOOM_PASSWORD_COST": "min"}).start()


def test_guide_examples_run(srv):
    if not shutil.which("jq"):
        pytest.skip("jq is not installed (the guide's shell examples use it)")
    b = blocks()
    sh = [x for x in b if x[0] == "sh"]
    script = ["set -euo pipefail"]
    for k, (_, text, _, _) in enumerate(sh):
        script.append(f"echo '{MARK.format(k)}'; echo '{MARK.format(k)}' >&2")
        script.append(text)
    bindir = tempfile.mkdtemp(prefix="loom-docs-bin-")
    os.symlink(os.path.abspath(LOOM_BIN), os.path.join(bindir, "loom"))
    env = dict(os.environ, LOOM=srv.url, DATA=srv.data_dir, ADMIN_TOKEN=TOKEN,
               PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    try:
        p = subprocess.run(["bash", "-c", "\n".join(script)], env=env, capture_output=True, text=True,
                           timeout=300)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
    outs = re.split(r"@@loom-docs-block-\d+@@\n", p.stdout)[1:]
    errs = re.split(r"@@loom-docs-block-\d+@@\n", p.stderr)[1:]
    last = len(outs) - 1
    if p.returncode != 0:
        _, text, _, line = sh[last]
        pytest.fail(f"guide sh block at line {line} failed (exit {p.returncode}):\n{text}\n"
                    f"--- stdout\n{outs[last] if outs else ''}\n--- stderr\n{errs[last] if errs else p.stderr}")
    assert len(outs) == len(sh)
    for k, (_, text, expected, line) in enumerate(sh):
        for want in expected or []:
            assert want in outs[k], f"guide sh block at line {line}: {want!r} not in its output:\n{outs[k]}"

    # the Python section, in one namespace
    old = {k: os.environ.get(k) for k in ("LOOM", "ADMIN_TOKEN")}
    os.environ.update(LOOM=srv.url, ADMIN_TOKEN=TOKEN)
    ns = {"__name__": "guide"}
    try:
        for lang, text, _, line in b:
            if lang != "python":
                continue
            buf = io.StringIO()
            try:
                with redirect_stdout(buf):
                    exec(compile(text, f"docs/guide.md:{line}", "exec"), ns)
            except Exception as e:  # noqa: BLE001 - report which block
                pytest.fail(f"guide python block at line {line} failed: {e!r}\n--- output\n{buf.getvalue()}")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
