"""``python -m sync_guard.cli``: the same as the ``sync-guard`` console script."""

from sync_guard.cli import main

main()
