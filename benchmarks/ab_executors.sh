#!/usr/bin/env bash
# Interleaved local vs Ray of `cession state` Parquet -> Parquet on this tree: ROUNDS pairs, each
# printing wall, user, sys, peak RSS (of the command; Ray's workers are other processes) and the
# engine's own seconds (the JSON summary). For a running Ray set CESSION_RAY_ADDRESS; without it
# each Ray run starts (and stops) its own. BENCHMARKS.md quotes the medians.
# usage: benchmarks/ab_executors.sh PORTFOLIO_DIR ROUNDS [AS_OF]
set -euo pipefail
dir=$1; rounds=${2:-3}; as_of=${3:-2026-02-28}
tree=$(cd "$(dirname "$0")/.." && pwd)
python="$tree/.venv/bin/python"
for r in $(seq 1 "$rounds"); do
  for executor in local ray; do
    (cd "$tree" && /usr/bin/time -o /tmp/ab_executors.time -f "wall %e user %U sys %S maxrss %M KB" "$python" -m api.cli state \
      --claims "$dir/claims.parquet" --events "$dir/events.parquet" --as-of "$as_of" --allow-stale-rates \
      --out "$dir/state-$executor.parquet" --executor "$executor" --json 2>/dev/null \
      | "$python" -c "import json, sys; s = json.load(sys.stdin); print('$executor', 'engine', s['seconds'], 'partitions', s['partitions'], end=' ')")
    tail -1 /tmp/ab_executors.time
  done
done
"$python" -c "import pyarrow.parquet as pq, sys; d = sys.argv[1]; print('identical:', pq.read_table(d + '/state-local.parquet').equals(pq.read_table(d + '/state-ray.parquet')))" "$dir"
