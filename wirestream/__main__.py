"""``python -m wirestream`` is the ``wirestream`` command."""

from wirestream.cli import main

raise SystemExit(main())
