#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The web console benchmark (`make bench-console`): starts loom on free loopback ports with a
# fresh data directory, registers a device whose profile has ten keys, loads 90 days of 1 Hz
# data for it (console_load load: 7.8M points per key), restarts loom (the head is flushed
# into blocks with their stats, as data that old is), times the device page's history request
# on the server (console_load query), then measures the console in headless Chromium
# (console_bench.mjs: first load of #/overview, the device page's ten charts at 1 h and at
# 90 days, cold browser cache every run) and writes the console section of bench/RESULTS.md
# between its markers. Parameters: bench/README.md. Everything it starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
LOOM_BIN=${LOOM_BIN:-$ROOT/$BUILD/loom}
LOAD_BIN=${LOAD_BIN:-$ROOT/$BUILD/bench/console_load}
CONSOLE_RUNS=${CONSOLE_RUNS:-5}
CONSOLE_DAYS=${CONSOLE_DAYS:-90}
CONSOLE_QUERY_RUNS=${CONSOLE_QUERY_RUNS:-9}
CONSOLE_DURABILITY=${CONSOLE_DURABILITY:-durable}
CONSOLE_WEB_DIR=${CONSOLE_WEB_DIR:-}      # "" = the console embedded in the binary
CONSOLE_OUT=${CONSOLE_OUT:-$ROOT/bench/RESULTS.md}
BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loom-bench}
CONSOLE_JSONL=${CONSOLE_JSONL:-$ROOT/bench/RESULTS-console.jsonl}
TOKEN=${LOOM_ADMIN_TOKEN:-bench-console-$$-$RANDOM$RANDOM}
KEYS=temp_c,pressure_bar,flow_m3h,vibration_mm_s,power_kw,speed_rpm,current_a,voltage_v,humidity_pct,torque_nm

log() { echo "console bench: $*" >&2; }
[ -x "$LOOM_BIN" ] || { log "$LOOM_BIN missing (make first)"; exit 1; }
[ -x "$LOAD_BIN" ] || { log "$LOAD_BIN missing (make $BUILD/bench/console_load)"; exit 1; }
command -v node >/dev/null || { log "node missing (apt-get install nodejs)"; exit 1; }
[ -x "${LOOM_CHROMIUM:-/usr/bin/chromium}" ] || { log "chromium missing (apt-get install chromium)"; exit 1; }
if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
  log "installing playwright-core (tests/browser: npm ci)"
  (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund >&2)
fi

mkdir -p "$BENCH_CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/loom-console-bench.XXXXXX")
LOOM_PID=
stop_loom() {
  if [ -n "$LOOM_PID" ] && kill -0 "$LOOM_PID" 2>/dev/null; then
    kill -TERM "$LOOM_PID" 2>/dev/null || true
    for _ in $(seq 1 600); do kill -0 "$LOOM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LOOM_PID" 2>/dev/null || true
  fi
  LOOM_PID=
}
cleanup() { stop_loom; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
start_loom() {
  local args=(serve --data "$WORK/data" --http "127.0.0.1:$PORT" --mqtt off --durability "$CONSOLE_DURABILITY")
  [ -n "$CONSOLE_WEB_DIR" ] && args+=(--web-dir "$CONSOLE_WEB_DIR")
  LOOM_ADMIN_TOKEN=$TOKEN "$LOOM_BIN" "${args[@]}" >>"$WORK/loom.log" 2>&1 &
  LOOM_PID=$!
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null "$URL/ping" && return 0
    kill -0 "$LOOM_PID" 2>/dev/null || { tail -20 "$WORK/loom.log" >&2; log "loom exited"; exit 1; }
    sleep 0.1
  done
  log "loom did not answer /ping"; exit 1
}
api() { # METHOD PATH [JSON]
  curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$URL$2"
}
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

start_loom
log "loom $("$LOOM_BIN" version) on $URL, data in $WORK/data"
TENANT=$(api GET '/api/v1/tenants?pageSize=1000' | jget '[t["id"] for t in d["data"] if t["db_name"] == "default"][0]')
PROFILE=$(api POST /api/v1/device-profiles "{\"tenant_id\":\"$TENANT\",\"name\":\"bench10\",\"description\":\"console benchmark: ten keys at 1 Hz\"}" | jget 'd["id"]')
i=0
for k in ${KEYS//,/ }; do
  units=(°C bar m³/h mm/s kW rpm A V % N·m)
  api POST "/api/v1/device-profiles/$PROFILE/keys" \
    "{\"key\":\"$k\",\"type\":\"float\",\"unit\":\"${units[$i]}\"}" >/dev/null
  i=$((i + 1))
done
DEVICE=$(api POST /api/v1/devices "{\"tenant_id\":\"$TENANT\",\"name\":\"BENCH-1\",\"profile_id\":\"$PROFILE\"}" | jget 'd["id"]')

END_S=$(date +%s)
log "loading $CONSOLE_DAYS days of 1 Hz data, 10 keys, device BENCH-1"
"$LOAD_BIN" load --url "$URL" --token "$TOKEN" --db default --measurement bench10 --device BENCH-1 \
  --keys 10 --days "$CONSOLE_DAYS" --end-s "$END_S" >"$WORK/load.json"
cat "$WORK/load.json" >&2
stop_loom
start_loom # flushed to blocks; reopened as a server with that history would be
log "restarted: $(grep -o 'msg="store open".*' "$WORK/loom.log" | tail -1)"

START_MS=$(( (END_S - CONSOLE_DAYS * 86400) * 1000 ))
NOW_MS=$(( $(date +%s) * 1000 ))
: >"$WORK/query.jsonl"
for w in 600 1200; do
  "$LOAD_BIN" query --url "$URL" --token "$TOKEN" --id "$DEVICE" --keys "$KEYS" \
    --start-ms "$START_MS" --end-ms "$NOW_MS" --width "$w" --runs "$CONSOLE_QUERY_RUNS" \
    --pid "$LOOM_PID" | tee -a "$WORK/query.jsonl" >&2
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "browser runs ($CONSOLE_RUNS, cold cache each)"
LOOM_URL=$URL LOOM_TOKEN=$TOKEN BENCH_DEVICE_ID=$DEVICE CONSOLE_RUNS=$CONSOLE_RUNS \
  node "$ROOT/bench/console_bench.mjs" | tee "$WORK/browser.jsonl" >&2
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
RSS_KB=$(awk '/VmRSS/ {print $2}' "/proc/$LOOM_PID/status" 2>/dev/null || echo 0)
DATA_BYTES=$(du -sb "$WORK/data" | cut -f1)

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
{
  printf '{"kind":"load","at":"%s",' "$STAMP"; cut -c2- "$WORK/load.json"
  sed "s/^{/{\"kind\":\"query\",\"at\":\"$STAMP\",/" "$WORK/query.jsonl"
  sed "s/^{/{\"kind\":\"browser\",\"at\":\"$STAMP\",/" "$WORK/browser.jsonl"
} >>"$CONSOLE_JSONL"

export ROOT WORK LOAD_BEFORE LOAD_AFTER RSS_KB DATA_BYTES CONSOLE_DAYS CONSOLE_RUNS CONSOLE_DURABILITY \
  CONSOLE_QUERY_RUNS CONSOLE_WEB_DIR BUILD LOOM_BIN
python3 - >"$WORK/section.md" <<'PYEOF'
import json, os, subprocess, datetime
W = os.environ["WORK"]
load = json.loads(open(f"{W}/load.json").read())
queries = [json.loads(l) for l in open(f"{W}/query.jsonl") if l.strip()]
browser = [json.loads(l) for l in open(f"{W}/browser.jsonl") if l.strip()]
summ = next((b["summary"] for b in browser if "summary" in b), {})
runs = [b for b in browser if "run" in b and not b.get("warmup") and "error" not in b]
def sh(*a):
    try: return subprocess.run(a, capture_output=True, text=True).stdout.strip()
    except OSError: return "?"
cpu = sh("sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
loom_v = sh(os.environ["LOOM_BIN"], "version")
head = sh("git", "-C", os.environ["ROOT"], "rev-parse", "--short", "HEAD")
node_v = sh("node", "--version")
R = os.environ["ROOT"]
pwp = f"{R}/tests/browser/node_modules/playwright-core/package.json"
pw = json.load(open(pwp)) if os.path.exists(pwp) else {}
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
def ms(v): return "—" if v is None else f"{v:,.0f} ms"
def kb(v): return "—" if v is None else f"{v / 1024:,.0f} KiB"
def mb(v): return "—" if v is None else f"{v / 1048576:,.1f} MiB"
def ok(v, goal): return "—" if v is None else ("yes" if v < goal else "**no**")
o = []
o.append("## Web console: load times in the browser")
o.append("")
o.append(f"Measured by `bench/console_run.sh` (`make bench-console`), finished {now}.")
o.append("")
o.append(f"- Machine: {cpu or '?'}, {os.cpu_count()} cores shared with other work; load average (1/5/15 min) "
         f"{os.environ['LOAD_BEFORE']} before the browser runs, {os.environ['LOAD_AFTER']} after.")
o.append(f"- Command: `CONSOLE_RUNS={os.environ['CONSOLE_RUNS']} CONSOLE_DAYS={os.environ['CONSOLE_DAYS']} "
         f"CONSOLE_QUERY_RUNS={os.environ['CONSOLE_QUERY_RUNS']} CONSOLE_DURABILITY={os.environ['CONSOLE_DURABILITY']} "
         f"BUILD={os.environ['BUILD']} bench/console_run.sh`"
         + (f" with `CONSOLE_WEB_DIR={os.environ['CONSOLE_WEB_DIR']}`" if os.environ.get("CONSOLE_WEB_DIR") else " (console embedded in the binary)"))
o.append(f"- Versions: Loom `{loom_v}` (tree HEAD {head or '?'}); Chromium {summ.get('chromium', '?')} (Debian, headless) "
         f"driven by playwright-core {pw.get('version', '?')}; node {node_v}; charts: uPlot from npm.")
o.append(f"- Data: one device, profile of 10 float keys, {os.environ['CONSOLE_DAYS']} days at 1 Hz ending at the start of "
         f"the run: {load['lines']:,} lines, {load['points']:,} points ({load['points'] // 10:,} per key), loaded in "
         f"{load['seconds']:.0f} s ({load['points_per_sec']:,.0f} points/s, durability {os.environ['CONSOLE_DURABILITY']}); "
         f"data directory {mb(int(os.environ['DATA_BYTES']))}; server RSS after the runs {mb(int(os.environ['RSS_KB']) * 1024)}. "
         "Loom is restarted after the load (history that old is in blocks with their stats).")
o.append("- No anchor system: ThingsBoard and Grafana are not Debian packages and nothing can be "
         "downloaded here, so the numbers are absolute, against the issue's goals (< 1 s).")
o.append("")
o.append(f"### Browser (median of {summ.get('runs', 0)} runs, each in a new browser context: cold HTTP cache; "
         "times in the page's clock from navigation start)")
o.append("")
o.append("| measurement | median (wall) | goal | met | renderer main-thread CPU | bytes transferred | JS heap |")
o.append("|---|---|---|---|---|---|---|")
o.append(f"| first load of `#/overview` (to the page's `data-ready`) | {ms(summ.get('overview_ms'))} | < 1 s | "
         f"{ok(summ.get('overview_ms'), 1000)} | {ms(summ.get('overview_cpu_ms'))} | {kb(summ.get('overview_bytes'))} in {summ.get('overview_requests')} requests | {mb(summ.get('overview_heap'))} |")
o.append(f"| device page, Charts tab, first load (10 charts of the default 1 h) | {ms(summ.get('device_1h_ms'))} | — | — | {ms(summ.get('device_1h_cpu_ms'))} | | |")
o.append(f"| then range → 90 days: ten 90-day charts drawn (to all ten charts' `data-ready`) | {ms(summ.get('device_90d_ms'))} | < 1 s | "
         f"{ok(summ.get('device_90d_ms'), 1000)} | {ms(summ.get('device_90d_cpu_ms'))} (script {ms(summ.get('device_90d_script_ms'))}) | {kb(summ.get('device_bytes'))} in {summ.get('device_requests')} requests (whole page) | {mb(summ.get('device_heap'))} |")
o.append(f"| cold start to ten 90-day charts (the two rows above) | {ms(summ.get('device_cold_90d_ms'))} | | | | | |")
o.append("")
o.append("Renderer main-thread CPU = the page's TaskDuration from Chromium's performance metrics, counted "
         "in thread CPU time (CDP `Performance.enable` with `threadTicks`): the work the page itself did "
         "(script, style, layout, paint) up to the same point; unlike the wall time it does not grow "
         "while other processes hold the cores.")
o.append("")
o.append(f"The 90-day redraw is {summ.get('telemetry_90d_requests', '?')} telemetry request(s) for the ten keys; "
         f"its answer took {ms(summ.get('telemetry_90d_ms'))} (request start to response end, Resource Timing) "
         f"and was {kb(summ.get('telemetry_90d_bytes'))} of JSON.")
o.append("")
o.append("Each run: " + "; ".join(
    f"overview {r.get('overview_ms')} ms, device 1 h {r.get('device_1h_ms')} ms, 90 d {r.get('device_90d_ms')} ms"
    for r in runs) + ".")
o.append("")
o.append(f"### Server: the device page's history request (`console_load query`, median of {os.environ['CONSOLE_QUERY_RUNS']} after one warm-up)")
o.append("")
o.append("GET /api/v1/devices/{id}/telemetry with keys = the ten keys, the 90-day range, agg=AVG, interval = ceil(range / width).")
o.append("")
o.append("| chart width (buckets) | all ten keys in one request | its answer | server CPU per request | one request per key, concurrently |")
o.append("|---|---|---|---|---|")
for q in queries:
    o.append(f"| {q['width']} px | {q['one_request_ms']:,.0f} ms | {q['one_request_bytes'] / 1024:,.0f} KiB | "
             f"{q.get('server_cpu_ms_per_request', 0):,.0f} ms | {q['per_key_parallel_ms']:,.0f} ms |")
o.append("")
o.append("Server CPU = utime + stime of the loom process during the request (the ten statements run on "
         "a query worker and a helper thread); it does not depend on the machine's other load, the wall times do.")
print("\n".join(o))
PYEOF
cat "$WORK/section.md"
python3 "$ROOT/bench/section.py" console-bench "$CONSOLE_OUT" "$WORK/section.md"
log "section written to $CONSOLE_OUT; raw lines appended to $CONSOLE_JSONL"
