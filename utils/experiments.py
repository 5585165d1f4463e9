"""The claims of notebook 07 — moved to :mod:`utils.claims`; this module re-exports the names it had.

New code imports from ``utils.claims`` (command line: ``python -m utils.claims experiments``).
"""
from __future__ import annotations

from .claims.models import NonEquivariantConfig, NonEquivariantNetwork
from .claims.plan import (BUDGETS, CLAIMS, DEFAULT_DIR, ELEMENT_FAMILIES, MODELS, ROTATION_TOL, Budget, ClaimsError,
                          RunSpec, choose_holdout_groups, estimate_seconds, plan_runs, results_path)
from .claims.report import (format_scorecard, scorecard, summarize, summarize_cost, summarize_learning_curves,
                            summarize_rotations, summarize_uncertainty, summarize_unseen_elements)
from .claims.rotations import RandomRotation, random_rotations, rotate_graph, rotated_predictions, rotation_spread
from .claims.runner import calibrate, load_claims, run_claims
from .claims.stats import mean_std, spearman, verdict

__all__ = [
    "CLAIMS", "MODELS", "BUDGETS", "ELEMENT_FAMILIES", "ROTATION_TOL", "DEFAULT_DIR", "ClaimsError", "Budget",
    "NonEquivariantConfig", "NonEquivariantNetwork", "RandomRotation", "random_rotations", "rotate_graph",
    "rotation_spread", "rotated_predictions", "choose_holdout_groups", "RunSpec", "plan_runs", "run_claims", "load_claims",
    "results_path", "mean_std", "verdict", "spearman", "summarize", "scorecard", "format_scorecard",
    "estimate_seconds", "calibrate", "summarize_unseen_elements", "summarize_rotations", "summarize_learning_curves",
    "summarize_cost", "summarize_uncertainty",
]
