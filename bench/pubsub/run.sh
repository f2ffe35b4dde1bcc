#!/usr/bin/env bash
# Pub/sub benchmark: micro-cpp's broker plugins vs the bare client libraries, one run.
#   bench/pubsub/run.sh [BUILD_DIR]        (default ./build; builds nothing)
# Env: N (default 200000) messages in the throughput pass, LAT_N (default 1000) in the latency
# pass, SIZE (default 128) bytes per message body, WINDOW (default 10000) messages in flight in
# the throughput pass (the latency pass uses 1), REPEAT (default 1) runs of each system per
# pass (the tables show the median), SYSTEMS (default: all) to pick rows, NATS_PLUGIN_BEFORE
# (a path to another build of micro-broker-nats.so: adds a row micro-nats-before loading it).
# nats-server is started on a free 127.0.0.1 port and killed on exit; Kafka runs against
# librdkafka's mock cluster inside each bench process. Every bench process is bounded (60 s).
# The mock cluster keeps at most 5 MiB per partition and drops older records (a consumer that
# falls further behind loses them), so for Kafka rows the window is capped to ~4 MiB of
# envelopes (no cap at the defaults; WINDOW 2749 for SIZE 1024).
set -euo pipefail
for tool in python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (apt-get install $tool)" >&2; exit 2; }
done

BUILD=${1:-./build}
BIN=$BUILD/bin/micro-bench-pubsub
N=${N:-200000}
LAT_N=${LAT_N:-1000}
SIZE=${SIZE:-128}
WINDOW=${WINDOW:-10000}
REPEAT=${REPEAT:-1}
SYSTEMS=${SYSTEMS:-"micro-nats nats micro-nats-client nats-envelope micro-kafka kafka micro-kafka-client kafka-envelope micro-memory micro-http"}
NATS_SERVER=${NATS_SERVER:-/usr/sbin/nats-server}
if [[ -n ${NATS_PLUGIN_BEFORE:-} ]]; then SYSTEMS="micro-nats-before $SYSTEMS"; fi

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
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'); load average:$(uptime | sed 's/.*load average://');" \
  "N=$N LAT_N=$LAT_N SIZE=$SIZE WINDOW=$WINDOW REPEAT=$REPEAT" >&2

# bench PASS N WINDOW SYSTEM: one process per system, bounded by timeout(1).
bench() {
  local pass=$1 n=$2 window=$3 sys=$4 line rc=0 extra=()
  if [[ $sys == micro-nats-before ]]; then
    extra=(--broker-use "$NATS_PLUGIN_BEFORE" --label micro-nats-before)
    sys=micro-nats
  fi
  line=$(timeout 60 "$BIN" --system "$sys" -n "$n" --size "$SIZE" --window "$window" \
           --nats "nats://127.0.0.1:$PORT" "${extra[@]}" 2>"$TMP/$sys.$pass.err") || rc=$?
  if [[ $rc == 0 && -n $line ]]; then
    echo "$line" >&2
    echo "{\"pass\":\"$pass\",\"r\":$line}" >>"$RESULTS"
  else
    echo "run.sh: $sys ($pass) failed with status $rc" >&2
    tail -5 "$TMP/$sys.$pass.err" >&2
  fi
}

KAFKA_WINDOW=$(( 4 * 1024 * 1024 / (SIZE * 4 / 3 + 160) ))
(( KAFKA_WINDOW > WINDOW )) && KAFKA_WINDOW=$WINDOW
(( KAFKA_WINDOW < 1 )) && KAFKA_WINDOW=1
for _ in $(seq 1 "$REPEAT"); do
  for sys in $SYSTEMS; do
    if [[ $sys == *kafka* ]]; then w=$KAFKA_WINDOW; else w=$WINDOW; fi
    bench throughput "$N" "$w" "$sys"
  done
done
for _ in $(seq 1 "$REPEAT"); do
  for sys in $SYSTEMS; do bench latency "$LAT_N" 1 "$sys"; done
done
ENVELOPE=$(timeout 60 "$BIN" --system envelope -n 200000 --size "$SIZE" || true)
echo "$ENVELOPE" >&2
echo "# done $(date -u '+%H:%M:%S UTC'); load average:$(uptime | sed 's/.*load average://')" >&2

python3 - "$RESULTS" "$ENVELOPE" <<'EOF'
import json, statistics, sys
groups = {}
order = []
for l in open(sys.argv[1]):
    if not l.strip():
        continue
    x = json.loads(l)
    key = (x["pass"], x["r"]["system"])
    if key not in groups:
        order.append(key)
    groups.setdefault(key, []).append(x["r"])
med = lambda rs, f: statistics.median(f(r) for r in rs)
by = {}
print("| pass | system | runs | messages | bytes | window | msgs/s | p50 ms | p99 ms | max ms | lost | dup |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for key in order:
    rs = groups[key]
    r = rs[0]
    m = {"msgs_per_s": med(rs, lambda r: r["msgs_per_s"]),
         "p50": med(rs, lambda r: r["latency_ms"]["p50"]),
         "p99": med(rs, lambda r: r["latency_ms"]["p99"]),
         "max": max(r["latency_ms"]["max"] for r in rs),
         "lost": sum(r["lost"] for r in rs), "dup": sum(r["duplicates"] for r in rs)}
    by[key] = m
    print(f"| {key[0]} | {key[1]} | {len(rs)} | {r['messages']} | {r['bytes']} | {r['window']} | "
          f"{m['msgs_per_s']:.0f} | {m['p50']:.3f} | {m['p99']:.3f} | {m['max']:.3f} | "
          f"{m['lost']} | {m['dup']} |")
print()
print("| ratio | throughput pass msgs/s | throughput pass p99 | latency pass p50 | latency pass p99 |")
print("|---|---:|---:|---:|---:|")
def ratio(pas, a, b, k):
    ra, rb = by.get((pas, a)), by.get((pas, b))
    if not ra or not rb or not rb[k]:
        return "n/a"
    return f"{ra[k] / rb[k]:.2f}"
for x, bare in [("micro-nats-before", "nats"), ("micro-nats", "nats"), ("micro-nats-client", "nats"),
                ("nats-envelope", "nats"), ("micro-nats", "nats-envelope"),
                ("micro-kafka-synccommit", "kafka"), ("micro-kafka", "kafka"),
                ("micro-kafka-client", "kafka"), ("kafka-envelope", "kafka"),
                ("micro-kafka", "kafka-envelope")]:
    if ("throughput", x) not in by and ("latency", x) not in by:
        continue
    print(f"| {x} / {bare} | {ratio('throughput', x, bare, 'msgs_per_s')} | "
          f"{ratio('throughput', x, bare, 'p99')} | {ratio('latency', x, bare, 'p50')} | "
          f"{ratio('latency', x, bare, 'p99')} |")
try:
    e = json.loads(sys.argv[2])
    print()
    print(f"Envelope codec alone, {e['bytes']}-byte body ({e['envelope_bytes']}-byte envelope), "
          f"ns per message: core to_envelope {e['core_encode_ns']:.0f}, from_envelope "
          f"{e['core_decode_ns']:.0f} (round trip: {str(e['round_trip']).lower()})")
except (ValueError, KeyError):
    pass
EOF
