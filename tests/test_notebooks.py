"""Stored notebooks: executed, error-free, and mostly compared by nbval (not blanket-ignored)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IGNORED = {"nbval-ignore-output", "nbval-skip"}


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_every_series_notebook_exists():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stored_and_without_errors(path):
    cells = [c for c in _code_cells(path) if "colab" not in c.metadata.get("tags", [])]
    assert all(c.get("outputs") is not None for c in cells)
    assert sum(bool(c.get("outputs")) for c in cells) >= len(cells) // 2, f"{path.name} looks unexecuted"
    errors = [o for c in cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"


def test_share_of_compared_code_cells():
    """nbval compares every code cell's output except those tagged to be ignored: at least half must count."""
    shares = {}
    for path in NOTEBOOKS:
        cells = _code_cells(path)
        compared = [c for c in cells if not IGNORED & set(c.metadata.get("tags", []))]
        shares[path.name] = len(compared) / len(cells)
    report = ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
    print(f"share of code cells whose output nbval compares: {report}")
    assert min(shares.values()) >= 0.5, report


def test_fast_mode_leaves_committed_figures_alone(monkeypatch, tmp_path):
    """FAST=1 (CI, nbval): save_figure writes outside figures/, unless a folder is given explicitly."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.plot import save_figure
    monkeypatch.setenv("FAST", "1")
    fig = plt.figure()
    try:
        path = save_figure(fig, "fast_mode_probe")
        explicit = save_figure(fig, "fast_mode_probe", folder=tmp_path)
    finally:
        plt.close(fig)
    figures = Path(__file__).resolve().parents[1] / "figures"
    assert path.exists() and figures not in path.parents and not (figures / "fast_mode_probe.png").exists()
    assert explicit == tmp_path / "fast_mode_probe.png" and explicit.exists()
