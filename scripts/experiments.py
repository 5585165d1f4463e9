"""Put the slides' claims to the test (notebook 07) → data/experiments/claims_<budget>.json, then print a scorecard.

    python scripts/experiments.py                    # all five experiments, the full budget (≈ 45 min on 2 CPU cores)
    python scripts/experiments.py --budget tiny      # minutes: a smoke test / what FAST re-runs use
    python scripts/experiments.py --only 2 5         # some experiments only (runs they share are reused)
    python scripts/experiments.py --dry-run          # the plan and an estimate of its wall time, nothing trained
    python scripts/experiments.py --restart          # discard results made with other data or another budget

Experiments (utils.experiments.CLAIMS): 1 mass-weighted vs plain one-hot on held-out elements, 2 equivariance vs
rotation augmentation, 3 learning curves, 4 cost of a prediction vs a label, 5 ensemble spread vs error.
Every run is written to the JSON file as soon as it finishes and finished runs are skipped, so an interrupted
command continues where it stopped. Budgets use smaller "fast" networks than the series' default model; the
sizes are stored in the file. A progress bar is shown unless TQDM_DISABLE=1 (set by `make`); one line per run
is printed in any case.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUDGET_NAMES = ("tiny", "full")   # utils.experiments.BUDGETS (imported after parsing: --help stays instant)
EXPERIMENTS = (1, 2, 3, 4, 5)     # utils.experiments.CLAIMS


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", choices=BUDGET_NAMES, default="full", help="tiny: minutes; full: ≈ 45 min with --workers 2 (default budget)")
    p.add_argument("--only", type=int, nargs="+", choices=EXPERIMENTS, default=None, metavar="N",
                   help="run only these experiments (1-5)")
    p.add_argument("--out", default=None, help="results JSON (default data/experiments/claims_<budget>.json)")
    p.add_argument("--version", default=None, help="embedded dataset version (default: latest)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest for these small "
                                                          "networks on a shared machine)")
    p.add_argument("--workers", type=int, default=1, help="training runs at a time, one process each "
                                                          "(2 on 2 cores halves the wall time)")
    p.add_argument("--restart", action="store_true", help="discard an existing --out made with other settings")
    p.add_argument("--dry-run", action="store_true", help="print the plan and a time estimate; train nothing")
    args = p.parse_args(argv)

    from utils.data import DataError, load_dataset
    from utils.experiments import ClaimsError, format_scorecard, results_path, run_claims

    try:
        dataset = load_dataset(args.version)
        if args.dry_run:
            return dry_run(dataset, args)
        out = Path(args.out) if args.out else results_path(args.budget)
        t0 = time.perf_counter()
        results = run_claims(dataset, budget=args.budget, out=out, only=args.only, restart=args.restart,
                             threads=args.threads, log=lambda s: print(s, flush=True), workers=args.workers)
    except (ClaimsError, DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ds = results["experiment"]["dataset"]
    print(f"\ndataset {ds['version']} ({ds['n']} materials, split {ds['split_sizes']}); budget {args.budget}; "
          f"{len(results['runs'])} runs stored in {out} ({time.perf_counter() - t0:.0f} s this call)\n")
    print(format_scorecard(results))
    rotations = results["summaries"].get("2")
    if rotations is not None and not rotations["e3nn_invariant"]:
        print(f"error: the e3nn model's rotation spread {rotations['models']['e3nn']['spread_max']:.2e} exceeds "
              "1e-5: equivariance is broken (check utils.model / utils.graphs)", file=sys.stderr)
        return 1
    return 0


def dry_run(dataset, args) -> int:
    from utils.experiments import BUDGETS, CLAIMS, _Context, calibrate, estimate_seconds, plan_runs

    budget = BUDGETS[args.budget]
    ctx = _Context(dataset, budget, None, None)
    plan = plan_runs(budget, ctx.groups, args.only or sorted(CLAIMS))
    unique = {spec.key for specs in plan.values() for spec in specs}
    print(f"dataset {dataset.version}: {len(dataset)} materials, split {dataset.split_sizes()}")
    print("hold-out groups: " + ("; ".join(f"{g['label']} {g['elements']} ({g['n_materials']} materials)"
                                           for g in ctx.groups) or "none (too little data)"))
    for e, specs in plan.items():
        print(f"experiment {e}: {len(specs)} runs")
    print(f"{len(unique)} distinct training runs (shared runs are trained once)")
    print("calibrating (2 epochs of each model) ...", flush=True)
    per = calibrate(dataset, budget, threads=args.threads)
    print("seconds per training material and epoch: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in per.items()))
    n_train = len(ctx.idx["train"])
    for n in sorted({n_train, 117, 780}):
        est = estimate_seconds(budget, n, seconds_per_material_epoch=per)
        print(f"estimated training time for {n} training materials: {est['seconds'] / 60:.0f} min "
              f"({est['n_runs']} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
