#!/usr/bin/env bash
# A/B of the view mode (no etcd): runs `micro-bench-registry view` of two builds alternately,
# ROUNDS times each, and prints the lookup and churn columns of each run.
#   bench/registry/view_ab.sh BEFORE_DIR AFTER_DIR
# A *_DIR holds bin/micro-bench-registry and lib/ (libmicro_core and lib/micro/plugins), e.g.
# a copy of a build tree's bin/ and lib/ taken before a change (the binaries use RUNPATH, so
# LD_LIBRARY_PATH picks that copy's core library).
# Env: NODES (10000), SHAPE (both), ROUNDS (2).
set -euo pipefail
BEFORE=$1
AFTER=$2
NODES=${NODES:-10000}
SHAPE=${SHAPE:-both}
ROUNDS=${ROUNDS:-2}
export MICRO_LOG_LEVEL=${MICRO_LOG_LEVEL:-warn}
echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load:$(uptime | sed 's/.*load average://')"
echo "| build | shape | cache get_service ns | roundrobin select+next ns | register us/event | cache caught up us/event | lookups during churn | lookup p50 ms | p99 ms | max ms |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for ((i = 0; i < ROUNDS; i++)); do
  for side in before after; do
    dir=$BEFORE
    [[ $side == after ]] && dir=$AFTER
    LD_LIBRARY_PATH=$dir/lib "$dir/bin/micro-bench-registry" view --nodes "$NODES" --shape "$SHAPE" \
      --plugin-dir "$dir/lib/micro/plugins" |
      jq -r --arg side "$side" '"| \($side) | \(.shape) | \(.cache_get_service_ns) | \(.selector_roundrobin.select_next_ns) | \(.churn_register_us_per_event) | \(.cache_apply_us_per_event) | \(.churn_lookups) | \(.churn_lookup_ms.p50) | \(.churn_lookup_ms.p99) | \(.churn_lookup_ms.max) |"'
  done
done
echo "# end $(date -u '+%H:%M:%S UTC'), load:$(uptime | sed 's/.*load average://')"
