"""Figures shared by the notebooks. A leaf module: imports nothing else from ``utils`` but the environment switches
(``utils._env``, standard library only).

Nothing here changes matplotlib's global state except ``set_style()``, which the notebooks call explicitly
(through ``utils.setup()``).

Example:
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> plot_dos(ax, np.linspace(0, 1000, 51), np.ones(51), label="flat")   # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._env import is_fast

PALETTE = {"target": "#1f1f1f", "prediction": "#d1495b", "reference": "#00798c", "fill": "#edae49",
           "train": "#00798c", "valid": "#d1495b", "test": "#66a182"}
FREQ_LABEL = r"Frequency $\omega$ (cm$^{-1}$)"
DOS_LABEL = r"DoS $g(\omega)$ (max-normalized)"


def set_style() -> None:
    """Apply the series' plot style (seaborn 'ticks', readable on a projector)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="ticks", context="notebook")
    mpl.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "savefig.bbox": "tight", "axes.spines.top": False,
                         "axes.spines.right": False, "legend.frameon": False, "figure.figsize": (6.0, 3.6),
                         "font.family": "DejaVu Sans"})


def plot_dos(ax, freq_cm1, dos, label=None, color=None, fill=False, **kw):
    """Draw one DoS curve on `ax` (frequency in cm⁻¹ on x); returns the line."""
    (line,) = ax.plot(freq_cm1, dos, label=label, color=color, **kw)
    if fill:
        ax.fill_between(freq_cm1, 0, dos, color=line.get_color(), alpha=0.25, lw=0)
    ax.set_xlabel(FREQ_LABEL)
    ax.set_ylabel(DOS_LABEL)
    ax.set_xlim(float(np.min(freq_cm1)), float(np.max(freq_cm1)))
    ax.set_ylim(bottom=0)
    return line


def parity_plot(ax, target, prediction, label="", units=""):
    """Predicted vs true values with the y = x line; `units` goes in both axis labels."""
    target, prediction = np.asarray(target), np.asarray(prediction)
    lo, hi = float(min(target.min(), prediction.min())), float(max(target.max(), prediction.max()))
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=1, zorder=0)
    ax.scatter(target, prediction, s=12, alpha=0.7, color=PALETTE["prediction"], edgecolor="none")
    unit = f" ({units})" if units else ""
    ax.set_xlabel(f"true {label}{unit}")
    ax.set_ylabel(f"predicted {label}{unit}")
    ax.set_aspect("equal", adjustable="box")


def quartile_grid(freq_cm1, targets, predictions, errors, titles, n_per_quartile=4, seed=0):
    """The original tutorial's figure: example predictions from each error quartile (best → worst).

    Args:
        freq_cm1: (n_grid,) grid; targets, predictions: (n, n_grid); errors: (n,) per-material error.
        titles: (n,) strings (e.g. formulas).
    Returns:
        the matplotlib Figure (4 rows = quartiles, `n_per_quartile` columns).
    """
    import matplotlib.pyplot as plt

    errors = np.asarray(errors)
    rng = np.random.default_rng(seed)
    quartile = np.minimum(4 * np.argsort(np.argsort(errors)) // len(errors), 3)   # each material in one row
    fig, axes = plt.subplots(4, n_per_quartile, figsize=(2.3 * n_per_quartile, 6.8), sharex=True, sharey=True)
    for q in range(4):
        in_q = np.where(quartile == q)[0]
        pick = rng.choice(in_q, size=min(n_per_quartile, len(in_q)), replace=False)
        for j, ax in enumerate(axes[q]):
            if j >= len(pick):
                ax.axis("off")
                continue
            i = pick[j]
            ax.fill_between(freq_cm1, 0, targets[i], color="0.8", lw=0, label="label")
            ax.plot(freq_cm1, predictions[i], color=PALETTE["prediction"], lw=1.5, label="prediction")
            ax.set_title(titles[i], fontsize=9)
            ax.set_yticks([])
        axes[q, 0].set_ylabel(f"Q{q + 1}", rotation=0, labelpad=12, fontsize=10)
    for ax in axes[-1]:
        ax.set_xlabel(r"$\omega$ (cm$^{-1}$)")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    fig.suptitle("Test predictions by error quartile (Q1 best → Q4 worst)", y=1.0)
    fig.tight_layout()
    return fig


def network_stages(model) -> list[tuple[str, str, str]]:
    """The irreps at every stage of a ``utils.model.PeriodicNetwork``, read from its layers (taught in notebook 03 §8).

    Returns ``(stage, operation, irreps)`` rows, input to output. Only attributes of the model are read
    (``irreps_embedding``, ``layers[i].conv`` / ``.gate``, ``output_conv``), so this module stays a leaf.

    Example::

        >>> from utils.model import PeriodicNetwork, ModelConfig   # doctest: +SKIP
        >>> network_stages(PeriodicNetwork(ModelConfig()))[0]       # doctest: +SKIP
        ('input x_a', 'mass-weighted one-hot', '118x0e')
    """
    cfg = model.config
    rows = [("input x_a", "mass-weighted one-hot" if cfg.node_input == "mass" else "one-hot", f"{cfg.in_dim}x0e"),
            ("node attribute o_a", "occupancy one-hot", f"{cfg.in_dim}x0e"),
            ("embedding", "Linear + ReLU (shared)", f"features {model.irreps_embedding}, attributes {model.irreps_node_attr}"),
            ("edges", f"Y(r̂) up to l = {cfg.lmax}; {cfg.num_basis} radial Gaussians", str(model.irreps_edge_attr))]
    for i, layer in enumerate(model.layers, start=1):
        conv = layer.conv
        rows.append((f"conv {i}", "lin1 ⊗ Y (tensor product) → sum over neighbours", str(conv.irreps_mid.simplify())))
        rows.append((f"conv {i} out", "lin2 + self-connection", str(conv.irreps_out)))
        rows.append((f"gate {i}", "scalars: SiLU/tanh; l > 0: × sigmoid(gate)", str(layer.irreps_out)))
    conv = model.output_conv
    rows.append(("output conv", "lin1 ⊗ Y → sum over neighbours", str(conv.irreps_mid.simplify())))
    rows.append(("output conv out", "lin2 + self-connection", str(conv.irreps_out)))
    rows.append(("DoS", "ReLU → mean over atoms → ÷ max", f"{cfg.out_dim} values per crystal"))
    return rows


def plot_network_diagram(model, ax=None):
    """Draw the stages of :func:`network_stages` as a column of boxes with their irreps; returns the axes."""
    import matplotlib.pyplot as plt

    rows = network_stages(model)
    if ax is None:
        _, ax = plt.subplots(figsize=(9.0, 0.62 * len(rows) + 0.4))
    n = len(rows)
    for k, (stage, operation, irreps) in enumerate(rows):
        y = n - 1 - k
        color = PALETTE["reference"] if "gate" in stage else PALETTE["prediction"] if "conv" in stage else "0.35"
        ax.add_patch(plt.Rectangle((0.0, y - 0.36), 0.27, 0.72, facecolor=color, alpha=0.18, edgecolor=color))
        ax.text(0.135, y, stage, ha="center", va="center", fontsize=10, weight="bold")
        ax.text(0.30, y + 0.14, irreps, ha="left", va="center", fontsize=10, family="DejaVu Sans Mono")
        ax.text(0.30, y - 0.2, operation, ha="left", va="center", fontsize=8.5, color="0.3")
        if k < n - 1:
            ax.annotate("", xy=(0.135, y - 0.64), xytext=(0.135, y - 0.37),
                        arrowprops=dict(arrowstyle="->", color="0.4", lw=1))
    ax.set(xlim=(0, 1.15), ylim=(-0.6, n - 0.4))
    ax.axis("off")
    return ax


def draw_cell(ax, cell, color="0.6", lw: float = 0.8):
    """Draw the 12 edges of the parallelepiped spanned by the rows of ``cell`` (Å) on a 3-D ``ax``; returns the
    ``Line3DCollection`` (the axis limits grow to include the cell). Used in notebooks 02 §3 and 04 §4.

    Corners are the 8 points n·cell with n ∈ {0, 1}³; an edge joins two corners that differ in one lattice vector.

    Example:
        >>> import matplotlib.pyplot as plt
        >>> ax = plt.figure().add_subplot(projection="3d")
        >>> _ = draw_cell(ax, np.eye(3) * 4.0)             # a 4 Å cube
        >>> bool(np.ptp(ax.get_xlim()) >= 4.0)           # the limits grew to hold it
        True
    """
    import itertools

    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    corners = np.array(list(itertools.product([0, 1], repeat=3)))  # (8, 3) fractional
    pairs = [(p, q) for p in range(8) for q in range(p + 1, 8) if np.abs(corners[p] - corners[q]).sum() == 1]
    segments = [corners[[p, q]] @ np.asarray(cell, float) for p, q in pairs]  # 12 × (2, 3) Å
    lines = Line3DCollection(segments, colors=color, lw=lw)
    ax.add_collection3d(lines)
    return lines


def save_figure(fig, name: str, folder: str | Path | None = None) -> Path:
    """Save `fig` as PNG under the repository's figures/ folder (or `folder`); returns the path.

    In FAST mode (``FAST=1``: CI, ``make test``) a figure without an explicit `folder` goes to a temporary
    folder instead: the committed figures/ are the full-mode outputs, and a test run must not rewrite them.
    """
    if folder is None and is_fast():
        import tempfile
        folder = Path(tempfile.gettempdir()) / "phonon_dos_e3nn_fast_figures"
    folder = Path(folder) if folder else Path(__file__).resolve().parents[1] / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path)
    return path
