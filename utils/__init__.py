"""Shared code of the phonon-DoS-with-e3nn notebook series.

Modules import one way, in layers (docs/DESIGN.md draws the graph, tests/test_import_graph.py checks it):
``_env``/``_io`` → ``thermo`` → ``spectra``/``elements`` (grids, units, metrics, element data) → ``graphs``/``model``/
``plot``/``partial_dos``/``alloys`` → ``checkpoint``/``data`` (read shipped files) → ``datagen`` (produce them) →
``train``/``predict`` → ``claims`` (the evidence; its old names ``baselines``/``experiments`` re-export it). Importing
``utils`` has no side effects: no rcParams changes, no prints, no downloads.

Example:
    >>> import utils
    >>> info = utils.setup(seed=0)     # doctest: +SKIP
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["setup", "flag", "is_fast", "wants_training", "__version__"]


from ._env import flag, is_fast, wants_training   # the environment switches (FAST, TRAIN, …): utils/_env.py


def _inline_figures() -> None:
    """In a Jupyter kernel, draw figures inline even when MPLBACKEND=Agg is set (headless runs, CI)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and "IPKernelApp" in shell.config:
        shell.run_line_magic("matplotlib", "inline")


def setup(seed: int = 0, style: bool = True, threads: int | None = 1, verbose: bool = True) -> dict:
    """Seed python/numpy/torch, pick the device, apply the plot style; return what was set.

    Args:
        seed: seed for ``random``, ``numpy`` and ``torch``.
        style: apply ``utils.plot.set_style()`` (matplotlib rcParams) — only here, never on import.
        threads: torch intra-op threads; 1 by default, robust on shared CPUs (Binder, Colab): with 2, OpenMP
            waits on a descheduled partner and ran up to 68× slower under load (benchmarks/results.md).
            None leaves torch's choice.
        verbose: print one line with the mode and library versions (handy when asking for help).
    Returns:
        dict with keys ``device``, ``fast``, ``train``, ``seed``, ``versions``.
    """
    import random
    from importlib.metadata import version

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    _inline_figures()
    if style:
        from .plot import set_style
        set_style()
    versions = {p: version(p) for p in ("torch", "e3nn", "torch_geometric", "pymatgen", "ase", "numpy")}
    info = dict(device=device, fast=is_fast(), train=wants_training(), seed=seed, versions=versions)
    if verbose:
        mode = "FAST" if info["fast"] else "full"
        print(f"mode: {mode} · device: {device} · " + " · ".join(f"{k} {v}" for k, v in versions.items()))
    return info
