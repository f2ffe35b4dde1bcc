#!/usr/bin/env bash
# Instructions per call (deterministic, unlike QPS on a shared machine): micro-bench-echo-server
# under callgrind serving micro-echo-client, then micro-echo-client under callgrind calling a
# plain server. Totals include start-up (plugin loading, registry), spread over the calls, so
# compare builds with the same N rather than reading the numbers as absolute per-call costs.
#   bench/echo/callgrind.sh [BUILD_DIR]     (default ./build; N=3000 calls at 4 in flight)
# Env: N, TRANSPORT (http or zmq). Needs valgrind. Traffic on 127.0.0.1 only.
set -euo pipefail
BIN=${1:-./build}/bin
N=${N:-3000}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }
TMP=$(mktemp -d)
SP=
cleanup() {
  [[ -n $SP ]] && kill "$SP" 2>/dev/null && wait "$SP" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
export MICRO_REGISTRY_ADDRESS=$TMP/registry MICRO_LOG_LEVEL=warn
[[ -n ${TRANSPORT:-} ]] && export MICRO_TRANSPORT=$TRANSPORT
total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'; }

MICRO_SERVER_ADDRESS=127.0.0.1:0 valgrind --tool=callgrind --callgrind-out-file="$TMP/server.cg" \
  "$BIN/micro-bench-echo-server" >"$TMP/server.log" 2>&1 &
SP=$!
for _ in $(seq 1 150); do
  "$BIN/micro" call echo Echo.Echo '{"payload":"x"}' --timeout 2s >/dev/null 2>&1 && break
  sleep 0.2
done
"$BIN/micro-echo-client" --address echo -n "$N" -c 4 --payload-size 64 >/dev/null
valgrind --tool=callgrind --callgrind-out-file="$TMP/client.cg" \
  "$BIN/micro-echo-client" --address echo -n "$N" -c 4 --payload-size 64 >/dev/null 2>&1
kill -INT "$SP"
wait "$SP" 2>/dev/null || true
SP=
server=$(total "$TMP/server.cg")
client=$(total "$TMP/client.cg")
# The server answered 2N calls (+1 readiness probe); the client under callgrind made N.
echo "server instructions per call: $((server / (2 * N + 1)))"
echo "client instructions per call: $((client / N))"
