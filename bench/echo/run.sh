#!/usr/bin/env bash
# Echo benchmark: micro-cpp (transport-http and transport-zmq) vs gRPC C++ vs bare Boost.Beast
# and bare ZeroMQ, unary, one machine.
#   bench/echo/run.sh [BUILD_DIR]        (default ./build; builds nothing)
# Env: N1 (default 5000) requests at c=1, N64 (default 50000) at c=64, PAYLOAD (default 64) bytes.
# All traffic on 127.0.0.1; every server started here is killed on exit.
set -euo pipefail
for tool in python3; do
  command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (apt-get install $tool)" >&2; exit 2; }
done

BUILD=${1:-./build}
BIN=$BUILD/bin
N1=${N1:-5000}
N64=${N64:-50000}
PAYLOAD=${PAYLOAD:-64}

for b in micro micro-bench-echo-server beast-echo-server beast-echo-client; do
  [[ -x $BIN/$b ]] || { echo "run.sh: $BIN/$b is missing; build it first" >&2; exit 2; }
done
HAVE_GRPC=1
[[ -x $BIN/grpc-echo-server && -x $BIN/grpc-echo-client ]] || { HAVE_GRPC=0; echo "run.sh: gRPC binaries missing; skipping gRPC" >&2; }
HAVE_ZMQ=1
[[ -x $BIN/zmq-echo-server && -x $BIN/zmq-echo-client && -x $BIN/micro-echo-client ]] || { HAVE_ZMQ=0; echo "run.sh: zmq-echo-server/client or micro-echo-client missing; skipping micro-zmq and zmq" >&2; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

export MICRO_REGISTRY_ADDRESS=$TMP/registry
export MICRO_LOG_LEVEL=warn

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_up NAME CMD...: retries CMD (bounded: 100 tries, ~20 s) until it succeeds.
wait_up() {
  local name=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "run.sh: $name did not come up" >&2
  exit 1
}

PAY=$(head -c "$PAYLOAD" /dev/zero | tr '\0' x)
BODY="{\"payload\":\"$PAY\"}"
RESULTS=$TMP/results
: >"$RESULTS"

# record SYSTEM C JSON_LINE
record() { echo "$1 $2 $3" >>"$RESULTS"; }

# --- micro-cpp over transport-http --------------------------------------------------------------
PORT=$(free_port)
MICRO_SERVER_ADDRESS=127.0.0.1:$PORT "$BIN/micro-bench-echo-server" >"$TMP/micro.log" 2>&1 &
PIDS+=($!)
wait_up micro-bench-echo-server "$BIN/micro" call echo Echo.Echo "$BODY" --timeout 2s
for c in 1 64; do
  n=$([[ $c == 1 ]] && echo "$N1" || echo "$N64")
  out=$("$BIN/micro" bench echo Echo.Echo "$BODY" -n "$n" -c "$c" --json --timeout 10s) || true
  record micro "$c" "$(echo "$out" | tail -n 1)"
  # The same service with protobuf bodies, the message gRPC sends, from a C++ load generator.
  out=$("$BIN/micro-echo-client" --address echo -n "$n" -c "$c" --payload-size "$PAYLOAD") || true
  record micro-pb "$c" "$(echo "$out" | tail -n 1)"
done
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# --- micro-cpp over transport-zmq ----------------------------------------------------------------
# The same server with MICRO_TRANSPORT=zmq; the load generator keeps its default transport (http)
# and reaches the node through the transport the node advertises ("transport": "zmq" metadata).
if [[ $HAVE_ZMQ == 1 ]]; then
  PORT=$(free_port)
  MICRO_REGISTRY_ADDRESS=$TMP/registry-zmq MICRO_TRANSPORT=zmq MICRO_SERVER_ADDRESS=127.0.0.1:$PORT \
    "$BIN/micro-bench-echo-server" >"$TMP/micro-zmq.log" 2>&1 &
  PIDS+=($!)
  export MICRO_REGISTRY_ADDRESS=$TMP/registry-zmq
  wait_up micro-bench-echo-server-zmq "$BIN/micro" call echo Echo.Echo "$BODY" --timeout 2s
  for c in 1 64; do
    n=$([[ $c == 1 ]] && echo "$N1" || echo "$N64")
    out=$("$BIN/micro-echo-client" --address echo -n "$n" -c "$c" --payload-size "$PAYLOAD") || true
    record micro-zmq "$c" "$(echo "$out" | tail -n 1)"
  done
  export MICRO_REGISTRY_ADDRESS=$TMP/registry
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fi

# --- gRPC C++ -----------------------------------------------------------------------------------
if [[ $HAVE_GRPC == 1 ]]; then
  PORT=$(free_port)
  "$BIN/grpc-echo-server" "127.0.0.1:$PORT" >"$TMP/grpc.log" 2>&1 &
  PIDS+=($!)
  wait_up grpc-echo-server "$BIN/grpc-echo-client" --address "127.0.0.1:$PORT" -n 1 -c 1
  for c in 1 64; do
    n=$([[ $c == 1 ]] && echo "$N1" || echo "$N64")
    out=$("$BIN/grpc-echo-client" --address "127.0.0.1:$PORT" -n "$n" -c "$c" --payload-size "$PAYLOAD") || true
    record grpc "$c" "$(echo "$out" | tail -n 1)"
  done
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fi

# --- bare Boost.Beast ---------------------------------------------------------------------------
PORT=$(free_port)
"$BIN/beast-echo-server" 127.0.0.1 "$PORT" >"$TMP/beast.log" 2>&1 &
PIDS+=($!)
wait_up beast-echo-server "$BIN/beast-echo-client" --address "127.0.0.1:$PORT" -n 1 -c 1
for c in 1 64; do
  n=$([[ $c == 1 ]] && echo "$N1" || echo "$N64")
  out=$("$BIN/beast-echo-client" --address "127.0.0.1:$PORT" -n "$n" -c "$c" --payload-size "$PAYLOAD") || true
  record beast "$c" "$(echo "$out" | tail -n 1)"
done
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# --- bare ZeroMQ (ROUTER server; one DEALER per client thread, or one async DEALER) ------------
if [[ $HAVE_ZMQ == 1 ]]; then
  PORT=$(free_port)
  "$BIN/zmq-echo-server" 127.0.0.1 "$PORT" >"$TMP/zmq.log" 2>&1 &
  PIDS+=($!)
  wait_up zmq-echo-server "$BIN/zmq-echo-client" --address "127.0.0.1:$PORT" -n 1 -c 1
  for c in 1 64; do
    n=$([[ $c == 1 ]] && echo "$N1" || echo "$N64")
    out=$("$BIN/zmq-echo-client" --address "127.0.0.1:$PORT" -n "$n" -c "$c" --payload-size "$PAYLOAD") || true
    record zmq "$c" "$(echo "$out" | tail -n 1)"
    # Same server, one client thread and one DEALER keeping C calls in flight (the wire pattern
    # of transport-zmq without threads in between): the ceiling, not the like-for-like baseline.
    out=$("$BIN/zmq-echo-client" --async --address "127.0.0.1:$PORT" -n "$n" -c "$c" --payload-size "$PAYLOAD") || true
    record zmq-async "$c" "$(echo "$out" | tail -n 1)"
  done
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fi

# --- table --------------------------------------------------------------------------------------
python3 - "$RESULTS" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    sysname, c, js = line.split(" ", 2)
    try:
        rows[(sysname, int(c))] = json.loads(js)
    except ValueError:
        rows[(sysname, int(c))] = None
names = [s for s in ("micro", "micro-pb", "micro-zmq", "grpc", "beast", "zmq", "zmq-async")
         if any(k[0] == s for k in rows)]
print("| system | calls in flight | requests | errors | QPS | p50 ms | p90 ms | p99 ms | max ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in (1, 64):
    for s in names:
        r = rows.get((s, c))
        if not r:
            print(f"| {s} | {c} | failed | | | | | | |"); continue
        l = r["latency_ms"]
        print(f"| {s} | {c} | {r['requests']} | {r['errors']} | {r['qps']:.0f} | {l['p50']:.3f} | {l['p90']:.3f} | {l['p99']:.3f} | {l['max']:.3f} |")
print()
print("| ratio | c=1 | c=64 |")
print("|---|---:|---:|")
def ratio(a, b, c, f):
    ra, rb = rows.get((a, c)), rows.get((b, c))
    if not ra or not rb: return "n/a"
    x, y = f(ra), f(rb)
    return f"{x / y:.2f}" if y else "n/a"
pairs = {"micro": ("grpc", "beast"), "micro-pb": ("grpc", "beast"),
         "micro-zmq": ("grpc", "zmq", "zmq-async", "micro-pb")}
for mine in [s for s in ("micro", "micro-pb", "micro-zmq") if s in names]:
    others = [s for s in pairs[mine] if s in names]
    for other in others:
        print(f"| {mine}/{other} QPS | {ratio(mine, other, 1, lambda r: r['qps'])} | {ratio(mine, other, 64, lambda r: r['qps'])} |")
    for other in others:
        for p in ("p50", "p99"):
            print(f"| {mine}/{other} {p} | {ratio(mine, other, 1, lambda r: r['latency_ms'][p])} | {ratio(mine, other, 64, lambda r: r['latency_ms'][p])} |")
PY
