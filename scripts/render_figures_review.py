"""Render every figure of the series into one contact sheet, for a readability review.

    python scripts/render_figures_review.py                       # → _build/figures_review.png
    python scripts/render_figures_review.py --out review.png --columns 3 figures/07_*.png

Each tile is one PNG of ``figures/`` scaled to the same width, titled with its file name and its size in
pixels. A figure is also listed as *small text risk* when, shown 1280 px wide (a projector), it would be
scaled below half of its saved width: at the series' 150 dpi, 9-pt labels then fall under ~6 px. Nothing in
``figures/`` is written; the sheet goes to ``_build/`` (ignored by git) unless ``--out`` says otherwise.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECTOR_WIDTH_PX = 1280


def small_text_risk(width_px: int, projector_width_px: int = PROJECTOR_WIDTH_PX) -> bool:
    """True if a figure `width_px` wide is shrunk below half its size to fit a projector's width."""
    return width_px > 2 * projector_width_px


def contact_sheet(paths: list[Path], out: Path, columns: int = 4, tile_width_in: float = 4.2) -> Path:
    """Tile the PNGs in `paths` (in order) into one figure saved at `out`; returns `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    if not paths:
        raise SystemExit("no figures to render: give PNG paths or run the notebooks first (figures/ is empty)")
    images = [mpimg.imread(p) for p in paths]
    rows = math.ceil(len(images) / columns)
    heights = [max(img.shape[0] / img.shape[1] for img in images[r * columns:(r + 1) * columns]) for r in range(rows)]
    fig, axes = plt.subplots(rows, columns, figsize=(tile_width_in * columns, sum(h * tile_width_in + 0.4 for h in heights)),
                             gridspec_kw=dict(height_ratios=heights), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, path, img in zip(axes.flat, paths, images):
        ax.imshow(img)
        risk = " · small text risk" if small_text_risk(img.shape[1]) else ""
        ax.set_title(f"{path.name} ({img.shape[1]}×{img.shape[0]} px){risk}", fontsize=8,
                     color="firebrick" if risk else "black")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figures", nargs="*", type=Path, help="PNG files (default: figures/*.png)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "figures_review.png")
    parser.add_argument("--columns", type=int, default=4)
    args = parser.parse_args(argv)
    paths = sorted(args.figures) if args.figures else sorted((ROOT / "figures").glob("[0-9]*.png"))
    out = args.out.resolve()
    if out.parent == (ROOT / "figures").resolve():
        parser.error("--out must not be inside figures/ (the shipped figures)")
    contact_sheet(paths, out, columns=args.columns)
    print(f"{len(paths)} figures → {out}")
    import matplotlib.image as mpimg

    risky = [p.name for p in paths if small_text_risk(mpimg.imread(p).shape[1])]
    print(f"small text risk at {PROJECTOR_WIDTH_PX} px: {', '.join(risky) if risky else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
