-- Server settings the store benchmarks in BENCHMARKS.md ran with (PostgreSQL 15, 2 cores, 24 GiB).
-- All take effect on reload, no restart (shared_buffers stays at the default 128MB: COPY and large
-- scans go through small ring buffers anyway, the OS page cache holds the rest). Durable as by
-- default: fsync, synchronous_commit and full_page_writes stay on.
-- Apply with: psql -h 127.0.0.1 -U postgres -d postgres -f benchmarks/pg_tuning.sql
-- Undo with: ALTER SYSTEM RESET <name> for each, then SELECT pg_reload_conf().
ALTER SYSTEM SET max_wal_size = '16GB';          -- default 1GB: a 10M load checkpointed every few seconds
ALTER SYSTEM SET checkpoint_timeout = '30min';   -- default 5min
ALTER SYSTEM SET wal_compression = 'lz4';        -- default off: smaller full-page images
ALTER SYSTEM SET maintenance_work_mem = '1GB';   -- default 64MB: index builds sort in memory
ALTER SYSTEM SET work_mem = '64MB';              -- default 4MB
SELECT pg_reload_conf();
