"""pytest-benchmark suites and A/B scripts: not shipped in the wheel, never imported by the package.

This file stays so that pytest imports the suites as ``benchmarks.*``, the names they import each
other by (``benchmarks.conftest``, ``benchmarks.test_bench_store``), not a second time under bare names.
The seeded data they run on is the package's ``synthetic.book`` (a book) and
``synthetic.seller_export`` (a messy seller export).
"""
