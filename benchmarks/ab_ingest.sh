#!/usr/bin/env bash
# Interleaved ingest of a seller CSV into PostgreSQL (127.0.0.1:5432, database test): OLD_TREE (e.g.
# a `git worktree add` of an older commit) and this tree, alternating, each run into a fresh schema
# dropped afterwards, after a CHECKPOINT, with this tree's venv (the reports go to $TMPDIR/ab_ingest-old|new.*, not into
# a tree); prints accepted/rejected, wall, CPU and peak RSS.
# usage: benchmarks/ab_ingest.sh OLD_TREE FILE ROUNDS
set -euo pipefail
old=$(cd "$1" && pwd); file=$2; rounds=${3:-1}
new=$(cd "$(dirname "$0")/.." && pwd)
py="$new/.venv/bin/python"
for r in $(seq 1 "$rounds"); do
  for v in old new; do
    tree=$new; [ "$v" = old ] && tree=$old
    schema=ingab_${v}_$r
    psql -q -h 127.0.0.1 -U postgres test -c "drop schema if exists $schema cascade; create schema $schema" >/dev/null 2>&1
    # every run starts from a clean server: the dirty pages of the runs before are flushed now, not
    # by a checkpoint in the middle of this run (each 10M run writes several GB of WAL)
    psql -q -h 127.0.0.1 -U postgres test -c "checkpoint" >/dev/null 2>&1
    (cd "$tree" && /usr/bin/time -o /tmp/ab_ingest.time -f "wall %e user %U sys %S maxrss %M KB" "$py" -m api.cli ingest "$file" \
      --portfolio BENCH --profile bank_przykladowy --price 100000000 --purchase-date 2024-06-28 --json \
      --reports "${TMPDIR:-/tmp}/ab_ingest-$v" \
      --database-url "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$schema" 2>/dev/null \
      | "$py" -c "import json, sys; d = json.load(sys.stdin); print('$v', 'accepted', d['accepted'], 'rejected', d['rejected'], end=' ')")
    tail -1 /tmp/ab_ingest.time
    psql -q -h 127.0.0.1 -U postgres test -c "drop schema $schema cascade" >/dev/null 2>&1
  done
done
