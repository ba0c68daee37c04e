"""Payment plans (ugody ratalne): their schedules (``schedule``), what the claim's payments make of
them as of a day (``status``), settlements and promises measured the same way (``coverage``), and
their tables in the store (``store``). docs/plans.md tells the rules in full."""
