#!/usr/bin/env bash
# Interleaved A/B of `cession allocate` (placements written) on one stored book: OLD_TREE (a
# `git worktree add` of an older commit) and this tree, alternating, ROUNDS times each, with this
# tree's venv; the placements, their changes and the allocation runs emptied and vacuumed before each run (every
# run places the book anew). OLD_SCHEMA_AT: the migration OLD_TREE's code is at (e.g. 0019): the
# store is brought down to it before OLD_TREE's run and up again before this tree's (Alembic).
# Prints wall, user, sys and peak RSS per run (BENCHMARKS.md quotes them).
# usage: benchmarks/ab_allocation.sh OLD_TREE OLD_SCHEMA_AT SCHEMA STORE_DIR ROUNDS
#   (SCHEMA and STORE_DIR from benchmarks/allocation_store.py; CESSION_BENCH_DATABASE_URL as there)
set -euo pipefail
old=$(cd "$1" && pwd); old_at=$2; schema=$3; dir=$4; rounds=${5:-2}
new=$(cd "$(dirname "$0")/.." && pwd)
python="$new/.venv/bin/python"
base=${CESSION_BENCH_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
url="$base?options=-csearch_path%3D$schema"
for r in $(seq 1 "$rounds"); do
  for v in new old; do
    tree=$new; target=head
    [ "$v" = old ] && tree=$old && target=$old_at
    (cd "$new" && "$python" -c "import sys, sqlalchemy as sa; from alembic import command; \
from engine.store.database import alembic_config; e = sa.create_engine(sys.argv[1]); cfg = alembic_config(e); \
command.upgrade(cfg, 'head') if sys.argv[2] == 'head' else command.downgrade(cfg, sys.argv[2])" "$url" "$target")
    psql -q -d "postgresql://${base#postgresql+psycopg://}" -c \
      "SET search_path=$schema; DELETE FROM agency_changes; DELETE FROM placements; DELETE FROM allocation_runs;"
    psql -q -d "postgresql://${base#postgresql+psycopg://}" -c "SET search_path=$schema" -c "VACUUM agency_changes, placements, allocation_runs"
    (cd /tmp && PYTHONPATH=$tree /usr/bin/time -f "$v $(date +%T) load $(cut -d' ' -f1 /proc/loadavg) wall %e user %U sys %S maxrss %M KB" \
      "$python" -c "from api.cli import main; main()" allocate --as-of 2026-10-31 \
      --strategy "$dir/strategy.yaml" --database-url "$url" --json 2>&1 >/dev/null | tail -1)
  done
done
