"""scripts/render_figures_review.py: every figure on one contact sheet, never written into figures/."""
import importlib.util
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("render_figures_review", ROOT / "scripts" / "render_figures_review.py")
review = importlib.util.module_from_spec(spec)
spec.loader.exec_module(review)


def _png(path, size):
    fig, ax = plt.subplots(figsize=size)
    ax.plot([0, 1], [0, 1])
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def test_contact_sheet_tiles_every_figure(tmp_path):
    paths = [_png(tmp_path / "01_a.png", (4, 3)), _png(tmp_path / "02_b.png", (8, 2)), _png(tmp_path / "03_c.png", (3, 3))]
    out = review.main([*map(str, paths), "--out", str(tmp_path / "sheet.png"), "--columns", "2"])
    assert out == 0
    sheet = plt.imread(tmp_path / "sheet.png")
    assert sheet.shape[0] > 100 and sheet.shape[1] > 100


def test_refuses_to_write_into_figures(tmp_path):
    png = _png(tmp_path / "01_a.png", (2, 2))
    with pytest.raises(SystemExit):
        review.main([str(png), "--out", str(ROOT / "figures" / "review.png")])
    assert not (ROOT / "figures" / "review.png").exists()


def test_small_text_risk():
    assert review.small_text_risk(3000) and not review.small_text_risk(1600)
