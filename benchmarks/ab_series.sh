#!/usr/bin/env bash
# Interleaved local vs Ray of a 12-month as-of series (`cession state --as-of FIRST..LAST`):
# ROUNDS pairs on this tree, each printing wall, peak RSS of the command, and the sum of the days'
# engine seconds (JSON summary); then whether every day's file is the same on both executors.
# For a running Ray set CESSION_RAY_ADDRESS. BENCHMARKS.md quotes the medians.
# usage: benchmarks/ab_series.sh PORTFOLIO_DIR ROUNDS [FIRST..LAST]
set -euo pipefail
dir=$1; rounds=${2:-3}; series=${3:-2026-01-31..2026-12-31}
tree=$(cd "$(dirname "$0")/.." && pwd)
python="$tree/.venv/bin/python"
for r in $(seq 1 "$rounds"); do
  for executor in local ray; do
    rm -rf "$dir/series-$executor"
    (cd "$tree" && /usr/bin/time -o /tmp/ab_series.time -f "wall %e maxrss %M KB" "$python" -m api.cli state \
      --claims "$dir/claims.parquet" --events "$dir/events.parquet" --as-of "$series" --allow-stale-rates \
      --out "$dir/series-$executor" --executor "$executor" --json 2>/dev/null \
      | "$python" -c "import json, sys; s = json.load(sys.stdin)['states']; print('$executor', 'days', len(s), 'engine', round(sum(d['seconds'] for d in s), 2), 'partitions', s[0]['partitions'], end=' ')")
    tail -1 /tmp/ab_series.time
  done
done
"$python" - "$dir" <<'PY'
import sys
from pathlib import Path
import pyarrow.parquet as pq
d = Path(sys.argv[1])
names = sorted(p.name for p in (d / "series-local").glob("state-*.parquet"))
print("identical:", len(names), "days", all(pq.read_table(d / "series-local" / n).equals(pq.read_table(d / "series-ray" / n)) for n in names))
PY
