#!/usr/bin/env bash
# Pub/sub benchmark: micro-cpp's broker plugins vs the bare client libraries, one run.
#   bench/pubsub/run.sh [BUILD_DIR]        (default ./build; builds nothing)
# Env: N (default 20000) messages in the throughput pass, LAT_N (default 1000) in the latency
# pass, SIZE (default 128) bytes per message body, WINDOW (default 1000) messages in flight in
# the throughput pass (the latency pass uses 1), SYSTEMS (default: all) to pick rows.
# nats-server is started on a free 127.0.0.1 port and killed on exit; Kafka runs against
# librdkafka's mock cluster inside each bench process.
set -euo pipefail

BUILD=${1:-./build}
BIN=$BUILD/bin/micro-bench-pubsub
N=${N:-20000}
LAT_N=${LAT_N:-1000}
SIZE=${SIZE:-128}
WINDOW=${WINDOW:-1000}
SYSTEMS=${SYSTEMS:-"micro-nats nats micro-nats-client micro-kafka kafka micro-kafka-client micro-memory micro-http"}
NATS_SERVER=${NATS_SERVER:-/usr/sbin/nats-server}

[[ -x $BIN ]] || { echo "run.sh: $BIN is missing; build micro-bench-pubsub first" >&2; exit 2; }
[[ -x $NATS_SERVER ]] || { echo "run.sh: $NATS_SERVER is missing" >&2; exit 2; }

TMP=$(mktemp -d)
NATS_PID=""
cleanup() {
  if [[ -n $NATS_PID ]]; then
    kill "$NATS_PID" 2>/dev/null || true
    wait "$NATS_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

export MICRO_LOG_LEVEL=warn

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$NATS_SERVER" -a 127.0.0.1 -p "$PORT" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
up=0
for _ in $(seq 1 100); do  # bounded: ~10 s
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
[[ $up == 1 ]] || { echo "run.sh: nats-server did not come up" >&2; cat "$TMP/nats.log" >&2; exit 1; }

RESULTS=$TMP/results
: >"$RESULTS"
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load:$(uptime | sed 's/.*load average://'); N=$N LAT_N=$LAT_N SIZE=$SIZE WINDOW=$WINDOW" >&2

# bench PASS N WINDOW SYSTEM: one process per system, bounded by timeout(1).
bench() {
  local pass=$1 n=$2 window=$3 sys=$4 line
  if line=$(timeout 60 "$BIN" --system "$sys" -n "$n" --size "$SIZE" --window "$window" \
              --nats "nats://127.0.0.1:$PORT" 2>"$TMP/$sys.$pass.err"); then
    echo "$line" >&2
    echo "{\"pass\":\"$pass\",\"r\":$line}" >>"$RESULTS"
  else
    echo "run.sh: $sys ($pass) failed:" >&2
    tail -5 "$TMP/$sys.$pass.err" >&2
  fi
}

for sys in $SYSTEMS; do bench throughput "$N" "$WINDOW" "$sys"; done
for sys in $SYSTEMS; do bench latency "$LAT_N" 1 "$sys"; done

python3 - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| pass | system | messages | bytes | window | msgs/s | p50 ms | p99 ms | max ms | lost | dup |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
by = {}
for x in rows:
    r = x["r"]; l = r["latency_ms"]
    by[(x["pass"], r["system"])] = r
    print(f"| {x['pass']} | {r['system']} | {r['messages']} | {r['bytes']} | {r['window']} | "
          f"{r['msgs_per_s']:.0f} | {l['p50']:.3f} | {l['p99']:.3f} | {l['max']:.3f} | "
          f"{r['lost']} | {r['duplicates']} |")
print()
print("| ratio (micro / bare) | throughput pass msgs/s | throughput pass p99 | latency pass p50 | latency pass p99 |")
print("|---|---:|---:|---:|---:|")
def ratio(pas, a, b, f):
    ra, rb = by.get((pas, a)), by.get((pas, b))
    if not ra or not rb: return "n/a"
    va, vb = f(ra), f(rb)
    return f"{va / vb:.2f}" if vb else "n/a"
for micro, bare in [("micro-nats", "nats"), ("micro-nats-client", "nats"),
                    ("micro-kafka", "kafka"), ("micro-kafka-client", "kafka")]:
    if ("throughput", micro) not in by and ("latency", micro) not in by: continue
    print(f"| {micro} / {bare} | {ratio('throughput', micro, bare, lambda r: r['msgs_per_s'])} | "
          f"{ratio('throughput', micro, bare, lambda r: r['latency_ms']['p99'])} | "
          f"{ratio('latency', micro, bare, lambda r: r['latency_ms']['p50'])} | "
          f"{ratio('latency', micro, bare, lambda r: r['latency_ms']['p99'])} |")
EOF
