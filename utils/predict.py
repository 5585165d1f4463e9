"""Predict the phonon DoS — total and partial, by element — of your own crystals.

The network of :mod:`utils.model` only ever saw *total* DoS, yet it builds the total as a mean of
per-atom outputs. Summing those per-atom outputs by element gives a **partial DoS** that adds up to
the total exactly (notebook 05):

    g(ω)   = (1/N) Σ_a g_a(ω) / max            (the network's output, max = 1; the shipped ensemble's is the
                                                 mean of three networks' g and g_a, max ≤ 1)
    g_E(ω) = (1/N) Σ_a occ_a(E) g_a(ω) / max    (occ_a(E) = 1 if atom a is an E atom; its occupancy
                                                 on a partially occupied, "N-hot", site)
    Σ_E g_E(ω) = g(ω)

Functions:

* :func:`predict_structures` — pymatgen ``Structure`` / ase ``Atoms`` → dicts with the DoS on the model
  grid, partial DoS by element (:func:`utils.partial_dos.element_partial_dos`), C_V(300 K), DoS peaks
  (:func:`peak_positions`) and flags (``n_hot``, ``unseen_elements``, ``geometry_warning``).
* :func:`read_structures`, :func:`load_model`, :func:`plot_prediction`, :func:`format_summary`.
* re-exported for notebook 05: the partial-DoS labels and scores of :mod:`utils.partial_dos`
  (:func:`coarse_from_fine`, :func:`label_partial_dos`, :func:`partial_dos_scores`, :func:`weight_fractions`,
  :func:`composition_baseline`), :func:`utils.alloys.virtual_crystal` and :func:`utils.spectra.mean_frequency`.
* a command line::

      python -m utils.predict my.cif POSCAR [--plot dos.png] [--json] [--checkpoint DIR] [--max-atoms 200]

  Every structure of a file is predicted (all data blocks of a CIF, all frames of an extxyz); a site with
  occupancy ≤ 0, too many edges for memory, or lengths far outside the training set are reported, never
  silently dropped or passed.

Example::

    >>> from pymatgen.core import Structure
    >>> from utils.predict import predict_structures
    >>> result, = predict_structures([Structure.from_file("NaCl.cif")])      # doctest: +SKIP
    >>> sorted(result["pdos"]), result["dos"].shape, round(result["cv300_J_per_molK"], 1)  # doctest: +SKIP
    (['Cl', 'Na'], (51,), 23.8)
"""
from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .alloys import virtual_crystal  # noqa: F401  (re-exported: taught with prediction in notebook 05 §5)
from .partial_dos import (SIGMA_COARSE_CM1, SIGMA_FINE_CM1, composition_baseline,  # noqa: F401  (re-exported)
                          coarse_from_fine, element_partial_dos, label_partial_dos, partial_dos_scores,
                          weight_fractions)
from .spectra import FREQ_CM1, mean_frequency

__all__ = [
    "PredictError", "read_structure", "read_structures", "load_model", "predict_structures", "element_partial_dos",
    "coarse_from_fine", "label_partial_dos", "composition_baseline", "weight_fractions", "mean_frequency",
    "peak_positions", "partial_dos_scores", "virtual_crystal", "plot_prediction", "format_summary", "main",
    "SIGMA_FINE_CM1", "SIGMA_COARSE_CM1", "DEFAULT_MAX_ATOMS", "DEFAULT_MAX_EDGES", "geometry_warning",
]

DEFAULT_MAX_ATOMS = 200  # CLI: larger cells are refused (memory and time grow with the number of edges)
FULL_OCCUPANCY = 1 - 1e-6  # occupancies below this count as partial ("N-hot" site)
# Edges (ordered neighbour pairs within r_max) per structure: memory of a forward pass grows with them. The
# shipped model's training set has at most 712 per structure and 42 per atom; 200 atoms × 100 neighbours fit.
DEFAULT_MAX_EDGES = 20_000
MAX_BATCH_EDGES = 100_000  # a batch of several structures holds at most this many edges (or one structure)
# Geometry check (lengths in Å?): the checkpoint's train_geometry ranges, widened by these factors; checkpoints
# without it use DEFAULT_GEOMETRY (the embedded dataset v1: 1.633-3.812 Å, 6.98-61.1 Å^3 per atom).
DISTANCE_MARGIN = 1.5            # shortest interatomic distance within [lo / 1.5, hi × 1.5]
VOLUME_MARGIN = DISTANCE_MARGIN ** 3
DEFAULT_GEOMETRY = {"min_distance_A": [1.633, 3.8117], "volume_per_atom_A3": [6.9846, 61.0725]}


class PredictError(ValueError):
    """An input the predictor cannot use (unreadable file, too many atoms); the message names it."""


# ------------------------------------------------------------------------------------------------ input
def read_structure(path: str | Path):
    """Read the one crystal in ``path`` (CIF, POSCAR, … anything pymatgen or ase reads) → pymatgen ``Structure``.

    Like :func:`read_structures`, for a file that holds exactly one structure.

    Raises:
        PredictError: as :func:`read_structures`, or the file holds several structures (several CIF data
            blocks, several extxyz frames): use :func:`read_structures`, which returns all of them.
    """
    structures = read_structures(path)
    if len(structures) > 1:
        raise PredictError(f"{path}: holds {len(structures)} structures; read_structure returns one, so use "
                           "read_structures() to get all of them (the command line predicts each).")
    return structures[0]


def read_structures(path: str | Path) -> list:
    """Every crystal in ``path`` → list of pymatgen ``Structure`` (or ase ``Atoms``), in file order.

    CIF files: each data block with atom sites is one structure (pymatgen, which keeps partial occupancies).
    Before parsing, every ``_atom_site_occupancy`` is checked: pymatgen drops a site with occupancy ≤ 0
    without a word, so such a site is refused here. Other files: pymatgen first (POSCAR, …), then ase with
    all frames (extxyz, traj, …); ase ``Atoms`` are returned as they are (``structure_to_graph`` accepts both).

    Raises:
        PredictError: the file does not exist, is a folder, has a site with occupancy ≤ 0, a data block that
            cannot be read, or neither reader understands it (the message names the file and the readers'
            complaints).
    """
    path = Path(path)
    if not path.exists():
        raise PredictError(f"{path}: no such file")
    if path.is_dir():
        raise PredictError(f"{path}: is a folder, not a structure file")
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # pymatgen's CIF parser warns about every rounding
        if path.suffix.lower() in (".cif", ".mcif"):
            try:
                return _read_cif(path)
            except PredictError:
                raise
            except Exception as exc:             # noqa: BLE001 - any parser failure: try the next reader
                errors.append(f"pymatgen: {_short(exc)}")
        else:
            try:
                from pymatgen.core import Structure
                return [Structure.from_file(str(path))]
            except Exception as exc:             # noqa: BLE001 - any parser failure: try the next reader
                errors.append(f"pymatgen: {_short(exc)}")
        try:
            import ase.io
            frames = ase.io.read(str(path), index=":")
            frames = frames if isinstance(frames, list) else [frames]
            if frames:
                return frames
            errors.append("ase: no structure in the file")
        except Exception as exc:                 # noqa: BLE001
            errors.append(f"ase: {_short(exc)}")
    raise PredictError(f"{path}: cannot read a crystal structure ({'; '.join(errors)}). "
                       "Use a CIF, a VASP POSCAR or another format pymatgen or ase reads.")


def _cif_number(text: str) -> float:
    """A CIF number such as '0.50(2)' → 0.5; '.' and '?' (unknown) → 1."""
    import re

    text = str(text).strip()
    if text in (".", "?"):
        return 1.0
    return float(re.sub(r"\(\d*\)$", "", text))


def _read_cif(path: Path) -> list:
    from pymatgen.io.cif import CifFile, CifParser

    blocks = [(name, block) for name, block in CifFile.from_file(str(path)).data.items()
              if "_atom_site_fract_x" in block.data or "_atom_site_Cartn_x" in block.data]
    for name, block in blocks:
        occupancies = block.data.get("_atom_site_occupancy")
        if occupancies is None:
            continue
        labels = block.data.get("_atom_site_label") or block.data.get("_atom_site_type_symbol") or []
        for k, text in enumerate(occupancies if isinstance(occupancies, list) else [occupancies]):
            try:
                occ = _cif_number(text)
            except ValueError:
                raise PredictError(f"{path}: data block {name!r}, site {labels[k] if k < len(labels) else k}: "
                                   f"occupancy {text!r} is not a number") from None
            if not occ > 0:
                raise PredictError(f"{path}: data block {name!r}, site {labels[k] if k < len(labels) else k} has "
                                   f"occupancy {text}: a site needs a positive occupancy (the CIF reader would "
                                   "drop it silently). Fix the occupancy or delete the site.")
    structures = CifParser(str(path)).parse_structures(primitive=False)
    if len(structures) != len(blocks):
        raise PredictError(f"{path}: {len(blocks)} data blocks with atom sites, but only {len(structures)} could be "
                           "read; fix or remove the others so that none is skipped.")
    return structures


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def load_model(checkpoint: str | Path | None = None):
    """Load a checkpoint folder → ``(model, meta)`` (default: the shipped ``checkpoints/default``).

    Like :func:`utils.train.load_checkpoint`, but every way a checkpoint can be broken (missing files,
    unreadable JSON, missing keys, weights that do not load) raises :class:`utils.train.CheckpointError`
    naming the folder.
    """
    from .checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint

    directory = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    try:
        return load_checkpoint(directory)
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, OSError, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"checkpoint {directory} is corrupt or incomplete ({type(exc).__name__}: "
                              f"{_short(exc)}). Restore it (git checkout -- checkpoints) or retrain "
                              "with `make train`.") from None
    except Exception as exc:                     # noqa: BLE001 - e.g. pickle errors of a damaged model.pt
        raise CheckpointError(f"checkpoint {directory} cannot be loaded ({type(exc).__name__}: {_short(exc)}). "
                              "Restore it (git checkout -- checkpoints) or retrain with `make train`.") from None


# ------------------------------------------------------------------------------------------ prediction
def _model_grid(model, meta: dict | None) -> np.ndarray:
    if meta and meta.get("freq_cm1") is not None:
        return np.asarray(meta["freq_cm1"], float)
    out_dim = model.config.out_dim
    if out_dim != len(FREQ_CM1):
        raise ValueError(f"the model predicts {out_dim} points but its metadata has no freq_cm1 grid; "
                         "pass meta with a 'freq_cm1' list")
    return np.array(FREQ_CM1)


def geometry_warning(graph, meta: dict | None = None) -> str | None:
    """A sentence if the crystal's lengths lie far outside those of the training set, else None.

    Compares the shortest interatomic distance (Å) and the volume per atom (Å³) with the checkpoint's
    ``train_geometry`` (or ``DEFAULT_GEOMETRY``), widened by ``DISTANCE_MARGIN`` (×1.5) and ``VOLUME_MARGIN``
    (×1.5³). A CIF written in nm (a = 0.564 for NaCl) is 10× too small: the network then predicts nonsense.
    """
    from .train import graph_geometry

    return _geometry_message(*graph_geometry(graph), meta)


def _geometry_message(d_min: float | None, volume: float, meta: dict | None) -> str | None:
    ranges = (meta or {}).get("train_geometry") or DEFAULT_GEOMETRY
    (d_lo, d_hi), (v_lo, v_hi) = ranges["min_distance_A"], ranges["volume_per_atom_A3"]
    d = d_min if d_min is not None else math.sqrt(d_lo * d_hi)        # unknown: inside the range
    small = d < d_lo / DISTANCE_MARGIN or volume < v_lo / VOLUME_MARGIN
    large = d > d_hi * DISTANCE_MARGIN or volume > v_hi * VOLUME_MARGIN
    if not (small or large):
        return None
    cause = ("lengths in nm instead of Å (multiply by 10)?" if small else
             "lengths in bohr instead of Å (multiply by 0.529), or a cell with vacuum or missing atoms?")
    shortest = f"shortest interatomic distance {d_min:.3g} Å and " if d_min is not None else ""
    return (f"{shortest}volume {volume:.3g} Å^3 per atom, far outside the training set ({d_lo:g}-{d_hi:g} Å, "
            f"{v_lo:g}-{v_hi:g} Å^3 per atom): {cause} The prediction is not meaningful for this cell.")


def _edge_estimate(structure, r_max: float) -> tuple[float, float]:
    """(expected neighbour pairs within r_max = N · (N / V) · 4/3 π r_max³ for a uniform density, V / N in Å³)."""
    from .graphs import structure_arrays

    positions, cell, _ = structure_arrays(structure)
    with np.errstate(all="ignore"):
        volume = abs(float(np.linalg.det(cell))) if np.isfinite(cell).all() else 0.0
    n = max(len(positions), 1)
    if not (volume > 0 and math.isfinite(volume)):
        return 0.0, float("nan")
    return n * n / volume * 4.0 / 3.0 * math.pi * r_max ** 3, volume / n


def _graph_checked(structure, index: int, r_max: float, max_edges: int, meta: dict | None = None):
    from .graphs import GraphError, structure_to_graph

    def hint(d_min, volume):
        cause = _geometry_message(d_min, volume, meta) if math.isfinite(volume) else None
        return ("too many neighbour pairs for the memory of one forward pass. "
                + (cause + " " if cause else "Atoms far too close, or r_max too large? ")
                + "Check the structure, or raise max_edges (--max-edges) if it is right.")

    estimate, volume = _edge_estimate(structure, r_max)
    if estimate > 10 * max_edges:          # before the neighbour list itself takes the memory
        raise GraphError(f"structure {index}: about {estimate:.3g} edges within r_max = {r_max:g} Å expected, "
                         f"limit {max_edges}: {hint(None, volume)}")
    graph = structure_to_graph(structure, r_max=r_max)
    n_edges = int(graph.edge_index.shape[1])
    if n_edges > max_edges:
        from .train import graph_geometry
        raise GraphError(f"structure {index}: {n_edges} edges within r_max = {r_max:g} Å "
                         f"({n_edges / graph.n_atoms:.0f} per atom), limit {max_edges}: {hint(*graph_geometry(graph))}")
    return graph


def _edge_batches(graphs, batch_size: int, max_batch_edges: int):
    """Consecutive groups of graphs: at most batch_size graphs and max_batch_edges edges (or one graph) each."""
    group, edges = [], 0
    for g in graphs:
        e = int(g.edge_index.shape[1])
        if group and (len(group) >= batch_size or edges + e > max_batch_edges):
            yield group
            group, edges = [], 0
        group.append(g)
        edges += e
    if group:
        yield group


def predict_structures(structures: Sequence[Any], model=None, meta: dict | None = None, r_max: float | None = None,
                       temperature_K: float = 300.0, batch_size: int = 32,
                       max_edges: int = DEFAULT_MAX_EDGES) -> list[dict]:
    """Predict total and partial DoS (by element), C_V and DoS peaks for crystals.

    Args:
        structures: pymatgen ``Structure`` (ordered or with partial occupancies → N-hot input) or ase
            ``Atoms`` (pbc=True), in any number.
        model, meta: a :class:`utils.model.PeriodicNetwork` and its checkpoint metadata; ``model=None``
            loads the shipped checkpoint (:func:`load_model`).
        r_max: graph cutoff (Å); default: the model's.
        temperature_K: temperature of the heat capacity (K).
        batch_size: crystals per forward pass (fewer when they hold more than ``MAX_BATCH_EDGES`` edges).
        max_edges: most edges (neighbour pairs within r_max) one structure may have; memory grows with them.

    Returns:
        one dict per structure: ``formula`` (reduced), ``n_sites``, ``freq_cm1`` (n_grid,) cm⁻¹,
        ``dos`` (n_grid,) max-normalized, ``per_atom`` (n_sites, n_grid), ``pdos`` {element: (n_grid,)}
        with Σ_E pdos_E = dos, ``pdos_weight`` {element: ∫g_E / ∫g} (the model's share of the modes),
        ``composition`` {element: atom fraction} (the exact share, by the sum rule ∫g_E = 3N_E),
        ``mean_freq_cm1``, ``peaks_cm1`` (highest first), ``cv_J_per_molK`` at ``temperature_K``
        (J mol⁻¹ K⁻¹ per mole of atoms; also under ``cv300_J_per_molK`` when T = 300 K; NaN if the
        predicted DoS is zero everywhere), ``n_hot`` (True if any site is partially occupied),
        ``mixed_sites`` (labels of those sites), ``unseen_elements`` (elements absent from the
        checkpoint's ``meta['train_elements']``; None if the checkpoint does not record them),
        ``geometry_warning`` (:func:`geometry_warning`: a sentence when the lengths lie far outside the
        training set, e.g. a CIF in nm; else None).

    Raises:
        utils.graphs.GraphError: a structure cannot become a graph (vacancy, isolated atom, isotope, a cell
        longer than 10⁴ Å, more than ``max_edges`` edges, …); the message names the structure's index.

    Example::

        >>> from ase.build import bulk
        >>> r, = predict_structures([bulk("NaCl", "rocksalt", a=5.64)])     # doctest: +SKIP
        >>> bool(np.allclose(sum(r["pdos"].values()), r["dos"], atol=1e-5))  # doctest: +SKIP
        True

    Taught in notebook 05 §1 (your own crystal: §6).
    """
    import torch
    from ase.data import chemical_symbols
    from torch_geometric.data import Batch

    from .thermo import heat_capacity

    if model is None:
        model, meta = load_model()
    model.eval()
    freq = _model_grid(model, meta)
    r_max = float(r_max if r_max is not None else model.config.r_max)
    train_elements = set(meta["train_elements"]) if meta and meta.get("train_elements") else None
    graphs = [_graph_checked(s, i, r_max, max_edges, meta) for i, s in enumerate(structures)]
    results: list[dict] = []
    with torch.no_grad():
        for group in _edge_batches(graphs, batch_size, MAX_BATCH_EDGES):
            batch = Batch.from_data_list(group)
            dos, per_atom = model(batch, return_per_atom=True)          # (B, G), (n_nodes, G)
            ptr = batch.ptr.tolist()
            for b in range(len(ptr) - 1):
                occ = batch.node_attr[ptr[b]:ptr[b + 1]].double().numpy()      # (N, 118)
                atoms_out = per_atom[ptr[b]:ptr[b + 1]].double().numpy()      # (N, G)
                results.append(_result(freq, dos[b].double().numpy(), atoms_out, occ, train_elements,
                                       temperature_K, heat_capacity, chemical_symbols))
                results[-1]["geometry_warning"] = geometry_warning(group[b], meta)
    return results


def _result(freq, dos, per_atom, occ, train_elements, temperature_K, heat_capacity, symbols) -> dict:
    from pymatgen.core import Composition

    pdos = element_partial_dos(per_atom, occ)
    amounts = {el: float(occ[:, symbols.index(el) - 1].sum()) for el in pdos}
    n_sites = occ.shape[0]
    partial = (occ > 0) & (occ < FULL_OCCUPANCY)
    mixed_rows = np.flatnonzero(partial.any(axis=1))
    mixed_sites = ["".join(f"{symbols[z + 1]}{occ[i, z]:g}" for z in np.flatnonzero(occ[i])) for i in mixed_rows]
    area = float(np.trapezoid(dos, freq))
    weights = {el: (float(np.trapezoid(v, freq)) / area if area > 0 else float("nan")) for el, v in pdos.items()}
    try:
        cv = float(heat_capacity(freq, np.clip(dos, 0, None), temperature_K))
    except ValueError:                       # all-zero prediction: no heat capacity to speak of
        cv = float("nan")
    result = dict(
        formula=Composition(amounts).reduced_formula, n_sites=n_sites, freq_cm1=freq, dos=dos,
        per_atom=per_atom, pdos=pdos, pdos_weight=weights,
        composition={el: a / n_sites for el, a in amounts.items()},
        mean_freq_cm1=mean_frequency(freq, dos) if area > 0 else float("nan"),
        peaks_cm1=peak_positions(freq, dos), temperature_K=float(temperature_K), cv_J_per_molK=cv,
        n_hot=bool(len(mixed_rows)), mixed_sites=mixed_sites,
        unseen_elements=None if train_elements is None else [el for el in pdos if el not in train_elements])
    if math.isclose(temperature_K, 300.0):
        result["cv300_J_per_molK"] = cv
    return result


# ------------------------------------------------------------------------------------- DoS descriptors
# mean_frequency: utils.spectra (re-exported here)


def peak_positions(freq_cm1, dos, prominence: float = 0.1, max_peaks: int = 4) -> list[float]:
    """Positions (cm⁻¹) of the DoS peaks, highest first, refined by a parabola through 3 grid points.

    A peak must stand out by ``prominence`` × max(dos) (scipy.signal.find_peaks); at most ``max_peaks``.

    Example::

        >>> f = np.linspace(0, 1000, 51); g = np.exp(-((f - 310) / 40) ** 2)
        >>> [round(p) for p in peak_positions(f, g)]
        [310]
    """
    from scipy.signal import find_peaks

    f, g = np.asarray(freq_cm1, float), np.asarray(dos, float)
    top = g.max() if g.size else 0.0
    if not top > 0:
        return []
    padded = np.concatenate([[0.0], g, [0.0]])          # a maximum at the grid's edge counts too
    idx, _ = find_peaks(padded, prominence=prominence * top)
    idx = idx - 1
    idx = idx[np.argsort(-g[idx])][:max_peaks]
    out = []
    for i in idx:
        if 0 < i < len(g) - 1:
            a, b, c = g[i - 1], g[i], g[i + 1]
            denom = a - 2 * b + c
            shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
            out.append(float(f[i] + np.clip(shift, -0.5, 0.5) * (f[i + 1] - f[i - 1]) / 2))
        else:
            out.append(float(f[i]))
    return out


# --------------------------------------------------------------------------------------------- output
def plot_prediction(result: dict, ax=None, title: str | None = None):
    """Draw the predicted total DoS and its partial DoS by element on ``ax``; returns ``ax``."""
    if ax is None:
        import matplotlib.pyplot as plt
        ax = plt.gca()
    f = result["freq_cm1"]
    ax.fill_between(f, 0, result["dos"], color="0.85", lw=0, label="total")
    ax.plot(f, result["dos"], color="0.2", lw=1.2)
    styles = ["-", "--", ":", "-."]        # elements of one mixed site share a shape: keep both visible
    for k, (el, g) in enumerate(result["pdos"].items()):
        ax.plot(f, g, lw=1.6, ls=styles[k % len(styles)], label=el)
    ax.set_xlim(float(f[0]), float(f[-1]))
    ax.set_ylim(bottom=0)
    ax.set_xlabel(r"Frequency $\omega$ (cm$^{-1}$)")
    ax.set_ylabel(r"predicted $g(\omega)$ (max-normalized)")
    note = " (N-hot)" if result.get("n_hot") else ""
    ax.set_title(title if title is not None else f"{result['formula']}{note}")
    ax.legend(fontsize=8)
    return ax


def format_summary(name: str, result: dict) -> str:
    """A few readable lines (ASCII only) about one prediction, as the CLI prints them."""
    peaks = ", ".join(f"{p:.0f}" for p in result["peaks_cm1"]) or "none"
    weights = ", ".join(f"{el} {w:.3f}" for el, w in result["pdos_weight"].items())
    comp = ", ".join(f"{el} {c:.3f}" for el, c in result["composition"].items())
    cv = result["cv_J_per_molK"]
    lines = [f"{name}: {result['formula']}, {result['n_sites']} sites",
             f"  DoS peaks (cm^-1, highest first): {peaks}",
             f"  mean frequency: {result['mean_freq_cm1']:.1f} cm^-1",
             f"  C_V({result['temperature_K']:.0f} K): "
             + (f"{cv:.2f} J/(mol K) per mole of atoms (Dulong-Petit limit 24.94)" if np.isfinite(cv)
                else "undefined (the predicted DoS is zero everywhere)"),
             f"  partial DoS weights (share of modes): {weights}",
             f"  atom fractions (exact share of modes): {comp}"]
    if result["n_hot"]:
        lines.append(f"  N-hot input: {len(result['mixed_sites'])} partially occupied site(s) "
                     f"({', '.join(sorted(set(result['mixed_sites'])))}); each mixed site's output is shared "
                     "among its elements by occupancy")
    if result["unseen_elements"]:
        lines.append(f"  note: {', '.join(result['unseen_elements'])} not in the training set (extrapolation)")
    if result.get("geometry_warning"):
        lines.append(f"  WARNING: {result['geometry_warning']}")
    return "\n".join(lines)


def _jsonable(name: str, result: dict) -> dict:
    def num(v):
        v = float(v)
        return round(v, 6) if np.isfinite(v) else None

    return dict(
        file=name, formula=result["formula"], n_sites=result["n_sites"],
        n_hot=result["n_hot"], mixed_sites=result["mixed_sites"], unseen_elements=result["unseen_elements"],
        freq_cm1=[num(v) for v in result["freq_cm1"]], dos=[num(v) for v in result["dos"]],
        pdos={el: [num(v) for v in g] for el, g in result["pdos"].items()},
        pdos_weight={el: num(w) for el, w in result["pdos_weight"].items()},
        composition={el: num(c) for el, c in result["composition"].items()},
        peaks_cm1=[num(p) for p in result["peaks_cm1"]], mean_freq_cm1=num(result["mean_freq_cm1"]),
        temperature_K=result["temperature_K"], cv_J_per_molK=num(result["cv_J_per_molK"]),
        geometry_warning=result.get("geometry_warning"))


def _save_plot(named_results: list[tuple[str, dict]], path: Path) -> None:
    from matplotlib.figure import Figure      # no pyplot: no GUI backend, no global state

    n = len(named_results)
    fig = Figure(figsize=(6.0, 3.2 * n))
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, (name, result) in zip(axes, named_results):
        plot_prediction(result, ax=ax, title=f"{Path(name).name}: {result['formula']}"
                        + (" (N-hot)" if result["n_hot"] else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_path(arg: str) -> Path:
    """Where ``--plot ARG`` writes: ARG itself; ARG/dos_prediction.png for a folder; ARG.png without a suffix."""
    path = Path(arg)
    if path.is_dir():
        return path / "dos_prediction.png"
    return path if path.suffix else path.with_name(path.name + ".png")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m utils.predict FILE [FILE…] [--plot out.png] [--json] [--checkpoint DIR]``.

    Every structure of every file is predicted (several CIF data blocks or extxyz frames: ``FILE#k``).
    Exit codes: 0 all files predicted; 1 at least one structure failed (the others are still predicted and
    plotted); 2 no prediction possible (bad checkpoint, bad arguments).
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m utils.predict",
        description="Predict the phonon DoS (total and partial by element) and C_V(300 K) of crystal structure "
                    "files (CIF, POSCAR, anything pymatgen or ase reads; every data block / frame of a file). "
                    "Partially occupied sites become N-hot inputs; vacancies are not supported. Lengths in Å.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="structure files")
    parser.add_argument("--plot", metavar="PNG", help="save a figure of total + partial DoS, one panel per structure "
                        "(a folder: FOLDER/dos_prediction.png; no suffix: .png is added)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per structure (one per line)")
    parser.add_argument("--checkpoint", metavar="DIR", default=None, help="checkpoint folder (default: shipped)")
    parser.add_argument("--max-atoms", type=int, default=DEFAULT_MAX_ATOMS,
                        help=f"refuse cells with more sites (default {DEFAULT_MAX_ATOMS})")
    parser.add_argument("--max-edges", type=int, default=DEFAULT_MAX_EDGES,
                        help=f"refuse cells with more neighbour pairs within r_max (memory; default {DEFAULT_MAX_EDGES})")
    args = parser.parse_args(argv)

    from .graphs import GraphError
    from .checkpoint import CheckpointError

    try:
        model, meta = load_model(args.checkpoint)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    done: list[tuple[str, dict]] = []
    for filename in args.files:
        try:
            structures = read_structures(filename)
        except PredictError as exc:
            failed += 1
            _report_failure(filename, str(exc), args.json)
            continue
        for k, structure in enumerate(structures):
            name = filename if len(structures) == 1 else f"{filename}#{k + 1}"
            try:
                n_sites = len(structure)
                if n_sites > args.max_atoms:
                    raise PredictError(f"{name}: {n_sites} sites, more than --max-atoms {args.max_atoms}; use a "
                                       "primitive cell (pymatgen: get_primitive_structure()) or raise --max-atoms")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    (result,) = predict_structures([structure], model=model, meta=meta, max_edges=args.max_edges)
            except PredictError as exc:
                failed += 1
                _report_failure(name, str(exc), args.json)
                continue
            except (GraphError, ValueError, TypeError) as exc:
                failed += 1
                _report_failure(name, f"{name}: {str(exc).replace('structure 0: ', '')}", args.json)
                continue
            except (RuntimeError, MemoryError) as exc:          # e.g. out of memory inside torch
                failed += 1
                _report_failure(name, f"{name}: the prediction failed ({type(exc).__name__}: {_short(exc)}); "
                                "check the structure, or lower --max-edges", args.json)
                continue
            done.append((name, result))
            if result["unseen_elements"]:
                print(f"warning: {name}: element(s) {', '.join(result['unseen_elements'])} did not occur in the "
                      "training set; the prediction is an extrapolation (mass weighting helps, but be careful)",
                      file=sys.stderr)
            if result.get("geometry_warning"):
                print(f"warning: {name}: {result['geometry_warning']}", file=sys.stderr)
            if args.json:
                print(json.dumps(_jsonable(name, result)), flush=True)
            else:
                print(format_summary(name, result), flush=True)
    if args.plot:
        if done:
            path = _plot_path(args.plot)
            try:
                _save_plot(done, path)
                if not args.json:
                    print(f"figure: {path}")
            except (OSError, ValueError) as exc:
                print(f"error: cannot write the figure {path}: {_short(exc)}", file=sys.stderr)
                failed += 1
        else:
            print(f"error: no figure written to {args.plot}: no file could be predicted", file=sys.stderr)
    return 1 if failed else 0


def _report_failure(name: str, message: str, as_json: bool) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps(dict(file=name, error=message)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
