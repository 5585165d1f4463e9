"""The DoS contract (utils.spectra): grids, widths, units and metrics are defined once and shared by every part."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from utils import spectra as S
from utils import thermo as th

ROOT = Path(__file__).resolve().parents[1]


def test_grids_and_widths():
    np.testing.assert_array_equal(S.FREQ_CM1, np.linspace(0.0, 1000.0, 51))
    np.testing.assert_array_equal(S.FINE_FREQ_CM1, np.arange(0.0, 2000.0 + 1e-9, 2.0))   # the labeller's old form
    assert len(S.FINE_FREQ_CM1) == 1001 and S.FINE_FREQ_CM1[-1] == 2000.0
    assert not S.FREQ_CM1.flags.writeable and not S.FINE_FREQ_CM1.flags.writeable
    assert (S.COARSE_SIGMA_CM1, S.FINE_SIGMA_CM1) == (20.0, 5.0)
    assert S.THZ_TO_CM1 == pytest.approx(33.35641, abs=5e-6)


def test_every_part_uses_the_shared_definitions():
    import utils.data
    import utils.datagen.label as label
    import utils.predict
    import utils.train
    assert utils.data.FREQ_CM1 is S.FREQ_CM1 and utils.data.FINE_FREQ_CM1 is S.FINE_FREQ_CM1
    assert label.COARSE_GRID_CM1 is S.FREQ_CM1 and label.FINE_GRID_CM1 is S.FINE_FREQ_CM1
    assert label.THZ_TO_CM1 == th.THZ_TO_CM1
    settings = label.LabelSettings()
    assert (settings.sigma_coarse_cm1, settings.sigma_fine_cm1) == (S.COARSE_SIGMA_CM1, S.FINE_SIGMA_CM1)
    assert (utils.predict.SIGMA_COARSE_CM1, utils.predict.SIGMA_FINE_CM1) == (S.COARSE_SIGMA_CM1, S.FINE_SIGMA_CM1)
    assert utils.train.wasserstein_cm1 is S.wasserstein_cm1 and utils.train.dos_metrics is S.dos_metrics
    assert utils.predict.mean_frequency is S.mean_frequency


def test_no_module_defines_a_grid_or_metric_again():
    """In the code (not the docstrings) of utils/: no other linspace(0, 1000, 51) / arange(1001) grid, no literal
    THz → cm⁻¹ factor, no second wasserstein_cm1 / mean_frequency / dos_metrics."""
    import ast

    def number(node):
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) else None

    offenders = []
    for path in sorted((ROOT / "utils").rglob("*.py")):
        if path.name == "spectra.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                args = [number(a) for a in node.args]
                if (node.func.attr == "linspace" and args[:3] == [0, 1000, 51]) or \
                        (node.func.attr == "arange" and args in ([1001], [0, 2000 + 1e-9, 2])):
                    offenders.append(f"{where}: a DoS grid")
            elif number(node) is not None and abs(number(node) - 33.35641) < 1e-4:
                offenders.append(f"{where}: a THz → cm⁻¹ factor")
            elif isinstance(node, ast.FunctionDef) and node.name in ("wasserstein_cm1", "mean_frequency", "dos_metrics"):
                offenders.append(f"{where}: def {node.name}")
    assert not offenders, "import it from utils.spectra instead: " + ", ".join(offenders)


def test_mean_frequency_rows_and_scalars():
    g = np.exp(-((S.FREQ_CM1 - 300.0) / 40.0) ** 2)
    rows = np.stack([g, np.roll(g, 5), np.zeros_like(g)])
    out = S.mean_frequency(S.FREQ_CM1, rows)
    assert out.shape == (3,) and np.isnan(out[2])
    assert out[0] == pytest.approx(300.0, abs=1e-6) and out[1] == pytest.approx(400.0, abs=1e-6)
    assert S.mean_frequency(S.FREQ_CM1, g) == out[0]          # a row and a single DoS agree exactly
    assert S.mean_frequency(S.FREQ_CM1, g - 0.5) == S.mean_frequency(S.FREQ_CM1, np.clip(g - 0.5, 0, None))


def test_metrics():
    f = S.FREQ_CM1
    a = np.exp(-((f - 300.0) / 40.0) ** 2)
    b = np.exp(-((f - 340.0) / 40.0) ** 2)
    assert S.wasserstein_cm1(f, a, b) == pytest.approx(40.0, rel=1e-3)      # a rigid shift moves every quantile
    assert S.wasserstein_cm1(f, a, 3 * a) < 1e-9                             # shapes, not scales
    rel = S.heat_capacity_rel_error(f, np.stack([a, a]), np.stack([a, b]))
    cv = [th.heat_capacity(f, x, 300.0) for x in (a, b)]
    assert rel[0] == 0.0 and rel[1] == pytest.approx(abs(cv[1] - cv[0]) / cv[0], rel=1e-12) and rel[1] > 0
    m = S.dos_metrics(f, np.stack([a, a]), np.stack([a, b]))
    assert m["cv300_rel_error_pct"] == pytest.approx(50 * rel[1], rel=1e-12) and m["n"] == 2
    assert m["wasserstein_cm1"] == pytest.approx(20.0, rel=1e-3)
