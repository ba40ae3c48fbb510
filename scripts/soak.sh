#!/usr/bin/env bash
# Soak the model: the property tests of core/tests/properties.rs with 10,000,000 operations of
# the random workload (check() after each one) plus 4,000,000 random scenario actions (likewise),
# on every kernel profile, and a fresh proptest seed unless one is given.
#
#   scripts/soak.sh                 # 10M operations, a seed from the clock
#   scripts/soak.sh 50000000        # more operations
#   PAGEFLOW_PROP_SEED=1234 scripts/soak.sh   # replay a seed a soak printed
#
# Run time, measured on the 2-core development machine with this script: 1,000,000 workload
# operations (plus 414,716 actions and the determinism property) took 131 s of wall time, the two
# invariant tests running in parallel; the time is linear in the count, so the default
# 10,000,000 takes about 22 minutes.
# A failure prints the profile, the seed, the failing step, check()'s message, the last
# operations and a scenario JSON that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

ops="${1:-10000000}"
seed="${PAGEFLOW_PROP_SEED:-$(date +%s)}"
per_case="${PAGEFLOW_PROP_OPS_PER_CASE:-2000}"

echo "soak: PAGEFLOW_PROP_OPS=$ops PAGEFLOW_PROP_SEED=$seed PAGEFLOW_PROP_OPS_PER_CASE=$per_case"
start=$(date +%s)
PAGEFLOW_PROP_OPS="$ops" PAGEFLOW_PROP_SEED="$seed" PAGEFLOW_PROP_OPS_PER_CASE="$per_case" \
  cargo test --locked -p pageflow-core --test properties -- --nocapture
echo "soak: passed, $ops operations, seed $seed, $(( $(date +%s) - start )) s"
