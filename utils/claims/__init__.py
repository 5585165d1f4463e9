"""The evidence: do the slides' claims (notebook 07) hold, and what does the e3nn model buy over simpler
predictors (the baselines of notebook 03 §12)?

=============  ==================================================================================================
``models``     the models compared with e3nn: mean training DoS, composition-only MLP, non-equivariant network
``rotations``  random rotations of graphs, rotation augmentation, the rotation spread of a model's prediction
``stats``      mean ± std over seeds, the 2σ verdict, Spearman's ρ (ties averaged) with a bootstrap σ
``plan``       the claims (directions stated in advance), hold-out groups, budgets, the plan of training runs
``results``    the one resumable results file both runners write (atomic rewrite after every run)
``runner``     train and evaluate the claims' runs → ``data/experiments/claims_<budget>.json``
``report``     summaries, verdicts and the scorecard of a claims results file
``baselines``  train and evaluate the baselines → ``data/experiments/baselines.json``
``cli``        ``python -m utils.claims experiments|baselines …`` (``make experiments``)
=============  ==================================================================================================

Example::

    >>> from utils.claims import format_scorecard, load_claims
    >>> print(format_scorecard(load_claims()))        # doctest: +SKIP
"""
from __future__ import annotations

from .baselines import (DEFAULT_OUT, METHODS, METRICS, BaselineError, format_table, load_baselines,
                        run_baselines)
from .models import (CompositionConfig, CompositionMLP, NonEquivariantConfig, NonEquivariantNetwork,
                     mean_dos_baseline)
from .plan import (BUDGETS, CLAIMS, COST_RATIO, DEFAULT_DIR, ELEMENT_FAMILIES, MODELS, OOD_PERCENTILE, ROTATION_TOL,
                   Budget, ClaimsError, RunSpec, choose_holdout_groups, estimate_seconds, plan_runs, results_path)
from .report import format_scorecard, scorecard, summarize
from .results import ResultsFile
from .rotations import RandomRotation, random_rotations, rotate_graph, rotated_predictions, rotation_spread
from .runner import calibrate, load_claims, run_claims
from .stats import mean_std, spearman, verdict

__all__ = [
    # models and rotations
    "CompositionConfig", "CompositionMLP", "NonEquivariantConfig", "NonEquivariantNetwork", "mean_dos_baseline",
    "RandomRotation", "random_rotations", "rotate_graph", "rotated_predictions", "rotation_spread",
    # statistics
    "mean_std", "verdict", "spearman",
    # the claims: plan, run, report
    "CLAIMS", "MODELS", "BUDGETS", "ELEMENT_FAMILIES", "ROTATION_TOL", "OOD_PERCENTILE", "COST_RATIO",
    "DEFAULT_DIR", "ClaimsError", "Budget", "RunSpec", "choose_holdout_groups", "plan_runs", "estimate_seconds",
    "results_path", "run_claims", "load_claims", "calibrate", "summarize", "scorecard", "format_scorecard",
    # the baselines
    "METHODS", "METRICS", "DEFAULT_OUT", "BaselineError", "run_baselines", "load_baselines", "format_table",
    # the shared results file
    "ResultsFile",
]
