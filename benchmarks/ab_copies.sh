#!/usr/bin/env bash
# `cession allocate` (placements written) on one stored book, reading from the tables or from the
# column copies (engine/store/copies.py), interleaved, ROUNDS times each:
#   tables: CESSION_COLUMN_COPIES=false: the state, claims and debtors through COPY, as before;
#   cold:   the run's state copy only (claims and debtors read from their tables, then kept);
#   warm:   every copy (what each day after the first finds).
# The placements, their changes and the allocation runs are emptied (and vacuumed: this machine runs no autovacuum, and dead index entries of the same claims slowed the next write ~1 s) before each run. Needs a run
# made by this code (`cession run`) so that the state has its copy.
# Prints wall, user, sys and peak RSS per run (BENCHMARKS.md quotes them).
# usage: benchmarks/ab_copies.sh SCHEMA STORE_DIR ROUNDS   (as benchmarks/allocation_store.py made them)
set -euo pipefail
schema=$1; dir=$2; rounds=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
python="$here/.venv/bin/python"
base=${CESSION_BENCH_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
url="$base?options=-csearch_path%3D$schema"
sql() { psql -q -v ON_ERROR_STOP=1 -d "postgresql://${base#postgresql+psycopg://}" -c "SET search_path=$schema; $1"; }
allocate() {
  sql "DELETE FROM agency_changes; DELETE FROM placements; DELETE FROM allocation_runs;"
  psql -q -d "postgresql://${base#postgresql+psycopg://}" -c "SET search_path=$schema" -c "VACUUM agency_changes, placements, allocation_runs"
  (cd /tmp && CESSION_COLUMN_COPIES=$([ "$1" = tables ] && echo false || echo true) /usr/bin/time -f "$1 $(date +%T) load $(cut -d' ' -f1 /proc/loadavg) wall %e user %U sys %S maxrss %M KB" \
    "$python" -c "from api.cli import main; main()" allocate --as-of 2026-10-31 \
    --strategy "$dir/strategy.yaml" --database-url "$url" --json 2>&1 >/dev/null | tail -1)
}
allocate warm-up  # every copy made
for r in $(seq 1 "$rounds"); do
  allocate warm
  allocate tables
  sql "DELETE FROM column_copies WHERE source IN ('claims', 'debtors');"
  allocate cold
done
