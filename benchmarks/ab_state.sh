#!/usr/bin/env bash
# Interleaved A/B of `cession state` Parquet -> Parquet: OLD_TREE (e.g. a `git worktree add` of an
# older commit) and this tree, alternating, ROUNDS times each, with this tree's venv; prints wall,
# user, sys and peak RSS per run (BENCHMARKS.md quotes the medians).
# usage: benchmarks/ab_state.sh OLD_TREE PORTFOLIO_DIR ROUNDS
set -euo pipefail
old=$(cd "$1" && pwd); dir=$2; rounds=${3:-3}
new=$(cd "$(dirname "$0")/.." && pwd)
python="$new/.venv/bin/python"
for r in $(seq 1 "$rounds"); do
  for v in old new; do
    tree=$old; [ "$v" = new ] && tree=$new
    (cd "$tree" && /usr/bin/time -f "$v wall %e user %U sys %S maxrss %M KB" "$python" -m api.cli state \
      --claims "$dir/claims.parquet" --events "$dir/events.parquet" --as-of 2026-10-31 --allow-stale-rates \
      --out "$dir/state-$v.parquet" --json 2>&1 >/dev/null | tail -1)
  done
done
