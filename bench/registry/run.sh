#!/usr/bin/env bash
# Registry benchmark (issue #5, "Measured"): etcd requests of a steady fleet of N services,
# register -> watch latency (etcd, file, memory, consul stand-in), memory and lookup cost of
# a 10,000-node view. Starts its own etcd (/usr/bin/etcd, or $MICRO_TEST_ETCD) on free
# 127.0.0.1 ports with a temp data dir, kills it on exit, prints a markdown table.
#   bench/registry/run.sh [BUILD_DIR]      (default ./build; builds nothing)
# Env: SERVICES (default "10 100 1000"), TTL (6), INTERVAL (2), WINDOW (12) seconds,
#      COUNT (200) watch-latency rounds, NODES (10000) view size. Whole run: about 2 minutes.
set -euo pipefail
for tool in python3 jq; do
  command -v "$tool" >/dev/null || { echo "run.sh: needs $tool (apt-get install $tool)" >&2; exit 2; }
done

BUILD=${1:-./build}
BIN=$BUILD/bin/micro-bench-registry
ETCD=${MICRO_TEST_ETCD:-/usr/bin/etcd}
SERVICES=${SERVICES:-10 100 1000}
TTL=${TTL:-6}
INTERVAL=${INTERVAL:-2}
WINDOW=${WINDOW:-12}
COUNT=${COUNT:-200}
NODES=${NODES:-10000}

[[ -x $BIN ]] || { echo "run.sh: $BIN is missing; build micro-bench-registry first" >&2; exit 2; }
[[ -x $ETCD ]] || { echo "run.sh: no etcd at $ETCD" >&2; exit 2; }

TMP=$(mktemp -d)
ETCD_PID=
cleanup() {
  if [[ -n $ETCD_PID ]]; then
    kill "$ETCD_PID" 2>/dev/null || true
    wait "$ETCD_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
CPORT=$(free_port)
PPORT=$(free_port)
while [[ $PPORT == "$CPORT" ]]; do PPORT=$(free_port); done
C=http://127.0.0.1:$CPORT
P=http://127.0.0.1:$PPORT
"$ETCD" --name default --data-dir "$TMP/data" --listen-client-urls "$C" --advertise-client-urls "$C" \
  --listen-peer-urls "$P" --initial-advertise-peer-urls "$P" --initial-cluster "default=$P" \
  --initial-cluster-state new >"$TMP/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 1 150); do
  if curl -sf "$C/health" 2>/dev/null | grep '"true"' >/dev/null; then break; fi
  sleep 0.2
done
curl -sf "$C/health" | grep '"true"' >/dev/null || { echo "run.sh: etcd did not come up:" >&2; tail -20 "$TMP/etcd.log" >&2; exit 1; }
ADDR=127.0.0.1:$CPORT

export MICRO_LOG_LEVEL=${MICRO_LOG_LEVEL:-warn}
OUT=$TMP/results.jsonl
: >"$OUT"
START=$(date +%s)
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load:$(uptime | sed 's/.*load average://'), etcd $("$ETCD" --version | head -1 | awk '{print $3}')" >&2

for n in $SERVICES; do
  "$BIN" steady --etcd "$ADDR" --services "$n" --ttl "$TTL" --interval "$INTERVAL" --window "$WINDOW" | tee -a "$OUT" >&2
done
for r in etcd file memory consul; do
  "$BIN" watch-latency --registry "$r" --etcd "$ADDR" --count "$COUNT" | tee -a "$OUT" >&2 || true
done
"$BIN" view --nodes "$NODES" --etcd "$ADDR" | tee -a "$OUT" >&2
END=$(date +%s)

# ---- markdown -------------------------------------------------------------------------------
echo
echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), load average$(uptime | sed 's/.*load average//'), $((END - START)) s."
echo
echo "### Steady state: etcd requests (etcd's /metrics), TTL ${TTL} s, heartbeat every ${INTERVAL} s, ${WINDOW} s window"
echo
echo "| services | plugin instances | etcd req/s | req/s per service | KeepAlive/s | Put/s | Range/s | keep-alives per service per lease period | heartbeats in window | Puts per heartbeat |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r 'select(.mode=="steady") | "| \(.services) | \(.runtimes) | \(.req_per_s) | \(.req_per_s_per_service) | \(.by_method.LeaseKeepAlive.per_s // 0) | \(.by_method.Put.per_s // 0) | \(.by_method.Range.per_s // 0) | \(.keepalives_per_service_per_lease_period) | \(.heartbeats_in_window) | \(.puts_per_heartbeat) |"' "$OUT"
echo
echo "### Register -> watch latency (ms; from the register_service() call / from its return)"
echo
echo "| registry | watcher | rounds | missed | p50 call | p99 call | max call | p50 return | p99 return | register() p50 |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r 'select(.mode=="watch-latency") | if .skipped then "| \(.registry) | skipped: \(.skipped) | | | | | | | | |" else "| \(.registry) | \(.watcher) | \(.count) | \(.missed) | \(.ms_from_register_call.p50) | \(.ms_from_register_call.p99) | \(.ms_from_register_call.max) | \(.ms_from_register_return.p50) | \(.ms_from_register_return.p99) | \(.ms_register_call.p50) |" end' "$OUT"
echo
echo "### View of ${NODES} nodes: memory (heap bytes per node, mallinfo2 delta) and lookup cost"
echo
echo "| shape | registry-memory store B/node | RegistryCache view B/node | cache get_service ns | roundrobin selector B/node | roundrobin select+next ns | random selector B/node | random select+next ns | registry-memory get_service ms | 200 new nodes: register us/node | cache caught up, us/event |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r 'def ms: (. / 1e6 * 1000 | round) / 1000;
  select(.mode=="view") | "| \(.shape) | \(.registry_memory_store.heap_bytes_per_node) | \(.cache_view.heap_bytes_per_node) | \(.cache_get_service_ns) | \(.selector_roundrobin.heap_bytes_per_node) | \(.selector_roundrobin.select_next_ns) | \(.selector_random.heap_bytes_per_node) | \(.selector_random.select_next_ns) | \(.registry_memory_get_service_ns | ms) | \(.churn_register_us_per_event) | \(.cache_apply_us_per_event) |"' "$OUT"
echo
echo "### The same view in etcd (registry-etcd)"
echo
echo "| shape | put all nodes (4 threads) s | get_service ms | same range, raw HTTP, ms | response bytes | decode us/node | watch snapshot B/node | RegistryCache over etcd B/node |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
jq -r 'def ms: (. / 1e6 * 1000 | round) / 1000;
  select(.mode=="view" and .etcd_get_service_ns != null) | "| \(.shape) | \(.etcd_put_ms / 1000) | \(.etcd_get_service_ns | ms) | \(.etcd_range_raw_ns | ms) | \(.etcd_range_response_bytes) | \(if .etcd_range_response_bytes > 100000 then (.etcd_decode_ns_per_node / 100 | round) / 10 else "-" end) | \(.etcd_watch_snapshot.heap_bytes_per_node) | \(.etcd_cache_view.heap_bytes_per_node) |"' "$OUT"
