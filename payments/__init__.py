"""Money in: bank statements read, their credits matched to claims and posted as ``payment``
events, what cannot be matched kept in a suspense queue (docs/payments.md).

The floor stands between the engine and allocation: it imports the engine (the store, the
vocabularies) and ingest (the parsers of Polish amounts and identifiers), and nothing after it.
"""
