"""Read a claims results file: per experiment a summary (mean ± std over seeds, verdicts with the 2σ rule of
``utils.claims.stats.verdict``), and the scorecard notebook 07 §7 prints.

A claim **holds** when the difference in the stated direction exceeds twice the combined standard deviation,
``Δ > 2·√(σ_a² + σ_b²)``; ``reversed`` when it exceeds it the other way; ``inconclusive`` otherwise.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .plan import (COST_RATIO, OOD_PERCENTILE, ROTATION_TOL, RunSpec, budget_from_dict, fraction_key, plan_runs)
from .results import rounded
from .stats import bootstrap_std, log_slope, mean_std, spearman, verdict

__all__ = ["readme_table", "summarize_unseen_elements", "summarize_rotations", "summarize_learning_curves", "summarize_cost",
           "summarize_uncertainty", "summarize", "scorecard", "format_scorecard", "is_complete"]


def _runs(results: dict, model: str, data: str, seeds: Iterable[int]) -> list[dict]:
    return [results["runs"][k] for k in (RunSpec(model, data, s).key for s in seeds) if k in results["runs"]]


def _stat(runs: list[dict], evaluation: str, metric: str) -> dict:
    return mean_std(r["evaluation"][evaluation]["metrics"][metric] for r in runs)


def is_complete(results: dict, experiment: int) -> bool:
    """Whether every run experiment ``experiment`` needs is stored in ``results``."""
    budget = budget_from_dict(results["experiment"]["budget"])
    plan = plan_runs(budget, results["groups"], [experiment])[experiment]
    return all(spec.key in results["runs"] for spec in plan)




def summarize_unseen_elements(results: dict) -> dict:
    """Experiment 1: per hold-out group (and ``none``: the ordinary runs), mass vs one-hot on the held-out
    materials and on the (rest of the) test split, MSE and W₁, with the verdict of "mass lower"."""
    seeds = results["experiment"]["budget"]["seeds"]
    rows = []
    for g in [dict(name="none", label="no hold-out", elements=[], n_materials=0)] + results["groups"]:
        data = "all" if g["name"] == "none" else f"holdout:{g['name']}"
        row = dict(group=g["name"], label=g["label"], elements=g["elements"], n_heldout=g["n_materials"])
        for evaluation in (["test"] if data == "all" else ["heldout", "test"]):
            for metric in ("mse", "wasserstein_cm1"):
                mass = _stat(_runs(results, "e3nn", data, seeds), evaluation, metric)
                onehot = _stat(_runs(results, "e3nn_onehot", data, seeds), evaluation, metric)
                row[f"{evaluation}/{metric}"] = dict(mass=mass, onehot=onehot, verdict=verdict(mass, onehot))
        rows.append(row)
    return dict(rows=rows)


def summarize_rotations(results: dict) -> dict:
    """Experiment 2: test error and rotation spread of e3nn, non-equivariant, non-equivariant + augmentation."""
    seeds = results["experiment"]["budget"]["seeds"]
    runs = {m: _runs(results, m, "all", seeds) for m in ("e3nn", "noneq", "noneq_aug")}
    out = dict(models={})
    for m, rs in runs.items():
        out["models"][m] = dict(
            n_params=rs[0]["n_params"] if rs else None,
            mse=_stat(rs, "test", "mse"), wasserstein_cm1=_stat(rs, "test", "wasserstein_cm1"),
            spread_mean=mean_std(r["rotation_spread"]["mean"] for r in rs),
            rotated_mse=mean_std(r["rotation_spread"]["rotated_test_mse"] for r in rs),
            spread_max=float(max(r["rotation_spread"]["max"] for r in rs)) if rs else float("nan"))
    s = out["models"]
    out["e3nn_invariant"] = bool(s["e3nn"]["spread_max"] <= ROTATION_TOL)
    out["verdicts"] = {
        "e3nn_vs_noneq/mse": verdict(s["e3nn"]["mse"], s["noneq"]["mse"]),
        "e3nn_vs_noneq_aug/mse": verdict(s["e3nn"]["mse"], s["noneq_aug"]["mse"]),
        "e3nn_vs_noneq/wasserstein_cm1": verdict(s["e3nn"]["wasserstein_cm1"], s["noneq"]["wasserstein_cm1"]),
        "e3nn_vs_noneq_aug/wasserstein_cm1": verdict(s["e3nn"]["wasserstein_cm1"],
                                                     s["noneq_aug"]["wasserstein_cm1"]),
        "e3nn_vs_noneq/rotated_mse": verdict(s["e3nn"]["rotated_mse"], s["noneq"]["rotated_mse"]),
        "e3nn_vs_noneq_aug/rotated_mse": verdict(s["e3nn"]["rotated_mse"], s["noneq_aug"]["rotated_mse"]),
        "e3nn_vs_noneq/spread": verdict(s["e3nn"]["spread_mean"], s["noneq"]["spread_mean"]),
        "e3nn_vs_noneq_aug/spread": verdict(s["e3nn"]["spread_mean"], s["noneq_aug"]["spread_mean"]),
        "aug_reduces_spread": verdict(s["noneq_aug"]["spread_mean"], s["noneq"]["spread_mean"]),
    }
    return out


def summarize_learning_curves(results: dict) -> dict:
    """Experiment 3: test MSE and W₁ vs training-set size per model, verdicts "e3nn lower" per size."""
    b = results["experiment"]["budget"]
    points = []
    for f in b["fractions"]:
        data = fraction_key(float(f))
        point = dict(fraction=float(f), models={})
        for m in ("e3nn", "e3nn_lmax0", "composition"):
            rs = _runs(results, m, data, b["seeds"])
            point["models"][m] = dict(n_train=mean_std(r["n_train"] for r in rs)["mean"],
                                      mse=_stat(rs, "test", "mse"), wasserstein_cm1=_stat(rs, "test", "wasserstein_cm1"))
        pm = point["models"]
        point["n_train"] = pm["e3nn"]["n_train"]
        point["verdicts"] = {f"e3nn_vs_{m}/mse": verdict(pm["e3nn"]["mse"], pm[m]["mse"])
                             for m in ("e3nn_lmax0", "composition")}
        points.append(point)
    return dict(points=points)


def summarize_cost(results: dict) -> dict:
    """Experiment 4: seconds per material to predict (mean ± std over repeats) vs to label (median, quartiles),
    their ratio, and the fitted exponent p of labelling cost ∝ N^p (N atoms per cell) next to DFT's 4.

    Labels made on CPU only (one single-threaded worker each), so that both sides ran on CPU cores; the median
    of GPU-made labels (one worker of several sharing a GPU) is reported beside it as ``label_s_gpu``."""
    c = results["measurements"]["cost"]
    label_all = np.asarray(c["label_s"]["seconds_total"], float)
    device = np.asarray(c.get("label_device", ["cpu"] * len(label_all)), str)
    on_cpu = device == "cpu"   # compare like with like: CPU labels against CPU predictions
    label, n_atoms = label_all[on_cpu], np.asarray(c["n_atoms"], float)[on_cpu]
    graph = mean_std(c["graph_s_per_material"])
    predict_s = {k: mean_std(np.asarray(v) + np.asarray(c["graph_s_per_material"])) for k, v in
                 c["predict_s_per_material"].items()}
    worst = max(p["mean"] + 2 * p["std"] for p in predict_s.values())  # the slower model, pessimistic
    median = float(np.median(label))
    ratio = median / worst
    gpu = label_all[device == "cuda"]
    return dict(label_s=dict(median=median, q25=float(np.percentile(label, 25)), q75=float(np.percentile(label, 75)),
                             mean=float(label.mean()), total=float(label.sum()), n=int(on_cpu.sum()), device="cpu"),
                label_s_gpu=dict(median=float(np.median(gpu)), n=int(len(gpu))) if len(gpu) else None,
                graph_s=graph, predict_s=predict_s, ratio_median_label_to_predict=float(ratio),
                claim_ratio=COST_RATIO, outcome="held" if ratio >= COST_RATIO else "not held",
                label_scaling=log_slope(n_atoms, label), dft_exponent=4, threads=c["threads"],
                n_materials=c["n_materials"])


def summarize_uncertainty(results: dict) -> dict:
    """Experiment 5: ensemble of the e3nn seed runs: per-material spread and error, Spearman ρ with a bootstrap
    σ, the 95th-percentile threshold of the validation spreads and the flagged (out-of-distribution) inputs.

    spread = mean over the grid of the standard deviation over members (``ddof=1``); error = MSE of the
    ensemble mean against the target (both dimensionless, the DoS are max-normalized).
    """
    b = results["experiment"]["budget"]
    members = _runs(results, "e3nn", "all", b["ensemble_seeds"])
    out = dict(n_members=len(members), sets={})

    def spread_error(name):
        if name == "alloys":
            preds = np.stack([r["evaluation"]["alloys"]["prediction"] for r in members if "alloys" in r["evaluation"]])
        else:
            preds = np.stack([r["evaluation"][name]["prediction"] for r in members])  # (members, n, grid)
        target = np.asarray(results["sets"][name]["target"], float)
        mean = preds.mean(axis=0)
        return preds.std(axis=0, ddof=1).mean(axis=1), np.mean((mean - target) ** 2, axis=1)

    valid_spread, valid_error = spread_error("valid")
    threshold = float(np.percentile(valid_spread, OOD_PERCENTILE))
    out["threshold"] = threshold
    names = ["valid", "test"] + (["alloys"] if "alloys" in results["sets"] and members
                                 and all("alloys" in r["evaluation"] for r in members) else [])
    for name in names:
        spread, error = spread_error(name)
        rho = spearman(spread, error)
        out["sets"][name] = dict(ids=results["sets"][name]["ids"], spread=rounded(spread, 8), error=rounded(error, 8),
                                 spearman=rho, spearman_std=bootstrap_std(spread, error, spearman),
                                 flagged=[i for i, s in zip(results["sets"][name]["ids"], spread) if s > threshold])
    rho, sigma = out["sets"]["test"]["spearman"], out["sets"]["test"]["spearman_std"]
    outcome = ("untestable" if not (np.isfinite(rho) and np.isfinite(sigma)) else "held" if rho > 2 * sigma
               else "reversed" if rho < -2 * sigma else "inconclusive")
    out["verdict"] = dict(diff=float(rho), sigma=float(sigma), z=float(rho / sigma) if sigma > 0 else None,
                          outcome=outcome)
    return out


_SUMMARIZERS = {1: summarize_unseen_elements, 2: summarize_rotations, 3: summarize_learning_curves,
                4: summarize_cost, 5: summarize_uncertainty}


def summarize(results: dict) -> dict:
    """Summaries of the complete experiments (``{"1": ..., "5": ...}``); incomplete ones are left out."""
    out = {}
    for e, fn in _SUMMARIZERS.items():
        done = "cost" in results.get("measurements", {}) if e == 4 else is_complete(results, e)
        if done:
            out[str(e)] = fn(results)
    return out


def scorecard(results: dict) -> list[dict]:
    """One row per tested statement of :data:`CLAIMS`: claim number, what was compared, the numbers, the outcome.

    Comparisons shown for context only (claim 1 on the rest of the test split, the rotation spreads of the
    non-equivariant models) are in the summaries but not here."""
    s = summarize(results)
    rows = []
    if "1" in s:  # the claim is about held-out elements; the test-split comparisons are context, not counted
        for row in s["1"]["rows"][1:]:
            for metric in ("mse", "wasserstein_cm1"):
                v = row[f"heldout/{metric}"]
                rows.append(dict(claim=1, test=f"{row['group']}: held-out {metric}: mass < one-hot",
                                 a=v["mass"]["mean"], b=v["onehot"]["mean"], **v["verdict"]))
    if "2" in s:  # invariance + test error vs both non-equivariant models; spread comparisons are context
        rows.append(dict(claim=2, test="e3nn rotation spread ≤ 1e-5", a=s["2"]["models"]["e3nn"]["spread_max"],
                         b=ROTATION_TOL, outcome="held" if s["2"]["e3nn_invariant"] else "not held"))
        for key, v in s["2"]["verdicts"].items():
            if key.startswith("e3nn_vs") and "spread" not in key:
                rows.append(dict(claim=2, test=key.replace("/", ": ") + " (e3nn lower)", **v))
    if "3" in s:
        for p in s["3"]["points"]:
            for key, v in p["verdicts"].items():
                rows.append(dict(claim=3, test=f"{p['fraction']:.0%} of train: " + key.replace("/", ": ") + " (e3nn lower)",
                                 **v))
    if "4" in s:
        c = s["4"]
        rows.append(dict(claim=4, test=f"label / predict ≥ {COST_RATIO:.0f}", a=c["ratio_median_label_to_predict"],
                         b=COST_RATIO, outcome=c["outcome"]))
    if "5" in s:
        rows.append(dict(claim=5, test="Spearman ρ(spread, error) > 0 on test", a=s["5"]["sets"]["test"]["spearman"],
                         b=s["5"]["sets"]["test"]["spearman_std"], **s["5"]["verdict"]))
    return rows


def format_scorecard(results: dict) -> str:
    """Plain-text scorecard: per claim, how many of its tests held, and each test's outcome."""
    rows = scorecard(results)
    lines = []
    for claim in sorted({r["claim"] for r in rows}):
        mine = [r for r in rows if r["claim"] == claim]
        held = sum(r["outcome"] == "held" for r in mine)
        lines.append(f"claim {claim}: {held}/{len(mine)} tests held")
        for r in mine:
            numbers = f"Δ = {r['diff']:+.3g}, 2σ = {2 * r['sigma']:.3g}" if "diff" in r else \
                f"{r['a']:.3g} vs {r['b']:.3g}"
            lines.append(f"    {r['test']:<56} {numbers:<32} {r['outcome']}")
    return "\n".join(lines)



# ------------------------------------------------------------------------------------------- README table
_CLAIM_TITLES = {
    1: "1. mass-weighted one-hot generalizes better to unseen elements",
    2: "2. equivariance makes rotation augmentation unnecessary",
    3: "3. e3nn learns more per material with limited data",
    4: "4. a prediction is ≥ 100× cheaper than a label",
    5: "5. an ensemble's spread tracks its error",
}


def _ms(stat: dict, fmt: str = ".4f") -> str:
    return f"{stat['mean']:{fmt}} ± {stat['std']:{fmt}}"


def _outcome(rows: list[dict]) -> str:
    held = sum(r["outcome"] == "held" for r in rows)
    reversed_ = sum(r["outcome"] == "reversed" for r in rows)
    tail = f", {reversed_} reversed" if reversed_ else ""
    if held == len(rows):
        return "held"
    if held == 0:
        return f"not shown: 0 of {len(rows)} tests held{tail}"
    return f"partly: {held} of {len(rows)} tests held{tail}"


def readme_table(results: dict) -> str:
    """The README's table of the slides' claims, as Markdown rows, from a results file of :func:`run_claims`:
    per claim what was measured (test MSE of the max-normalized DoS unless stated) and the outcome of its tests
    by the 2σ rule (:func:`scorecard`). The README quotes it verbatim; ``tests/test_readme_claims.py`` checks it."""
    s, card = summarize(results), scorecard(results)
    lines = ["| claim | measured (test MSE of the max-normalized DoS unless stated) | outcome |", "|---|---|---|"]
    by_claim = {c: [r for r in card if r["claim"] == c] for c in _CLAIM_TITLES}
    if "1" in s:
        parts = []
        for row in s["1"]["rows"][1:]:
            v = row["heldout/mse"]
            parts.append(f"{row['label']} ({row['n_heldout']} materials): mass {_ms(v['mass'])} vs plain one-hot "
                         f"{_ms(v['onehot'])}")
        lines.append(f"| {_CLAIM_TITLES[1]} | held-out elements, {'; '.join(parts)} | {_outcome(by_claim[1])} |")
    if "2" in s:
        m = s["2"]["models"]
        e, n, a = m["e3nn"], m["noneq"], m["noneq_aug"]
        lines.append(
            f"| {_CLAIM_TITLES[2]} | spread of predictions over 20 rotations (units of the max-normalized DoS): e3nn ≤ "
            f"{e['spread_max']:.1e} (float32 round-off), non-equivariant MLP on edge vectors ({n['n_params'] / 1e6:.2f} M "
            f"parameters) {n['spread_mean']['mean']:.2g} mean, with augmentation {a['spread_mean']['mean']:.2g}; test MSE "
            f"{_ms(e['mse'])} vs {_ms(n['mse'])} vs {_ms(a['mse'])}; on rotated test crystals "
            f"{e['rotated_mse']['mean']:.4f} vs {_ms(n['rotated_mse'])} vs {_ms(a['rotated_mse'])} | "
            f"invariance {'held' if s['2']['e3nn_invariant'] else 'NOT held'}; {_outcome(by_claim[2])} |")
    if "3" in s:
        pts = s["3"]["points"]
        sizes = " / ".join(f"{int(p['n_train']):,}" for p in pts)
        curve = {k: " / ".join(f"{p['models'][k]['mse']['mean']:.4f}" for p in pts)
                 for k in ("e3nn", "e3nn_lmax0", "composition")}
        beats = [f"{int(p['n_train']):,}" for p in pts
                 if p["verdicts"]["e3nn_vs_composition/mse"]["outcome"] == "held"]
        lines.append(f"| {_CLAIM_TITLES[3]} | {sizes} training materials: e3nn {curve['e3nn']}, l_max = 0 "
                     f"{curve['e3nn_lmax0']}, composition MLP {curve['composition']} | e3nn beats composition at "
                     f"{', '.join(beats) if beats else 'no size'} training materials; {_outcome(by_claim[3])} |")
    if "4" in s:
        c = s["4"]
        lines.append(f"| {_CLAIM_TITLES[4]} | label (one CPU core): median {c['label_s']['median']:.1f} s per material; "
                     f"prediction with the default network, graphs included: "
                     f"{1e3 * c['predict_s']['default']['mean']:.2f} ± {1e3 * c['predict_s']['default']['std']:.2f} ms → "
                     f"{c['ratio_median_label_to_predict']:,.0f}×; labelling time grows as N^"
                     f"{c['label_scaling']['slope']:.2f} ± {c['label_scaling']['stderr']:.2f} with atoms per cell "
                     f"(DFT: N⁴) | {_outcome(by_claim[4])} |")
    if "5" in s:
        u = s["5"]
        t, v = u["sets"]["test"], u["sets"]["valid"]
        n_test = results["experiment"]["dataset"]["split_sizes"]["test"]
        lines.append(f"| {_CLAIM_TITLES[5]} | {u['n_members']} members: Spearman ρ(spread, error) = "
                     f"{t['spearman']:.2f} ± {t['spearman_std']:.2f} on {n_test} test materials ({v['spearman']:.2f} on "
                     f"validation); {len(t['flagged'])} test materials above the {OOD_PERCENTILE:g}th percentile of "
                     f"validation spreads are flagged | {_outcome(by_claim[5])} |")
    return "\n".join(lines)
