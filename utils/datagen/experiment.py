"""Labels against experiment: the highest phonon frequency of elemental crystals, measured vs labelled.

The labels are computed with a machine-learned potential (SevenNet, trained on PBE data); universal potentials are
known to soften phonons (Deng et al., npj Comput. Mater. 11, 9, 2025), and PBE itself tends to be slightly soft.
This module holds the labels against measured phonon frequencies, so the total softness is a number the datasheet
and the notebooks can state, not a guess. Only labels that pass the stability rule are compared.

Reference values: ``data/reference/measured_phonons.csv``, the highest phonon frequency of 12 elemental crystals
(neutron scattering; Raman for diamond) as compiled by Schober and Dederichs, Landolt-Börnstein III/13a (1981);
each row also names the original measurement. The labelled value is the record's ``max_freq_cm1``, the highest
frequency on the labelling mesh (before any broadening): the same quantity up to the mesh, which contains Γ and,
when its divisions are even, the zone-boundary points X and L of fcc; a maximum between mesh points is missed by
a little.

    ratio = ν_max(label) / ν_max(measured)      (< 1: the label is soft)
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..spectra import THZ_TO_CM1
from .filters import dynamically_stable

MEASURED = Path(__file__).resolve().parents[2] / "data" / "reference" / "measured_phonons.csv"
#: the comparison as the datasheet and the notebooks read it (``python -m utils.datagen experiment`` writes it)
RESULTS = MEASURED.with_name("labels_vs_experiment.json")
COMPILATION = ("H. R. Schober and P. H. Dederichs, Phonon states of elements, Landolt-Börnstein New Series III/13a "
               "(Springer, Berlin, 1981)")


def read_measured(path: Path | str = MEASURED) -> list[dict]:
    """The reference rows: formula, prototype, nu_max_THz, uncertainty_THz, point, measurement (+ nu_max_cm1)."""
    path = Path(path)
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    rows = []
    for i, row in enumerate(csv.DictReader(io.StringIO("\n".join(lines))), start=2):
        try:
            row["nu_max_THz"] = float(row["nu_max_THz"])
            row["uncertainty_THz"] = float(row["uncertainty_THz"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: data row {i - 1} ({row.get('formula')!r}): unreadable frequency ({exc}); "
                             "nu_max_THz and uncertainty_THz must be numbers") from None
        row["nu_max_cm1"] = row["nu_max_THz"] * THZ_TO_CM1
        rows.append(row)
    return rows


def compare_with_experiment(records, measured: list[dict] | None = None) -> list[dict]:
    """One row per reference crystal: the labelled known crystal of that formula and prototype (if any) against
    the measurement. ``records`` are label records (dicts with formula, prototype, origin, ok, max_freq_cm1).

    Returns dicts with formula, prototype, point, measured_cm1, uncertainty_cm1, label_cm1 (None if that crystal
    is not labelled yet), ratio (label / measured), record id and the measurement's source.
    """
    measured = read_measured() if measured is None else measured
    best: dict[tuple[str, str], dict] = {}
    for rec in records:
        if rec.get("origin") != "known" or not rec.get("ok") or rec.get("max_freq_cm1") is None:
            continue
        if not dynamically_stable(rec):      # an unstable label's frequencies measure no softness
            continue
        best[(rec["formula"], rec["prototype"])] = rec       # a later record of the same crystal wins
    out = []
    for row in measured:
        rec = best.get((row["formula"], row["prototype"]))
        label = float(rec["max_freq_cm1"]) if rec else None
        out.append(dict(formula=row["formula"], prototype=row["prototype"], point=row["point"],
                        measured_cm1=row["nu_max_cm1"], uncertainty_cm1=row["uncertainty_THz"] * THZ_TO_CM1,
                        label_cm1=label, ratio=None if label is None else label / row["nu_max_cm1"],
                        id=rec["id"] if rec else None, measurement=row["measurement"]))
    return out


def summarize(rows: list[dict]) -> dict:
    """Median and range of label/measured over the compared crystals, and how many are soft by > 10 %."""
    ratios = np.array([r["ratio"] for r in rows if r["ratio"] is not None], dtype=float)
    if ratios.size == 0:
        return dict(n=0)
    return dict(n=int(ratios.size), median_ratio=float(np.median(ratios)), min_ratio=float(ratios.min()),
                max_ratio=float(ratios.max()), n_soft_10pct=int((ratios < 0.9).sum()),
                missing=[r["formula"] for r in rows if r["ratio"] is None])


def results(records) -> dict:
    """The comparison and its summary as one JSON-ready dict (what :data:`RESULTS` holds)."""
    rows = compare_with_experiment(records)
    keep = ("formula", "prototype", "point", "measured_cm1", "uncertainty_cm1", "label_cm1", "ratio", "id",
            "measurement")
    return dict(compilation=COMPILATION, quantity="highest phonon frequency (cm⁻¹); ratio = label / measured",
                summary=summarize(rows),
                rows=[{k: (round(r[k], 4) if isinstance(r[k], float) else r[k]) for k in keep} for r in rows])


def read_results(path: Path | str = RESULTS) -> dict:
    """The stored comparison (see :func:`results`); a clear error if it has not been written."""
    import json
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m utils.datagen experiment` to compare the labels "
                                "with the measured phonon frequencies")
    return json.loads(path.read_text(encoding="utf-8"))


def cmd_experiment(args) -> int:
    """``python -m utils.datagen experiment``: write :data:`RESULTS` from the stored labels and print it."""
    import json

    from .._io import atomic_write_text
    from .store import iter_records
    doc = results(iter_records(args.out, include_pending=False))
    atomic_write_text(args.file, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    for r in doc["rows"]:
        label = "not labelled" if r["label_cm1"] is None else f"{r['label_cm1']:6.0f}  ratio {r['ratio']:.2f}"
        print(f"{r['formula']:>3} ({r['prototype']:<7}) measured {r['measured_cm1']:6.0f} cm⁻¹   label {label}")
    s = doc["summary"]
    if s.get("n"):
        print(f"median label/measured {s['median_ratio']:.2f} (range {s['min_ratio']:.2f}–{s['max_ratio']:.2f}) over "
              f"{s['n']} crystals; {s['n_soft_10pct']} soft by more than 10 % -> {args.file}")
    return 0


__all__ = ["COMPILATION", "MEASURED", "RESULTS", "compare_with_experiment", "read_measured", "read_results", "results",
           "summarize"]
