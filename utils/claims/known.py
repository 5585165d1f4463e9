"""A network on the known-crystal benchmark, next to its random test split.

The benchmark (``data/benchmark_known.json``, :mod:`utils.datagen.benchmark`) holds 76 known crystals — the 20
classics a learner tries first and seeded draws per class — fixed before any training. A random test split
measures interpolation among the dataset's own crystals; the benchmark measures what a learner will ask.

The members are read from the label store (the committed shards), so the benchmark can be scored whatever dataset
version a checkpoint was trained on: a member counts if its label passes dataset v2's rules (no mode below
−30 cm⁻¹, ≤ 1 % imaginary weight, ≤ 5 % of the modes above the 1,000 cm⁻¹ grid), and its target is the record's
51-point DoS, max-normalized like every packed version (:func:`utils.data.schema.to_target_grid`). Each member is
predicted end to end from its relaxed structure (:func:`utils.predict.predict_structures`) and scored with the
series' metrics (:func:`utils.spectra.dos_metrics`), next to the mean training DoS as the floor every model must
beat. A member whose formula occurs in the checkpoint's training split is flagged (``composition_in_train``):
``same_type_in_train`` when it occurs there in the member's own structure type (prototype), i.e. the network has
seen the crystal itself. For a checkpoint trained on dataset v2 there is none (every polymorph of a benchmark
composition is kept out of train/valid); for one trained on v1, some are.

    python -m utils.claims benchmark             # → data/experiments/benchmark_known.json

Metrics: W₁ (cm⁻¹; Wasserstein distance of the unit-area spectra) as median and mean, MSE as mean (the
issue-level targets are median W₁ and mean MSE), over the scored members.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .._io import atomic_write_json

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "data" / "experiments" / "benchmark_known.json"
FORMAT_VERSION = 1
#: the series' targets for the shipped network on the benchmark (median over members, mean MSE)
TARGETS = dict(median_wasserstein_cm1=25.0, mse=0.025)

__all__ = ["DEFAULT_OUT", "benchmark_members", "evaluate_benchmark", "load_benchmark_results"]


def benchmark_members(labels_dir: Path | None = None, membership: Path | None = None) -> tuple[list[dict], dict]:
    """The scoreable benchmark members from the label store, and the membership's bookkeeping.

    Returns ``(members, info)``: members are dicts with id, name, formula, bond_class, named, the pymatgen
    ``structure`` (relaxed) and ``target`` (51,) max-normalized; info has the membership file's sha256, the number
    of members, and the ids left out with their reason ('not labelled', 'unstable', 'above_grid', 'invalid').
    """
    from pymatgen.core import Lattice, Structure

    from ..data.schema import to_target_grid
    from ..datagen.benchmark import MAX_WEIGHT_ABOVE_GRID, MEMBERSHIP, read_membership
    from ..datagen.filters import dynamically_stable
    from ..datagen.store import DEFAULT_OUT as LABELS, iter_records
    from ..spectra import FREQ_CM1

    members, sha = read_membership(membership or MEMBERSHIP)
    wanted = {m["id"]: m for m in members}
    found: dict[str, dict] = {}
    for rec in iter_records(labels_dir or LABELS, include_pending=False, include_failed=True):
        if rec.get("id") in wanted and (rec["id"] not in found or rec.get("ok")):
            found[rec["id"]] = rec
    out, left_out = [], {}
    for m in members:
        rec = found.get(m["id"])
        reason = None
        if rec is None or not rec.get("ok"):
            reason = "not labelled" if rec is None else "failed"
        elif not dynamically_stable(rec):
            reason = "unstable"
        elif float(rec.get("weight_above_1000_cm1") or 0.0) > MAX_WEIGHT_ABOVE_GRID:
            reason = "above_grid"
        elif not rec.get("dos"):
            reason = "invalid"
        if reason:
            left_out[m["id"]] = reason
            continue
        st = rec["structure"]
        structure = Structure(Lattice(st["cell"]), st["numbers"], st["frac_coords"])
        out.append(dict(id=m["id"], name=m.get("name", m["id"]), formula=m["formula"], bond_class=m["bond_class"],
                        prototype=m.get("prototype", rec.get("prototype", "")),
                        named=bool(m.get("named")), structure=structure,
                        target=to_target_grid(FREQ_CM1, np.asarray(rec["dos"], float))))
    return out, dict(membership_sha256=sha, n_members=len(members), left_out=left_out)


def evaluate_benchmark(checkpoint: str | Path | None = None, labels_dir: Path | None = None,
                       membership: Path | None = None) -> dict:
    """Score a checkpoint (default: the shipped one) on the benchmark and, with the same metrics, on the random test
    split of the dataset it was trained on. Returns the JSON-ready results (see the module docstring)."""
    from ..data import load_dataset
    from ..predict import load_model, predict_structures
    from ..spectra import FREQ_CM1, dos_metrics, wasserstein_cm1
    from .models import mean_dos_baseline

    t0 = time.perf_counter()
    model, meta = load_model(checkpoint)
    members, info = benchmark_members(labels_dir, membership)
    if not members:
        raise ValueError("no benchmark member is labelled yet: label the known crystals first "
                         "(python -m utils.datagen label)")
    version = (meta.get("dataset") or {}).get("version")
    dataset = load_dataset(version)
    if len(dataset.split("benchmark")):     # a version with the benchmark split: score exactly the packed members
        packed = set(dataset.ids[dataset.split("benchmark")].tolist())
        reasons = {i: k for k, ids in ((dataset.meta.get("v2") or {}).get("excluded_ids") or {}).items() for i in ids}
        for m in members:
            if m["id"] not in packed:
                info["left_out"][m["id"]] = f"not packed: {reasons.get(m['id'], 'other split')}"
        members = [m for m in members if m["id"] in packed]
    preds = predict_structures([m["structure"] for m in members], model=model, meta=meta)
    pred = np.stack([p["dos"] for p in preds])   # the model's output as it is, as on the test split below
    target = np.stack([m["target"] for m in members])
    train_idx = dataset.split("train")
    floor = np.broadcast_to(mean_dos_baseline(dataset.dos[train_idx]), target.shape)
    train_pairs = {(m.formula, m.prototype) for m in dataset.split("train", materials=True)}
    train_formulas = {f for f, _ in train_pairs}
    rows = []
    w_net = wasserstein_cm1(FREQ_CM1, target, pred)
    w_mean = wasserstein_cm1(FREQ_CM1, target, floor)
    for k, m in enumerate(members):
        rows.append(dict(id=m["id"], name=m["name"], formula=m["formula"], bond_class=m["bond_class"],
                         named=m["named"], composition_in_train=m["formula"] in train_formulas,
                         same_type_in_train=(m["formula"], m["prototype"]) in train_pairs,
                         mse=round(float(np.mean((pred[k] - target[k]) ** 2)), 6),
                         wasserstein_cm1=round(float(w_net[k]), 3),
                         mean_dos_wasserstein_cm1=round(float(w_mean[k]), 3)))

    def block(p, sel):
        d = dos_metrics(FREQ_CM1, target[sel], p[sel])
        w = wasserstein_cm1(FREQ_CM1, target[sel], p[sel])
        return dict(n=int(sel.sum()), mse=round(d["mse"], 6), median_wasserstein_cm1=round(float(np.median(w)), 3),
                    mean_wasserstein_cm1=round(d["wasserstein_cm1"], 3), r2=round(d["r2"], 4),
                    cv300_rel_error_pct=round(d["cv300_rel_error_pct"], 3))

    every = np.ones(len(members), bool)
    unseen = ~np.array([r["composition_in_train"] for r in rows])
    named = np.array([r["named"] for r in rows])
    by_class = {c: block(pred, np.array([r["bond_class"] == c for r in rows]))
                for c in sorted({r["bond_class"] for r in rows})}
    from ..train import graphs_from_dataset, predict as predict_graphs
    test_idx = dataset.split("test")
    test_pred = predict_graphs(model, graphs_from_dataset(dataset, test_idx, float(model.config.r_max)))
    test_target = dataset.dos[test_idx]
    w_test = wasserstein_cm1(FREQ_CM1, test_target, test_pred)
    d_test = dos_metrics(FREQ_CM1, test_target, test_pred)
    return dict(
        format_version=FORMAT_VERSION,
        checkpoint=str(Path(checkpoint).name) if checkpoint else "default",
        dataset=dict(version=dataset.version, sha256=dataset.sha256),
        benchmark=info,
        network=dict(all=block(pred, every), named=block(pred, named),
                     composition_not_in_train=block(pred, unseen) if unseen.any() else dict(n=0), by_class=by_class),
        mean_training_dos=dict(all=block(floor, every)),
        test_split=dict(n=int(len(test_idx)), mse=round(d_test["mse"], 6),
                        median_wasserstein_cm1=round(float(np.median(w_test)), 3),
                        mean_wasserstein_cm1=round(d_test["wasserstein_cm1"], 3), r2=round(d_test["r2"], 4)),
        rows=rows,
        seconds=round(time.perf_counter() - t0, 1),
    )


def load_benchmark_results(path: str | Path = DEFAULT_OUT) -> dict:
    """The stored benchmark results (:func:`evaluate_benchmark`); a clear error if missing or of another format."""
    from .results import read_results
    return read_results(path, FORMAT_VERSION, what="benchmark results", command="python -m utils.claims benchmark")


def cmd_benchmark(args) -> int:
    """``python -m utils.claims benchmark``: score the checkpoint, write the results file, print the summary."""
    from ..checkpoint import DEFAULT_CHECKPOINT
    out = Path(args.out)
    other = args.checkpoint is not None and Path(args.checkpoint).resolve() != DEFAULT_CHECKPOINT.resolve()
    if other and out.resolve() == DEFAULT_OUT.resolve():
        raise ValueError(f"{out} holds the shipped checkpoint's benchmark; give --out for another checkpoint")
    res = evaluate_benchmark(args.checkpoint)
    atomic_write_json(res, out, indent=1)
    a, f = res["network"]["all"], res["mean_training_dos"]["all"]
    print(f"known-crystal benchmark: {a['n']} of {res['benchmark']['n_members']} members scored "
          f"({len(res['benchmark']['left_out'])} left out: not labelled or excluded by the v2 rules)")
    print(f"  network          median W₁ {a['median_wasserstein_cm1']:.1f} cm⁻¹, mean MSE {a['mse']:.4f}")
    print(f"  mean training DoS median W₁ {f['median_wasserstein_cm1']:.1f} cm⁻¹, mean MSE {f['mse']:.4f}")
    u = res["network"]["composition_not_in_train"]
    if u.get("n") and u["n"] < a["n"]:
        print(f"  network, the {u['n']} members whose composition is not in the training split: median W₁ "
              f"{u['median_wasserstein_cm1']:.1f} cm⁻¹, mean MSE {u['mse']:.4f}")
    t = res["test_split"]
    print(f"  random test split ({t['n']}): median W₁ {t['median_wasserstein_cm1']:.1f} cm⁻¹, mean MSE {t['mse']:.4f}")
    w_ok, m_ok = a["median_wasserstein_cm1"] <= TARGETS["median_wasserstein_cm1"], a["mse"] <= TARGETS["mse"]
    print(f"  targets on the benchmark: median W₁ ≤ {TARGETS['median_wasserstein_cm1']:g} cm⁻¹ "
          f"{'met' if w_ok else 'MISSED'}, mean MSE ≤ {TARGETS['mse']:g} {'met' if m_ok else 'MISSED'}")
    print(f"-> {out}")
    return 0
