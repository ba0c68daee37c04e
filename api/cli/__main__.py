"""``python -m api.cli``: the `cession` command (as the installed script runs it)."""

from api.cli import main

main()
