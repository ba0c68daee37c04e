"""claim_state from Parquet files (`cession state`), and the summary of a claim_state."""
