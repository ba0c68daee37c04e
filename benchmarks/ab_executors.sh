#!/usr/bin/env bash
# Interleaved local vs Ray of `cession state` Parquet -> Parquet on this tree: ROUNDS pairs, each
# printing the days, the engine's own seconds (the JSON summary, summed over the days), wall, CPU
# and peak RSS (of the command; Ray's workers are other processes); then whether the outputs of the
# two executors are identical, day by day. AS_OF is one day or a series (2026-01-31..2026-12-31:
# a folder of one file per day). For a running Ray set CESSION_RAY_ADDRESS; without it each Ray
# run starts (and stops) its own. BENCHMARKS.md quotes the medians.
# usage: benchmarks/ab_executors.sh PORTFOLIO_DIR ROUNDS [AS_OF]
set -euo pipefail
dir=$1; rounds=${2:-3}; as_of=${3:-2026-02-28}
tree=$(cd "$(dirname "$0")/.." && pwd)
python="$tree/.venv/bin/python"
for r in $(seq 1 "$rounds"); do
  for executor in local ray; do
    rm -rf "$dir/state-$executor"
    (cd "$tree" && /usr/bin/time -o /tmp/ab_executors.time -f "wall %e user %U sys %S maxrss %M KB" "$python" -m api.cli state \
      --claims "$dir/claims.parquet" --events "$dir/events.parquet" --as-of "$as_of" --allow-stale-rates \
      --out "$dir/state-$executor" --executor "$executor" --json 2>/dev/null \
      | "$python" -c "import json, sys; s = json.load(sys.stdin); days = s.get('states', [s])
print('$executor', 'days', len(days), 'engine', round(sum(d['seconds'] for d in days), 3), 'partitions', days[0]['partitions'], end=' ')")
    tail -1 /tmp/ab_executors.time
  done
done
"$python" - "$dir" <<'PY'
import sys
from pathlib import Path
import pyarrow.parquet as pq
local, ray = Path(sys.argv[1]) / "state-local", Path(sys.argv[1]) / "state-ray"
pairs = [(f, ray / f.name) for f in sorted(local.glob("state-*.parquet"))] if local.is_dir() else [(local, ray)]
print("identical:", len(pairs), "days", all(pq.read_table(a).equals(pq.read_table(b)) for a, b in pairs))
PY
