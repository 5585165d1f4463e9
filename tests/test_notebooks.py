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
