"""``python -m training``: the same as ``wirestream-training``."""

from training.cli import main

raise SystemExit(main())
