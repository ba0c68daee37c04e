"""Portfolio analytics over the store (docs/reports.md): collections by month since purchase, the
multiple of money and recovery rate, balances by bucket and by limitation status, placements and
agency performance, and the expected remaining collections (ERC) by chain-ladder on the book's
own curves, with the portfolio's value discounted at a rate.

``collections`` (payments less reversals, curves by vintage), ``erc`` (development factors, tail,
projection, discounting), ``balances`` (claim_state summed by bucket, limitation status, days past
due), ``agencies`` (placements and what they brought), ``store`` (the reads), ``portfolio`` (one
portfolio's figures, the one entry point). Pure polars and numpy over frames; no per-claim loops.
"""
