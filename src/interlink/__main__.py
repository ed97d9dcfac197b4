"""``python -m interlink`` is the ``interlink`` command."""

from interlink.cli import main

main()
