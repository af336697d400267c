#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Side-by-side benchmark harness (called by `make bench`): TSBS iot and cpu-only
# data loaded into InfluxDB 1.6, VictoriaMetrics and Loom (durable and batched),
# measuring ingest rate, client CPU, server RSS, bytes on disk per point and
# TSBS query latencies, plus an answer check of Loom against InfluxDB. Builds
# nothing (make does). Every server it starts is stopped on exit, also on failure.
# Parameters (environment): see bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
BIN=$ROOT/$BUILD/bench
LOOM_BIN=${LOOM_BIN:-$ROOT/$BUILD/loom}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  : "${BENCH_SCALE:=100}" "${BENCH_HOURS:=2}" "${BENCH_RUNS:=1}" "${BENCH_CPU_SCALE:=100}"
  : "${BENCH_CPU_HOURS:=2}" "${BENCH_QUERIES:=3}" "${BENCH_HEAVY_QUERIES:=1}"
  : "${BENCH_OUT:=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loom-bench}/RESULTS-quick.md}"
fi
BENCH_SCALE=${BENCH_SCALE:-4000}        # iot trucks
BENCH_HOURS=${BENCH_HOURS:-1}           # iot time range
BENCH_CPU_SCALE=${BENCH_CPU_SCALE:-4000} # cpu-only hosts (4000 = the "lastpoint at 4,000 devices" goal)
BENCH_CPU_HOURS=${BENCH_CPU_HOURS:-2}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_WORKERS=${BENCH_WORKERS:-2}
BENCH_BATCH=${BENCH_BATCH:-10000}
BENCH_QUERIES=${BENCH_QUERIES:-10}
BENCH_HEAVY_QUERIES=${BENCH_HEAVY_QUERIES:-3}
BENCH_SEED=${BENCH_SEED:-1}
BENCH_USE_CASES=${BENCH_USE_CASES:-"iot cpu-only"}
BENCH_SYSTEMS=${BENCH_SYSTEMS:-"influxdb victoriametrics loom-durable loom-batched"}
BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loom-bench}
BENCH_OUT=${BENCH_OUT:-$ROOT/bench/RESULTS.md}
TOKEN=${LOOM_ADMIN_TOKEN:-bench-token-$$}
START=2016-01-01T00:00:00Z

for b in tsbs_gen lp_load q_run; do
  [ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing (run make first)" >&2; exit 1; }
done
command -v influxd >/dev/null || { echo "bench: influxd missing (scripts/deps.sh bench)" >&2; exit 1; }
command -v victoria-metrics >/dev/null || { echo "bench: victoria-metrics missing" >&2; exit 1; }

mkdir -p "$BENCH_CACHE"
WORK=$(mktemp -d /tmp/loom-bench.XXXXXX)
RES=$WORK/results.jsonl
: > "$RES"
PIDS=()      # servers and samplers we started
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

end_time() { date -u -d "$START + $1 hours" +%Y-%m-%dT%H:%M:%SZ; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: until the URL answers 2xx
wait_http() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -sf -o /dev/null -H "Authorization: Token $TOKEN" "$1" && return 0
    sleep 0.1
  done
  return 1
}

SERVER_PID=""
SERVER_PORT=""
WHY=""       # why the last start failed, for the report
# stop_server: SIGTERM, wait up to 120 s for a graceful exit, then SIGKILL
stop_server() {
  local pid=$SERVER_PID i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 1200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "server $pid did not stop in 120 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  SERVER_PID=""
}

start_influxdb() { # DIR
  local dir=$1 port bport
  port=$(free_port); bport=$(free_port)
  mkdir -p "$dir"
  cat > "$dir.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$bport"
[meta]
  dir = "$dir/meta"
  logging-enabled = false
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "5s"
  max-series-per-database = 0
  max-values-per-tag = 0
[coordinator]
  write-timeout = "120s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
  max-body-size = 0
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
EOF
  influxd -config "$dir.conf" >> "$dir.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID"); SERVER_PORT=$port
  wait_http "http://127.0.0.1:$port/ping" 30 || { log "influxd did not start"; tail "$dir.log" >&2; return 1; }
  curl -sf -XPOST "http://127.0.0.1:$port/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null
}

start_victoriametrics() { # DIR
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  victoria-metrics -storageDataPath "$dir" -httpListenAddr "127.0.0.1:$port" \
    -retentionPeriod 100y -search.disableCache -loggerLevel WARN >> "$dir.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID"); SERVER_PORT=$port
  wait_http "http://127.0.0.1:$port/health" 30 || { log "victoria-metrics did not start"; tail "$dir.log" >&2; return 1; }
}

start_loom() { # DIR MODE
  local dir=$1 mode=$2 port
  [ -x "$LOOM_BIN" ] || { WHY="$LOOM_BIN is not built"; log "$WHY"; return 1; }
  port=$(free_port)
  mkdir -p "$dir"
  LOOM_ADMIN_TOKEN=$TOKEN "$LOOM_BIN" serve --data "$dir" --http "127.0.0.1:$port" \
    --durability "$mode" --mqtt off >> "$dir.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID"); SERVER_PORT=$port
  if ! wait_http "http://127.0.0.1:$port/ping" 30; then
    WHY="loom serve did not answer /ping within 30 s: $(tail -c 200 "$dir.log" 2>/dev/null | tr -d '"\\\n')"
    log "$WHY"; stop_server; return 1
  fi
  curl -sf -XPOST -H "Authorization: Token $TOKEN" "http://127.0.0.1:$port/query" \
    --data-urlencode 'q=CREATE DATABASE bench' >/dev/null || { WHY="loom: CREATE DATABASE failed"; log "$WHY"; stop_server; return 1; }
}

start_system() { # SYSTEM DIR
  case $1 in
    influxdb) start_influxdb "$2" ;;
    victoriametrics) start_victoriametrics "$2" ;;
    loom-durable) start_loom "$2" durable ;;
    loom-batched) start_loom "$2" batched ;;
  esac
}

# RSS sampler: VmRSS (kB) of PID every 100 ms into FILE, no forks per sample
sample_rss() {
  local pid=$1 out=$2 k v rest
  while [ -r "/proc/$pid/status" ]; do
    while read -r k v rest; do
      [ "$k" = VmRSS: ] && echo "$v" && break
    done < "/proc/$pid/status" >> "$out" 2>/dev/null || break
    sleep 0.1
  done
}

# bring data to rest before measuring bytes on disk
settle_system() { # SYSTEM DIR
  local i wal
  case $1 in
    influxdb)
      # the cache is snapshotted to TSM after 5 s without writes; wait until the WAL is gone
      for ((i = 0; i < 120; i++)); do
        sleep 1
        wal=$(du -sb "$2/wal" 2>/dev/null | cut -f1)
        [ "${wal:-0}" -lt 1048576 ] && [ "$i" -ge 10 ] && break
      done
      sleep 5 ;;
    victoriametrics)
      curl -sf "http://127.0.0.1:$SERVER_PORT/internal/force_flush" >/dev/null || true
      sleep 15 ;;
    loom-*)
      # a graceful stop flushes the head; a partition no flush touched for 30 s is
      # then merged into one segment: restart and wait for that, as for the others' merges
      stop_server
      local mode=${1#loom-}
      if start_loom "$2" "$mode"; then
        for ((i = 0; i < 90; i++)); do
          sleep 1
          curl -sf -H "Authorization: Token $TOKEN" "http://127.0.0.1:$SERVER_PORT/metrics" |
            grep -q '^loom_partitions_unmerged 0$' && break
        done
        stop_server
      fi ;;
  esac
}

record() { echo "$1" >> "$RES"; }

gen_data() { # USE_CASE SCALE HOURS -> path
  local uc=$1 scale=$2 hours=$3 end f
  end=$(end_time "$hours")
  f=$BENCH_CACHE/$uc-s$scale-h$hours-seed$BENCH_SEED.lp
  if [ ! -s "$f" ] || [ ! -e "$f.done" ]; then
    log "generating $f"
    rm -f "$f.done"
    "$BIN/tsbs_gen" --use-case "$uc" --scale "$scale" --timestamp-start "$START" \
      --timestamp-end "$end" --log-interval 10s --seed "$BENCH_SEED" --out "$f" 2> "$f.summary"
    touch "$f.done"
  fi
  echo "$f"
}

bench_use_case() { # USE_CASE SCALE HOURS
  local uc=$1 scale=$2 hours=$3 data end qi qp sys run dir load rssf pk md disk pts
  data=$(gen_data "$uc" "$scale" "$hours")
  end=$(end_time "$hours")
  qi=$WORK/$uc.influxql; qp=$WORK/$uc.promql
  "$BIN/q_run" gen --use-case "$uc" --scale "$scale" --timestamp-start "$START" \
    --timestamp-end "$end" --queries "$BENCH_QUERIES" --heavy-queries "$BENCH_HEAVY_QUERIES" \
    --seed "$BENCH_SEED" --out-influxql "$qi" --out-promql "$qp"
  cp "$qi" "$BENCH_CACHE/$uc.influxql"; cp "$qp" "$BENCH_CACHE/$uc.promql"
  for sys in $BENCH_SYSTEMS; do
    for ((run = 1; run <= BENCH_RUNS; run++)); do
      dir=$WORK/$uc-$sys-$run
      log "$uc: $sys run $run/$BENCH_RUNS"
      WHY="server did not start"
      if ! start_system "$sys" "$dir"; then
        record "{\"use_case\":\"$uc\",\"system\":\"$sys\",\"not_run\":\"$WHY\"}"
        break
      fi
      rssf=$dir.rss; : > "$rssf"
      sample_rss "$SERVER_PID" "$rssf" &
      local sampler=$!; PIDS+=("$sampler")
      if ! load=$("$BIN/lp_load" --file "$data" --batch "$BENCH_BATCH" --workers "$BENCH_WORKERS" \
          --url "http://127.0.0.1:$SERVER_PORT/write?db=bench" --header "Authorization: Token $TOKEN"); then
        kill "$sampler" 2>/dev/null || true
        stop_server
        record "{\"use_case\":\"$uc\",\"system\":\"$sys\",\"not_run\":\"load failed (lp_load exit status)\"}"
        break
      fi
      kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
      pk=$(sort -n "$rssf" | tail -1); md=$(sort -n "$rssf" | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}')
      record "{\"use_case\":\"$uc\",\"system\":\"$sys\",\"run\":$run,\"load\":$load,\"rss_peak_kb\":${pk:-0},\"rss_median_kb\":${md:-0}}"
      if [ "$run" -lt "$BENCH_RUNS" ]; then
        stop_server; rm -rf "$dir"; continue
      fi
      # last run: bytes on disk, then queries
      settle_system "$sys" "$dir"
      disk=$(du -sb "$dir" | cut -f1)
      pts=$(echo "$load" | python3 -c 'import json,sys; print(json.load(sys.stdin)["points"])')
      record "{\"use_case\":\"$uc\",\"system\":\"$sys\",\"disk_bytes\":$disk,\"points\":$pts}"
      if [ -z "$SERVER_PID" ]; then
        start_system "$sys" "$dir" || { record "{\"use_case\":\"$uc\",\"system\":\"$sys\",\"query_not_run\":\"restart failed\"}"; continue; }
      fi
      log "$uc: $sys queries"
      local qf=$qi url="http://127.0.0.1:$SERVER_PORT/query"
      [ "$sys" = victoriametrics ] && qf=$qp && url="http://127.0.0.1:$SERVER_PORT"
      "$BIN/q_run" run --file "$qf" --url "$url" --db bench --system "$sys" \
        --header "Authorization: Token $TOKEN" | sed "s/^{/{\"use_case\":\"$uc\",\"query\":1,/" >> "$RES" || true
      stop_server
      case $sys in influxdb | loom-durable) ;; *) rm -rf "$dir" ;; esac
    done
  done
  # answer check: Loom (durable) against InfluxDB on the same data
  if [ -d "$WORK/$uc-influxdb-$BENCH_RUNS" ] && [ -d "$WORK/$uc-loom-durable-$BENCH_RUNS" ]; then
    log "$uc: answer check loom-durable vs influxdb"
    local ip ipid
    if start_influxdb "$WORK/$uc-influxdb-$BENCH_RUNS"; then
      ip=$SERVER_PORT; ipid=$SERVER_PID; SERVER_PID=""
      if start_loom "$WORK/$uc-loom-durable-$BENCH_RUNS" durable; then
        "$BIN/q_run" compare --file "$qi" --url "http://127.0.0.1:$SERVER_PORT/query" \
          --url-b "http://127.0.0.1:$ip/query" --db bench --header "Authorization: Token $TOKEN" \
          | sed "s/^{/{\"use_case\":\"$uc\",\"compare\":1,/" >> "$RES" || true
        stop_server
      else
        record "{\"use_case\":\"$uc\",\"compare_not_run\":\"loom did not restart on its data\"}"
      fi
      SERVER_PID=$ipid; stop_server
    else
      record "{\"use_case\":\"$uc\",\"compare_not_run\":\"influxdb did not restart on its data\"}"
    fi
  else
    record "{\"use_case\":\"$uc\",\"compare_not_run\":\"needs both influxdb and loom-durable runs\"}"
  fi
  rm -rf "$WORK/$uc-influxdb-$BENCH_RUNS" "$WORK/$uc-loom-durable-$BENCH_RUNS"
}

T0=$(date +%s)
for uc in $BENCH_USE_CASES; do
  case $uc in
    iot) bench_use_case iot "$BENCH_SCALE" "$BENCH_HOURS" ;;
    cpu-only) bench_use_case cpu-only "$BENCH_CPU_SCALE" "$BENCH_CPU_HOURS" ;;
    *) log "unknown use case $uc"; exit 2 ;;
  esac
done
T1=$(date +%s)

# ---- report --------------------------------------------------------------------
CMDLINE="BENCH_QUICK=${BENCH_QUICK:-0} BENCH_SCALE=$BENCH_SCALE BENCH_HOURS=$BENCH_HOURS BENCH_CPU_SCALE=$BENCH_CPU_SCALE BENCH_CPU_HOURS=$BENCH_CPU_HOURS BENCH_RUNS=$BENCH_RUNS BENCH_WORKERS=$BENCH_WORKERS BENCH_BATCH=$BENCH_BATCH BENCH_QUERIES=$BENCH_QUERIES BENCH_HEAVY_QUERIES=$BENCH_HEAVY_QUERIES BENCH_SEED=$BENCH_SEED BUILD=$BUILD bench/run.sh"
export CMDLINE T0 T1 BENCH_CACHE LOOM_BIN
python3 "$ROOT/bench/report.py" "$RES" > "$WORK/report.md"
cat "$WORK/report.md"
# keep the MQTT and console sections (bench/mqtt_run.sh and bench/console_run.sh write them
# between their markers)
python3 - "$WORK/report.md" "$BENCH_OUT" <<'PYEOF'
import os, sys
new, out = open(sys.argv[1]).read().rstrip("\n"), sys.argv[2]
old = open(out).read() if os.path.exists(out) else ""
for name in ("mqtt-bench", "console-bench"):
    B, E = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if B in old and E in old:
        new += "\n\n" + old[old.index(B):old.index(E) + len(E)]
open(out, "w").write(new + "\n")
PYEOF
cp "$RES" "$BENCH_CACHE/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
log "report written to $BENCH_OUT"
