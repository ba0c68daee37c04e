"""Seeded synthetic data for the demo, the tests and the benchmarks; no part of the flow.

- ``synthetic.book``: a book of purchased claims and their events in docs/data-contract.md's shape
  (``cession generate``, ``cession demo``, the engine's and the store's tests and benchmarks);
- ``synthetic.seller_export``: a messy seller export as a bank's collections department writes one,
  for the shipped profile ``bank_przykladowy``, with the reject report ingest must produce for it.

It stands where the sellers stand, before ingest: it reads the data contract's vocabularies from
``engine.domain`` and nothing else of ours, and ingest, the engine and allocation never import it.
"""
