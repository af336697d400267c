#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# MQTT side-by-side benchmark: mosquitto 2.0.11 and Loom (`loom serve --mqtt`,
# a unified-namespace rule so every bench topic is STORED, durable mode), one
# after the other in the same run, same scenarios (fan-in, fan-out, QoS 0/1,
# fixed-rate latency, idle connections), each on a freshly started broker,
# driven by bench/mqtt_load. Appends raw JSON lines to bench/RESULTS-mqtt.jsonl
# and writes the MQTT section of bench/RESULTS.md. Parameters: bench/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
BIN=$ROOT/$BUILD/bench
LOOM_BIN=${LOOM_BIN:-$ROOT/$BUILD/loom}
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}

if [ "${MQTT_QUICK:-0}" = 1 ]; then
  : "${MQTT_RUNS:=1}" "${MQTT_DURATION:=3}" "${MQTT_WARMUP:=1}" "${MQTT_IDLE:=2000}"
  : "${MQTT_OUT:=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loom-bench}/RESULTS-mqtt-quick.md}"
  : "${MQTT_JSONL:=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loom-bench}/RESULTS-mqtt-quick.jsonl}"
fi
MQTT_RUNS=${MQTT_RUNS:-3}
MQTT_DURATION=${MQTT_DURATION:-10}       # measured seconds per scenario run
MQTT_WARMUP=${MQTT_WARMUP:-2}            # unmeasured seconds before
MQTT_PUBS=${MQTT_PUBS:-100}              # fan-in publishers
MQTT_SUBS=${MQTT_SUBS:-100}              # fan-out subscribers
MQTT_WINDOW=${MQTT_WINDOW:-10}           # unacked QoS 1 PUBLISHes per publisher
MQTT_E2E=${MQTT_E2E:-"500 1000 2000 4000"} # max-rate scenarios: candidate end-to-end windows
                                         # (deliveries in flight); each broker gets its best loss-free one
MQTT_CAL_DURATION=${MQTT_CAL_DURATION:-3} # seconds per calibration run
MQTT_RATE=${MQTT_RATE:-10000}            # publishes/s of the fixed-rate (latency) scenarios
MQTT_IDLE=${MQTT_IDLE:-10000}            # idle connections
MQTT_CONNECT_RATE=${MQTT_CONNECT_RATE:-1000}
MQTT_SCENARIOS=${MQTT_SCENARIOS:-"fanin-q0 fanin-q1 fanout-q0 fanout-q1 latency-q0 latency-q1 idle"}
MQTT_SYSTEMS=${MQTT_SYSTEMS:-"mosquitto loom"}
MQTT_LOOM_STORE=${MQTT_LOOM_STORE:-1}    # 1: UNS rule, bench topics stored; 0: routed only
MQTT_DURABILITY=${MQTT_DURABILITY:-durable}
MQTT_MOSQ_NODELAY=${MQTT_MOSQ_NODELAY:-false} # mosquitto's set_tcp_nodelay (its default: false)
MQTT_INFLIGHT=${MQTT_INFLIGHT:-20}       # QoS 1 deliveries in flight per 3.1.1 subscriber, both brokers
MQTT_LOOM_EXTRA=${MQTT_LOOM_EXTRA:-}     # more loom serve options
MQTT_PERF=${MQTT_PERF:-0}                # 1: perf record -g of Loom during each scenario's last run
BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/loom-bench}
MQTT_OUT=${MQTT_OUT:-$ROOT/bench/RESULTS.md}
MQTT_JSONL=${MQTT_JSONL:-$ROOT/bench/RESULTS-mqtt.jsonl}
TOKEN=${LOOM_ADMIN_TOKEN:-bench-token-$$-$RANDOM}

[ -x "$BIN/mqtt_load" ] || { echo "mqtt bench: $BIN/mqtt_load missing (run make first)" >&2; exit 1; }
for s in $MQTT_SYSTEMS; do
  case $s in
    mosquitto) [ -x "$MOSQUITTO" ] || { echo "mqtt bench: $MOSQUITTO missing" >&2; exit 1; } ;;
    loom) [ -x "$LOOM_BIN" ] || { echo "mqtt bench: $LOOM_BIN missing (run make first)" >&2; exit 1; } ;;
    *) echo "mqtt bench: unknown system $s" >&2; exit 2 ;;
  esac
done
if [ $((MQTT_IDLE + 100)) -gt "$(ulimit -n)" ]; then
  ulimit -n $((MQTT_IDLE + 1000)) 2>/dev/null ||
    { echo "mqtt bench: open files limit $(ulimit -n) < MQTT_IDLE=$MQTT_IDLE" >&2; exit 1; }
fi

mkdir -p "$BENCH_CACHE"
WORK=$(mktemp -d /tmp/loom-mqtt-bench.XXXXXX)
RES=$WORK/results.jsonl
: > "$RES"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "mqtt bench: $*" >&2; }
record() { echo "$1" >> "$RES"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_tcp PORT SECONDS: until something accepts on 127.0.0.1:PORT
wait_tcp() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

wait_http() { # URL SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  return 1
}

SERVER_PID=""
MQTT_PORT=""
HTTP_PORT=""
WHY=""
# credentials and names the load generator uses (set per system)
LOAD_AUTH=()
LOOM_DB=""
LOOM_USER_TOKEN=""

stop_server() {
  local pid=$SERVER_PID i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && { log "server $pid did not stop in 60 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
  SERVER_PID=""
}

# mosquitto with the limits Loom's broker has by default (mqtt/broker.h):
# packets up to 1 MiB, 20 in flight per 3.1.1 subscriber. Its queue limits are
# off (0 = none; Loom: 1000 messages, 16 MiB per client): with any finite
# max_queued_messages (1000, 10,000, even 1,000,000) or max_queued_bytes,
# mosquitto 2.0.11 starts dropping QoS 1 deliveries to a busy subscriber that
# has far fewer messages really queued (the generator bounds them, see
# README): its counters drift upward with traffic.
start_mosquitto() { # DIR
  local dir=$1
  MQTT_PORT=$(free_port)
  mkdir -p "$dir"
  cat > "$dir/mosquitto.conf" <<EOF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
max_connections -1
max_packet_size 1048576
max_inflight_messages $MQTT_INFLIGHT
max_queued_messages 0
max_queued_bytes 0
set_tcp_nodelay $MQTT_MOSQ_NODELAY
log_dest stderr
log_type error
log_type warning
log_type notice
EOF
  "$MOSQUITTO" -c "$dir/mosquitto.conf" >> "$dir/server.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  LOAD_AUTH=()
  wait_tcp "$MQTT_PORT" 20 || { WHY="mosquitto did not listen: $(tail -c 200 "$dir/server.log" | tr -d '"\\\n')"; log "$WHY"; stop_server; return 1; }
}

api() { # METHOD PATH TOKEN [JSON] -> body on stdout; fails on non-2xx
  local m=$1 p=$2 t=$3 d=${4:-}
  if [ -n "$d" ]; then
    curl -fsS -X "$m" "http://127.0.0.1:$HTTP_PORT$p" -H "Authorization: Bearer $t" \
      -H 'Content-Type: application/json' -d "$d"
  else
    curl -fsS -X "$m" "http://127.0.0.1:$HTTP_PORT$p" -H "Authorization: Bearer $t"
  fi
}

# Loom: a tenant, its admin, an API token (the MQTT password) and, with
# MQTT_LOOM_STORE=1, the UNS rule that stores bench/<dev>/telemetry JSON
# payloads (every member a telemetry key) in the tenant's database.
start_loom() { # DIR
  local dir=$1 tenant tid pw="bench password $$" t api_tok
  MQTT_PORT=$(free_port); HTTP_PORT=$(free_port)
  mkdir -p "$dir"
  # shellcheck disable=SC2086 # MQTT_LOOM_EXTRA is a word list
  LOOM_ADMIN_TOKEN=$TOKEN "$LOOM_BIN" serve --data "$dir/data" --http "127.0.0.1:$HTTP_PORT" \
    --mqtt "127.0.0.1:$MQTT_PORT" --mqtt-max-inflight "$MQTT_INFLIGHT" $MQTT_LOOM_EXTRA --durability "$MQTT_DURABILITY" >> "$dir/server.log" 2>&1 &
  SERVER_PID=$!; PIDS+=("$SERVER_PID")
  if ! wait_http "http://127.0.0.1:$HTTP_PORT/ping" 30 || ! wait_tcp "$MQTT_PORT" 10; then
    WHY="loom serve --mqtt did not come up: $(tail -c 300 "$dir/server.log" | tr -d '"\\\n')"
    log "$WHY"; stop_server; return 1
  fi
  if ! tenant=$(api POST /api/v1/tenants "$TOKEN" '{"name":"MQTT bench"}') ||
     ! tid=$(echo "$tenant" | jq -re .id) || ! LOOM_DB=$(echo "$tenant" | jq -re .db_name) ||
     ! api POST /api/v1/users "$TOKEN" "{\"tenant_id\":\"$tid\",\"email\":\"bench@bench.example\",\"name\":\"Bench\",\"role\":\"tenant_admin\",\"password\":\"$pw\"}" > /dev/null ||
     ! t=$(curl -fsS -XPOST "http://127.0.0.1:$HTTP_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
             -d "{\"username\":\"bench@bench.example\",\"password\":\"$pw\"}" | jq -re .token) ||
     ! api_tok=$(api POST /api/v1/tokens "$t" '{"name":"mqtt-bench","scope":"write"}' | jq -re .token); then
    WHY="loom: tenant/user/token setup failed"; log "$WHY"; stop_server; return 1
  fi
  LOOM_USER_TOKEN=$t
  if [ "$MQTT_LOOM_STORE" = 1 ]; then
    if ! api POST /api/v1/mqtt/rules "$t" \
        '{"name":"bench","pattern":"bench/+dev/telemetry","device":"{dev}","profile":"bench"}' > /dev/null; then
      WHY="loom: POST /api/v1/mqtt/rules failed (is the UNS rules API in this build?)"; log "$WHY"; stop_server; return 1
    fi
  fi
  LOAD_AUTH=(--username bench --password "$api_tok")
}

start_system() { # SYSTEM DIR
  case $1 in
    mosquitto) start_mosquitto "$2" ;;
    loom) start_loom "$2" ;;
  esac
}

# Points Loom stored for the bench profile (count of the seq key), or "null".
loom_stored() {
  local i n prev=-1
  [ "$MQTT_LOOM_STORE" = 1 ] || { echo null; return; }
  # QoS 0 telemetry is stored asynchronously: wait until the count settles
  for ((i = 0; i < 20; i++)); do
    n=$(curl -fsS -G "http://127.0.0.1:$HTTP_PORT/query" -H "Authorization: Bearer $LOOM_USER_TOKEN" \
          --data-urlencode "db=$LOOM_DB" --data-urlencode 'q=SELECT count(seq) FROM bench' 2>/dev/null |
        jq -r '.results[0].series[0].values[0][1] // 0' 2>/dev/null) || n=""
    [ -n "$n" ] || { echo null; return; }
    [ "$n" = "$prev" ] && break
    prev=$n; sleep 0.5
  done
  echo "${n:-null}"
}

is_max_rate() { case $1 in fanin-* | fanout-*) return 0 ;; *) return 1 ;; esac; }

scenario_args() { # SCENARIO [E2E_WINDOW [DURATION WARMUP]] -> mqtt_load arguments
  local e2e=${2:-0} common="--warmup ${4:-$MQTT_WARMUP} --duration ${3:-$MQTT_DURATION} --window $MQTT_WINDOW --connect-rate $MQTT_CONNECT_RATE"
  case $1 in
    fanin-q0) echo "--mode fanin --pubs $MQTT_PUBS --qos 0 --e2e-window $e2e $common" ;;
    fanin-q1) echo "--mode fanin --pubs $MQTT_PUBS --qos 1 --e2e-window $e2e $common" ;;
    fanin-q1s0) echo "--mode fanin --pubs $MQTT_PUBS --qos 1 --sub-qos 0 --e2e-window $e2e $common" ;;
    fanout-q0) echo "--mode fanout --subs $MQTT_SUBS --qos 0 --e2e-window $e2e $common" ;;
    fanout-q1) echo "--mode fanout --subs $MQTT_SUBS --qos 1 --e2e-window $e2e $common" ;;
    latency-q0) echo "--mode fanin --pubs $MQTT_PUBS --qos 0 --rate $MQTT_RATE --e2e-window 0 $common" ;;
    latency-q1) echo "--mode fanin --pubs $MQTT_PUBS --qos 1 --rate $MQTT_RATE --e2e-window 0 $common" ;;
    idle) echo "--mode idle --conns $MQTT_IDLE --settle 3 --duration 1 --connect-rate $MQTT_CONNECT_RATE" ;;
    *) return 1 ;;
  esac
}

# calibrate SCENARIO SYSTEM: one short run per candidate window in MQTT_E2E on one
# fresh broker; sets CAL_BEST to the window with the highest msgs/s among those
# without loss or errors (the first candidate if every one lost messages). The
# runs are recorded with "calibration":true.
CAL_BEST=0
calibrate() {
  local sc=$1 sys=$2 dir=$WORK/cal-$sc-$sys w out best="" bestr=-1 r bad first=""
  for w in $MQTT_E2E; do [ -n "$first" ] || first=$w; done
  CAL_BEST=$first
  start_system "$sys" "$dir" || return 0
  for w in $MQTT_E2E; do
    # shellcheck disable=SC2046 # a word list by construction
    out=$("$BIN/mqtt_load" $(scenario_args "$sc" "$w" "$MQTT_CAL_DURATION" 1) --port "$MQTT_PORT" \
          --server-pid "$SERVER_PID" --label "$sys" "${LOAD_AUTH[@]}" 2>> "$dir.cal.err") || true
    [ -n "$out" ] || continue
    record "{\"run_id\":\"$RUN_ID\",\"scenario\":\"$sc\",\"system\":\"$sys\",\"calibration\":true,\"e2e\":$w,\"load\":$out}"
    r=$(echo "$out" | jq -r '.msgs_per_sec')
    bad=$(echo "$out" | jq -r '.lost + ([.errors[]] | add)')
    if [ "$bad" = 0 ] && awk -v a="$r" -v b="$bestr" 'BEGIN { exit !(a > b) }'; then
      best=$w; bestr=$r
    fi
  done
  stop_server
  rm -rf "$dir"
  CAL_BEST=${best:-$first}
}

if [ -n "${MQTT_REPORT_FROM:-}" ]; then
  # regenerate the report from raw lines (MQTT_REPORT_RUN = a run_id, default the last)
  cp "$MQTT_REPORT_FROM" "$RES"
  REPORT_RUN=${MQTT_REPORT_RUN:-}
else
T0=$(date +%s)
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)
CMDLINE="MQTT_RUNS=$MQTT_RUNS MQTT_DURATION=$MQTT_DURATION MQTT_WARMUP=$MQTT_WARMUP MQTT_PUBS=$MQTT_PUBS MQTT_SUBS=$MQTT_SUBS MQTT_WINDOW=$MQTT_WINDOW MQTT_E2E=\"$MQTT_E2E\" MQTT_CAL_DURATION=$MQTT_CAL_DURATION MQTT_RATE=$MQTT_RATE MQTT_IDLE=$MQTT_IDLE MQTT_LOOM_STORE=$MQTT_LOOM_STORE MQTT_DURABILITY=$MQTT_DURABILITY MQTT_MOSQ_NODELAY=$MQTT_MOSQ_NODELAY MQTT_INFLIGHT=$MQTT_INFLIGHT${MQTT_LOOM_EXTRA:+ MQTT_LOOM_EXTRA=\"$MQTT_LOOM_EXTRA\"} BUILD=$BUILD bench/mqtt_run.sh"
LOOM_VERSION=$("$LOOM_BIN" --version 2>/dev/null | head -1 || true)
LOOM_MTIME=$(date -u -r "$LOOM_BIN" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?')
record "$(jq -cn --arg id "$RUN_ID" --arg cmd "$CMDLINE" --arg la "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --arg lv "$LOOM_VERSION" --arg lm "$LOOM_MTIME" --arg head "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  --argjson t0 "$T0" --arg store "$MQTT_LOOM_STORE" --arg dur "$MQTT_DURABILITY" --arg nd "$MQTT_MOSQ_NODELAY" \
  --arg rate "$MQTT_RATE" --arg infl "$MQTT_INFLIGHT" --arg e2e "$MQTT_E2E" --arg win "$MQTT_WINDOW" \
  '{run_id:$id, meta:{cmdline:$cmd, t0:$t0, loadavg_start:$la, loom_version:$lv, loom_mtime:$lm, head:$head,
    loom_store:$store, durability:$dur, mosq_nodelay:$nd, rate:$rate, inflight:$infl, e2e:$e2e, window:$win}}')"
for sc in $MQTT_SCENARIOS; do
  scenario_args "$sc" > /dev/null || { log "unknown scenario $sc"; exit 2; }
  declare -A E2E_OF=()
  for sys in $MQTT_SYSTEMS; do
    E2E_OF[$sys]=0
    if is_max_rate "$sc"; then
      calibrate "$sc" "$sys"
      E2E_OF[$sys]=$CAL_BEST
      log "$sc: $sys end-to-end window ${E2E_OF[$sys]}"
    fi
  done
  for ((run = 1; run <= MQTT_RUNS; run++)); do
    for sys in $MQTT_SYSTEMS; do
      args=$(scenario_args "$sc" "${E2E_OF[$sys]}")
      dir=$WORK/$sc-$sys-$run
      log "$sc: $sys run $run/$MQTT_RUNS"
      if ! start_system "$sys" "$dir"; then
        record "{\"run_id\":\"$RUN_ID\",\"scenario\":\"$sc\",\"system\":\"$sys\",\"run\":$run,\"not_run\":\"$WHY\"}"
        continue
      fi
      perf_pid=""
      if [ "$MQTT_PERF" = 1 ] && [ "$sys" = loom ] && [ "$run" = "$MQTT_RUNS" ] && [ "$sc" != idle ]; then
        # DWARF unwinding: Loom is built without frame pointers
        perf record --call-graph dwarf,8192 -F 250 -o "$BENCH_CACHE/perf-mqtt-$sc.data" \
          -p "$SERVER_PID" 2> /dev/null > /dev/null &
        perf_pid=$!; PIDS+=("$perf_pid")
      fi
      # shellcheck disable=SC2086 # args is a word list by construction
      if out=$("$BIN/mqtt_load" $args --port "$MQTT_PORT" --server-pid "$SERVER_PID" \
               --label "$sys" "${LOAD_AUTH[@]}" 2> "$dir/load.err"); then ok=true; else ok=false; fi
      if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true; wait "$perf_pid" 2>/dev/null || true
        { echo "# inclusive (children), Loom's own and library frames"
          perf report -i "$BENCH_CACHE/perf-mqtt-$sc.data" --children --stdio -g none --percent-limit 2 2>/dev/null |
            grep -E '^ +[0-9]' | grep -v -E 'kernel|unknown' | head -60
          echo "# self"
          perf report -i "$BENCH_CACHE/perf-mqtt-$sc.data" --no-children --stdio -g none --percent-limit 0.5 2>/dev/null |
            grep -E '^ +[0-9]' | head -40
        } > "$BENCH_CACHE/perf-mqtt-$sc.txt" || true
      fi
      stored=null
      [ "$sys" = loom ] && [ "$sc" != idle ] && stored=$(loom_stored)
      dropped=$(grep -c "are being dropped" "$dir/server.log" 2>/dev/null || true)
      if [ -z "$out" ]; then
        record "{\"run_id\":\"$RUN_ID\",\"scenario\":\"$sc\",\"system\":\"$sys\",\"run\":$run,\"not_run\":\"mqtt_load printed nothing: $(tail -c 200 "$dir/load.err" | tr -d '"\\\n')\"}"
      else
        record "{\"run_id\":\"$RUN_ID\",\"scenario\":\"$sc\",\"system\":\"$sys\",\"run\":$run,\"e2e\":${E2E_OF[$sys]},\"ok\":$ok,\"stored\":$stored,\"server_drop_notices\":${dropped:-0},\"load\":$out}"
      fi
      $ok || log "$sc: $sys run $run: mqtt_load reported errors: $out"
      stop_server
      rm -rf "$dir"
    done
  done
done
T1=$(date +%s)
record "$(jq -cn --arg id "$RUN_ID" --argjson t1 "$T1" --arg la "$(cut -d' ' -f1-3 /proc/loadavg)" \
  '{run_id:$id, meta_end:{t1:$t1, loadavg_end:$la}}')"
cat "$RES" >> "$MQTT_JSONL"
REPORT_RUN=$RUN_ID
fi # not MQTT_REPORT_FROM

# ---- report ----------------------------------------------------------------------
python3 - "$RES" "$REPORT_RUN" > "$WORK/section.md" <<'PYEOF'
import json, os, statistics, subprocess, sys, time

allrows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = sys.argv[2] or (allrows[-1]["run_id"] if allrows else "")
rows = [r for r in allrows if r.get("run_id") == want]
meta, meta_end = {}, {}
for r in rows:
    meta.update(r.get("meta", {}))
    meta_end.update(r.get("meta_end", {}))
cal = [r for r in rows if r.get("calibration")]
rows = [r for r in rows if "scenario" in r and not r.get("calibration")]
SYS = ["mosquitto", "loom"]
NAMES = {
    "fanin-q0": "fan-in, QoS 0, max rate", "fanin-q1": "fan-in, QoS 1, max rate",
    "fanin-q1s0": "fan-in, QoS 1 publish / QoS 0 subscriber, max rate",
    "fanout-q0": "fan-out, QoS 0, max rate", "fanout-q1": "fan-out, QoS 1, max rate",
    "latency-q0": "fan-in, QoS 0, fixed rate", "latency-q1": "fan-in, QoS 1, fixed rate",
    "idle": "idle connections",
}

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        return ""

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def f(x, nd=0):
    if x is None:
        return "—"
    return f"{x:,.{nd}f}"

def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"

scen = []
for r in rows:
    if r["scenario"] not in scen:
        scen.append(r["scenario"])
by = {}
for r in rows:
    by.setdefault((r["scenario"], r["system"]), []).append(r)

out = []
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
t0, t1 = int(meta.get("t0", 0)), int(meta_end.get("t1", 0))
store = meta.get("loom_store") == "1"
out.append("## MQTT broker: Loom vs mosquitto 2.0.11")
out.append("")
out.append(f"Measured by `bench/mqtt_run.sh`, finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t1))}, "
           f"wall time {(t1 - t0) / 60:.1f} min.")
out.append("")
out.append(f"- Machine: {cpu}, {os.cpu_count()} cores shared by the load generator and the broker; "
           f"load average (1/5/15 min) {meta.get('loadavg_start', '?')} at the start, "
           f"{meta_end.get('loadavg_end', '?')} at the end (anything above ~1 at the start is other work: "
           "numbers are then noisy).")
out.append(f"- Command: `{meta.get('cmdline', '')}`")
mv = sh(["/usr/sbin/mosquitto", "-h"]).splitlines()
out.append(f"- Versions: {mv[0] if mv else 'mosquitto ?'}; Loom `{meta.get('loom_version') or '?'}` "
           f"(binary modified {meta.get('loom_mtime', '?')}; tree HEAD {meta.get('head', '?')} at the start).")
out.append(f"- Loom: `loom serve --mqtt`, durability `{meta.get('durability')}`; "
           + ("a unified-namespace rule (`bench/+dev/telemetry` → device `{dev}`, profile `bench`) stores every "
              "published message (7 keys each) in the tenant's database; QoS 1 PUBACK only after the WAL fsync."
              if store else "**no storage rule: messages are routed, not stored** (MQTT_LOOM_STORE=0)."))
out.append(f"- mosquitto: persistence off, anonymous, `max_inflight_messages {meta.get('inflight', '20')}` "
           f"(Loom: `--mqtt-max-inflight {meta.get('inflight', '20')}`), "
           f"`max_packet_size 1 MiB` (Loom's defaults), `max_queued_messages 0`, `max_queued_bytes 0` "
           f"(no queue limits: 2.0.11's counters drift, see bench/README.md), "
           f"`set_tcp_nodelay {meta.get('mosq_nodelay')}`.")
out.append(f"- Load: `mqtt_load`, MQTT 3.1.1, JSON payloads of ~110 bytes carrying the send time. Max-rate scenarios keep at "
           f"most `window` deliveries in flight end to end (each broker at its best loss-free window of {meta.get('e2e')}, "
           f"see the calibration table; and {meta.get('window')} "
           f"unacknowledged QoS 1 PUBLISHes per publisher); fixed-rate scenarios publish {int(meta.get('rate', '0')):,} "
           "msgs/s in total, each stamped with its scheduled time. msgs/s = deliveries received by subscribers in the "
           "measured window / its length; server CPU = utime+stime of the broker process over the window / deliveries; "
           "idle bytes/conn = (VmRSS with N connections − VmRSS before) / N. Medians over runs, each on a fresh broker.")
out.append("")

out.append("| scenario | system | window | runs | msgs/s (min–max) | server CPU µs/msg | busiest thread CPU % | p50 ms | p99 ms | max ms | lost | stored / sent | client CPU s |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
ratios = []
for sc in scen:
    if sc == "idle":
        continue
    vals = {}
    for s in SYS:
        rs = [r for r in by.get((sc, s), []) if "load" in r]
        nr = [r for r in by.get((sc, s), []) if "not_run" in r]
        if not rs:
            if nr:
                out.append(f"| {NAMES.get(sc, sc)} | {s} | — | 0 | not run: {nr[0]['not_run'][:120]} |||||||| ")
            continue
        L = [r["load"] for r in rs]
        rates = [l["msgs_per_sec"] for l in L]
        v = dict(
            rng=f" ({min(rates):,.0f}–{max(rates):,.0f})" if len(rates) > 1 else "",
            rate=med(rates),
            cpu=med([l.get("server_cpu_us_per_msg") for l in L]),
            p50=med([l["latency_us"]["p50"] / 1e3 for l in L]),
            p99=med([l["latency_us"]["p99"] / 1e3 for l in L]),
            mx=med([l["latency_us"]["max"] / 1e3 for l in L]),
            lost=sum(l["lost"] for l in L),
            ccpu=med([l["client_cpu_s"] for l in L]),
            thr=med([100.0 * l["server_top_thread_cpu_s"][0] / l["duration_s"]
                     for l in L if l.get("server_top_thread_cpu_s") and l.get("duration_s")]),
            win=rs[0].get("e2e"),
        )
        st = [r.get("stored") for r in rs]
        sent = sum(l["sent"] for l in L)
        stored = "—"
        if s == "loom" and all(isinstance(x, int) for x in st):
            stored = f"{sum(st):,} / {sent:,}"
        errs = sum(sum(l["errors"].values()) for l in L)
        bad = "" if all(r.get("ok") for r in rs) and not errs else " (errors)"
        vals[s] = v
        win = f"{v['win']:,}" if v["win"] else "—"
        out.append(f"| {NAMES.get(sc, sc)} | {s}{bad} | {win} | {len(rs)} | {f(v['rate'])}{v['rng']} | {f(v['cpu'], 2)} | {f(v['thr'])} | {f(v['p50'], 2)} | "
                   f"{f(v['p99'], 2)} | {f(v['mx'], 1)} | {v['lost']:,} | {stored} | {f(v['ccpu'], 2)} |")
    if "loom" in vals and "mosquitto" in vals:
        a, b = vals["loom"], vals["mosquitto"]
        ratios.append(f"| {NAMES.get(sc, sc)} | {ratio(a['rate'], b['rate'])} | {ratio(a['cpu'], b['cpu'])} | "
                      f"{ratio(a['p99'], b['p99'])} | — |")
out.append("")
if any(sc == "idle" for sc in scen):
    out.append("| idle connections | system | runs | connected | bytes/conn (RSS) | errors |")
    out.append("|---|---|---|---|---|---|")
    idle = {}
    for s in SYS:
        rs = [r for r in by.get(("idle", s), []) if "load" in r]
        if not rs:
            continue
        L = [r["load"] for r in rs]
        b = med([l.get("server_bytes_per_conn") for l in L])
        idle[s] = b
        errs = sum(sum(l["errors"].values()) for l in L)
        out.append(f"| {L[0]['conns']:,} | {s} | {len(rs)} | {min(l['connected'] for l in L):,} | {f(b)} | {errs} |")
    if "loom" in idle and "mosquitto" in idle:
        ratios.append(f"| idle connections (bytes/conn) | — | — | — | {ratio(idle['loom'], idle['mosquitto'])} |")
    out.append("")
if cal:
    out.append("Window calibration (max-rate scenarios): one short run per end-to-end window on one fresh "
               "broker; each broker is measured at its best window without loss (msgs/s, lost deliveries):")
    out.append("")
    out.append("| scenario | system | " + " | ".join(f"window {w:,}" for w in sorted({r["e2e"] for r in cal})) + " |")
    ws = sorted({r["e2e"] for r in cal})
    out.append("|---|---|" + "---|" * len(ws))
    for sc in scen:
        for s in SYS:
            cr = {r["e2e"]: r["load"] for r in cal if r["scenario"] == sc and r["system"] == s}
            if not cr:
                continue
            cells = []
            for w in ws:
                l = cr.get(w)
                cells.append("—" if l is None else f"{l['msgs_per_sec']:,.0f}" + (f" ({l['lost']:,} lost)" if l["lost"] else ""))
            out.append(f"| {NAMES.get(sc, sc)} | {s} | " + " | ".join(cells) + " |")
    out.append("")
if ratios:
    out.append("Ratios, Loom / mosquitto (goals: msgs/s ≥ 1.5, CPU/msg ≤ 1, p99 at fixed load ≤ 1, idle ≤ 1.5 KiB/conn):")
    out.append("")
    out.append("| scenario | msgs/s | server CPU/msg | p99 | idle bytes/conn |")
    out.append("|---|---|---|---|---|")
    out += ratios
    out.append("")
    out.append("p99 compares like for like only in the fixed-rate rows; at max rate latency is the "
               "end-to-end window divided by the throughput.")
    out.append("")
print("\n".join(out))
PYEOF
cat "$WORK/section.md"
# replace (or append) the marked MQTT section of the report
python3 "$ROOT/bench/section.py" mqtt-bench "$MQTT_OUT" "$WORK/section.md"
log "report section written to $MQTT_OUT; raw lines appended to $MQTT_JSONL"
