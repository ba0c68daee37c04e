"""The journal (issue 19): a double-entry journal of everything that happened to the book in a
period, from the claims and events of the store (or files) and the engine's states, that balances
and reconciles to the events (docs/ledger.md).

- ``chart``: the chart of accounts (YAML, validated on load; ``charts/default.yaml`` shipped).
- ``book``: the inputs (claims, events with the day they were recorded, placements, agencies).
- ``movements``: per claim, what the period changed (engine states as known at its two ends) and
  which event caused it.
- ``journal``: the postings as transactions of lines, each balanced before anything is written;
  the trial balance.
- ``reconcile``: the journal against the events and the engine's states, per portfolio.
- ``files``: Parquet, CSV or XLSX, written whole or not at all.

ledger imports engine (and allocation's commission rates), never api, reports or contacts.
"""
