"""``python -m utils.claims baselines|experiments …``: see ``utils.claims.cli``."""
import sys

from .cli import main

sys.exit(main())
