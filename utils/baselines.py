"""The baselines of notebook 03 §12 — moved to :mod:`utils.claims`; this module re-exports the names it had.

New code imports from ``utils.claims`` (command line: ``python -m utils.claims baselines``).
"""
from __future__ import annotations

from .claims.baselines import (DEFAULT_OUT, METHODS, METRICS, BaselineError, format_table, load_baselines,
                               run_baselines, summarize)
from .claims.models import CompositionConfig, CompositionMLP, mean_dos_baseline

__all__ = [
    "METHODS", "METRICS", "DEFAULT_OUT", "BaselineError", "CompositionConfig", "CompositionMLP",
    "mean_dos_baseline", "run_baselines", "load_baselines", "summarize", "format_table",
]
