"""``python -m utils.data``: see :mod:`utils.data.cli`."""
from .cli import main

raise SystemExit(main())
