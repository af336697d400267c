# SPDX-License-Identifier: Apache-2.0
# Turns the JSON lines written by bench/run.sh into the markdown report
# (bench/RESULTS.md): ingest, client CPU, bytes/point, RSS, query latencies,
# the Loom/VictoriaMetrics and Loom/InfluxDB ratios, and the answer check.
# Usage: python3 bench/report.py results.jsonl  (env: CMDLINE, T0, T1)
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SYSTEMS = ["influxdb", "victoriametrics", "loom-durable", "loom-batched"]
DURABILITY = {
    "influxdb": "WAL fsync on every write (wal-fsync-delay = \"0s\", the default)",
    "victoriametrics": "no fsync per write; in-memory buffers flushed about every second",
    "loom-durable": "durable: acknowledged after the group-committed WAL fsync",
    "loom-batched": "batched: fsync at least every 100 ms; ack may precede it",
}


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool just leaves the field empty
        return ""


def loom_mtime():
    try:
        st = os.stat(os.environ.get("LOOM_BIN", "build/loom"))
        return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(st.st_mtime))
    except OSError:
        return "?"


def fmt(x, nd=0):
    if x is None:
        return "—"
    if nd == 0:
        return f"{x:,.0f}"
    return f"{x:,.{nd}f}"


def ratio(a, b, nd=2):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{nd}f}"


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    out = []
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    t0, t1 = int(os.environ.get("T0", "0")), int(os.environ.get("T1", "0"))
    out.append("# Loom side-by-side benchmark results\n")
    out.append(f"Measured by `bench/run.sh`, finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t1 or time.time()))}, "
               f"wall time {(t1 - t0) / 60:.1f} min.\n")
    out.append(f"- Machine: {cpu or platform.machine()}, {os.cpu_count()} cores (shared by client and "
               f"server), {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()}.")
    out.append(f"- Command: `{os.environ.get('CMDLINE', '?')}` (what `make bench` runs after building, with these settings)")
    out.append(f"- Versions: {sh(['influxd', 'version']) or 'influxd ?'}; VictoriaMetrics "
               f"{sh(['victoria-metrics', '-version']) or '(Debian victoria-metrics package)'}; "
               f"Loom `{sh([os.environ.get('LOOM_BIN', 'build/loom'), 'version']) or '?'}` "
               f"(binary modified {loom_mtime()}; tree HEAD at report time "
               f"{sh(['git', 'rev-parse', '--short', 'HEAD']) or '?'}).")
    out.append("- Durability of each system as run:")
    for s in SYSTEMS:
        out.append(f"  - {s}: {DURABILITY[s]}")
    out.append("- InfluxDB 1.6: inmem index, `cache-snapshot-write-cold-duration = \"5s\"` so the "
               "cache is written to TSM before the disk is measured. VictoriaMetrics: "
               "`-retentionPeriod 100y -search.disableCache` (no result cache: every query is "
               "executed), `/internal/force_flush` then 15 s before measuring.")
    out.append("- Ingest: `lp_load` (whole file in memory, pre-split batches, keep-alive HTTP/1.1 "
               "POSTs); points = field values; client CPU = user+sys of the loader. RSS = server "
               "VmRSS sampled every 100 ms during the load. Bytes/point = `du -sb` of the server's "
               "data directory after the flush described above, divided by points sent.")
    out.append("- Queries: run sequentially, one warm-up then every instance timed; latency is the "
               "client-side round trip including the response body.\n")

    use_cases = []
    for r in rows:
        if r.get("use_case") and r["use_case"] not in use_cases:
            use_cases.append(r["use_case"])
    for uc in use_cases:
        R = [r for r in rows if r.get("use_case") == uc]
        loads = {s: [r for r in R if r.get("system") == s and "load" in r] for s in SYSTEMS}
        any_load = next((l[0]["load"] for l in loads.values() if l), None)
        out.append(f"## {uc}\n")
        if any_load:
            out.append(f"Data: {any_load['lines']:,} lines, {any_load['points']:,} points "
                       f"({any_load['workers']} workers, {any_load['batch_lines']} lines per batch).\n")
        for r in R:
            if "not_run" in r:
                out.append(f"- **{r['system']} not run**: {r['not_run']}")
            if "query_not_run" in r:
                out.append(f"- **{r['system']} queries not run**: {r['query_not_run']}")
        out.append("")
        summ = {}
        for s in SYSTEMS:
            L = loads[s]
            if not L:
                continue
            disk = next((r for r in R if r.get("system") == s and "disk_bytes" in r), None)
            summ[s] = {
                "runs": len(L),
                "pps": statistics.median(r["load"]["points_per_sec"] for r in L),
                "cpu": statistics.median(r["load"]["client_cpu_s"] for r in L),
                "rss_peak": statistics.median(r["rss_peak_kb"] for r in L) / 1024,
                "rss_med": statistics.median(r["rss_median_kb"] for r in L) / 1024,
                "bpp": disk["disk_bytes"] / disk["points"] if disk and disk["points"] else None,
            }
        out.append("### Ingest and footprint (median over runs)\n")
        out.append("| system | durability | runs | ingest points/s | client CPU s | bytes/point on disk | RSS peak MB | RSS median MB |")
        out.append("|---|---|---|---|---|---|---|---|")
        for s, v in summ.items():
            dur = s.split("-", 1)[1] if s.startswith("loom") else ("fsync per write" if s == "influxdb" else "no fsync per write")
            out.append(f"| {s} | {dur} | {v['runs']} | {fmt(v['pps'])} | {fmt(v['cpu'], 2)} | "
                       f"{fmt(v['bpp'], 2)} | {fmt(v['rss_peak'])} | {fmt(v['rss_med'])} |")
        out.append("")

        Q = [r for r in R if r.get("query")]
        types = []
        for r in Q:
            if r["type"] not in types:
                types.append(r["type"])
        qv = {(r["system"], r["type"]): r for r in Q}
        if types:
            out.append("### Query latency, ms (median / p95 over the instances)\n")
            present = [s for s in SYSTEMS if any(r["system"] == s for r in Q)]
            out.append("| query | n | " + " | ".join(present) + " |")
            out.append("|---|---|" + "---|" * len(present))
            notes = []
            for t in types:
                cells = []
                n = ""
                for s in present:
                    r = qv.get((s, t))
                    if r is None:
                        cells.append("—")
                    elif "na" in r:
                        cells.append("n/a")
                        notes.append(f"- {t} on {s}: n/a — {r['na']}")
                    else:
                        n = n or str(r["n"])
                        c = f"{r['median_ms']:.1f} / {r['p95_ms']:.1f}"
                        if r.get("errors"):
                            c += f" ({r['errors']} errors)"
                            err = " ".join(r.get("first_error", "").split())[:300]
                            notes.append(f"- {t} on {s}: `{err}`")
                        cells.append(c)
                out.append(f"| {t} | {n} | " + " | ".join(cells) + " |")
            out.append("")
            out.extend(notes)
            if notes:
                out.append("")

        out.append("### Ratios (Loom / other; ingest: higher is better, everything else lower is better)\n")
        cols = [(l, o) for l in ("loom-durable", "loom-batched") for o in ("victoriametrics", "influxdb")]
        out.append("| metric | " + " | ".join(f"{l} / {o}" for l, o in cols) + " |")
        out.append("|---|" + "---|" * len(cols))

        def g(s, k):
            return summ.get(s, {}).get(k)

        for label, key in (("ingest points/s", "pps"), ("bytes/point", "bpp"),
                           ("RSS peak", "rss_peak"), ("RSS median", "rss_med"),
                           ("client CPU", "cpu")):
            out.append(f"| {label} | " + " | ".join(ratio(g(l, key), g(o, key)) for l, o in cols) + " |")
        for t in types:
            cells = []
            for l, o in cols:
                a, b = qv.get((l, t)), qv.get((o, t))
                if not a or not b or "na" in a or "na" in b or a.get("errors") or b.get("errors"):
                    cells.append("—")
                else:
                    cells.append(ratio(a["median_ms"], b["median_ms"]))
            out.append(f"| query {t} (median) | " + " | ".join(cells) + " |")
        out.append("")

        C = [r for r in R if r.get("compare")]
        out.append("### Answer check: Loom (durable) vs InfluxDB, same InfluxQL, same data\n")
        if not C:
            why = next((r["compare_not_run"] for r in R if "compare_not_run" in r), "not run")
            out.append(f"Not run: {why}.\n")
        else:
            out.append("| query | instances | mismatches |")
            out.append("|---|---|---|")
            for r in C:
                out.append(f"| {r['type']} | {r['n']} | {r['mismatches']} |")
            out.append("")
            for r in C:
                for d in r.get("diffs", [])[:3]:
                    out.append(f"- {r['type']} #{d['instance']}: `{d['diff'][:400]}`")
            out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
