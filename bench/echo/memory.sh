#!/usr/bin/env bash
# Idle memory (issue #3): RSS of greeter-server after it registered and answered one call, and of
# a micro-cpp client holding 100 pooled keep-alive connections (micro-echo-client after a run at
# 100 calls in flight over transport-http: one connection per call in flight, all back in the
# pool). Both on the embedded defaults (file registry in a temp dir), traffic on 127.0.0.1.
#   bench/echo/memory.sh [BUILD_DIR]        (default ./build; builds nothing)
set -euo pipefail
BIN=${1:-./build}/bin
for b in greeter-server micro micro-bench-echo-server micro-echo-client; do
  [[ -x $BIN/$b ]] || { echo "memory.sh: $BIN/$b is missing; build it first" >&2; exit 2; }
done
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
export MICRO_REGISTRY_ADDRESS=$TMP/registry MICRO_LOG_LEVEL=warn
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
wait_call() {  # wait_call SERVICE ENDPOINT JSON: bounded (100 tries, ~20 s)
  for _ in $(seq 1 100); do
    "$BIN/micro" call "$@" --timeout 2s >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "memory.sh: $1 did not answer" >&2; exit 1
}

MICRO_SERVER_ADDRESS=127.0.0.1:0 "$BIN/greeter-server" >"$TMP/greeter.log" 2>&1 &
PIDS+=($!)
wait_call greeter Greeter.Hello '{"name":"memory"}'
greeter_kb=$(rss "${PIDS[-1]}")

MICRO_SERVER_ADDRESS=127.0.0.1:0 "$BIN/micro-bench-echo-server" >"$TMP/echo.log" 2>&1 &
PIDS+=($!)
wait_call echo Echo.Echo '{"payload":"x"}'
client=$("$BIN/micro-echo-client" --address echo -n 2000 -c 100 --payload-size 64 | grep rss_kb)
client_kb=$(echo "$client" | sed 's/.*"rss_kb":\([0-9-]*\).*/\1/')
server_kb=$(rss "${PIDS[-1]}")

echo "| process | RSS KiB |"
echo "|---|---:|"
echo "| greeter-server, idle after one call | $greeter_kb |"
echo "| micro-echo-client holding 100 pooled connections | $client_kb |"
echo "| micro-bench-echo-server after serving those 100 connections | $server_kb |"
