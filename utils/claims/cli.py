"""Command line of the evidence: ``python -m utils.claims baselines|experiments …`` (``make experiments``).

    python -m utils.claims experiments                  # the five claims of notebook 07, full budget (README: measured time)
    python -m utils.claims experiments --budget tiny    # minutes: a smoke test / what FAST re-runs use
    python -m utils.claims experiments --only 2 5       # some experiments only (runs they share are reused)
    python -m utils.claims experiments --dry-run        # the plan and an estimate of its wall time, nothing trained
    python -m utils.claims baselines --seeds 0 1 2 --epochs 60   # the baselines of notebook 03 §12
    python -m utils.claims baselines --restart          # discard runs made with other data/budget
    python -m utils.claims benchmark                    # the shipped network on the known-crystal benchmark
    python -m utils.claims search                       # one hyper-parameter search, chosen by validation

experiments → data/experiments/claims_<budget>.json, then a scorecard: 1 mass-weighted vs plain one-hot on held-out
elements, 2 equivariance vs rotation augmentation, 3 learning curves, 4 cost of a prediction vs a label, 5 ensemble
spread vs error. Budgets use smaller "fast" networks than the series' default model; the sizes are stored in the file.
baselines → data/experiments/baselines.json, then a table: mean training DoS, composition-only MLP, e3nn with
l_max = 0, e3nn default, every network with the same budget (epochs, batch size, learning rate, AdamW, decay).
Each run is written to the JSON file as soon as it finishes and finished runs are skipped, so an interrupted
command continues where it stopped. benchmark → data/experiments/benchmark_known.json: the checkpoint on the
known crystals of data/benchmark_known.json next to its random test split (utils.claims.known). search →
data/experiments/search.json: variants of the shipped configuration, several seeds each, by validation MSE with the
2σ rule (utils.claims.search). A progress bar is shown unless TQDM_DISABLE=1 (set by `make`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .._io import atomic_write_json
from ..checkpoint import CheckpointError
from ..data import DATA_DIR, DataError, load_dataset
from ..train import TrainConfig
from .baselines import DEFAULT_OUT, METHODS, BaselineError, format_ensemble, format_table, run_baselines, score_ensemble
from .known import DEFAULT_OUT as KNOWN_OUT, cmd_benchmark
from .plan import BUDGETS, CLAIMS, ClaimsError, estimate_seconds, plan_runs, results_path
from .report import format_scorecard
from .runner import RunContext, calibrate, run_claims
from .search import DEFAULT_OUT as SEARCH_OUT, VARIANTS as SEARCH_VARIANTS, SearchError, run_search
from .search import format_table as format_search

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m utils.claims`` (four sub-commands)."""
    p = argparse.ArgumentParser(prog="python -m utils.claims", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("experiments", help="put the claims of notebook 07 to the test")
    e.add_argument("--budget", choices=list(BUDGETS), default="full",
                   help="tiny: minutes; full: tens of minutes with --workers 2 (default budget; README: measured time)")
    e.add_argument("--only", type=int, nargs="+", choices=sorted(CLAIMS), default=None, metavar="N",
                   help="run only these experiments (1-5)")
    e.add_argument("--out", default=None, help="results JSON (default data/experiments/claims_<budget>.json)")
    e.add_argument("--version", default=None, help="embedded dataset version (default: latest)")
    e.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest for these small "
                                                          "networks on a shared machine)")
    e.add_argument("--workers", type=int, default=1, help="training runs at a time, one process each "
                                                          "(2 on 2 cores halves the wall time)")
    e.add_argument("--restart", action="store_true", help="discard an existing --out made with other settings")
    e.add_argument("--dry-run", action="store_true", help="print the plan and a time estimate; train nothing")
    b = sub.add_parser("baselines", help="train and evaluate the baselines of notebook 03")
    b.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    b.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    b.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    b.add_argument("--lr", type=float, default=TrainConfig.lr)
    b.add_argument("--max-minutes", type=float, default=None, help="wall-time limit of each training run")
    b.add_argument("--threads", type=int, default=None,
                   help="torch threads per run (default: torch's choice; 1 with --workers > 1)")
    b.add_argument("--workers", type=int, default=1,
                   help="runs trained at once, one process each (same seeded results as 1)")
    b.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    _dataset_arguments(b)
    b.add_argument("--out", default=str(DEFAULT_OUT))
    b.add_argument("--restart", action="store_true", help="discard an existing --out made with other settings")
    k = sub.add_parser("benchmark", help="score a checkpoint on the known-crystal benchmark")
    k.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped checkpoints/default)")
    k.add_argument("--out", default=str(KNOWN_OUT))
    h = sub.add_parser("search", help="one hyper-parameter search for the shipped network (validation only)")
    h.add_argument("--variants", nargs="+", default=list(SEARCH_VARIANTS), choices=list(SEARCH_VARIANTS))
    h.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    h.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    h.add_argument("--max-minutes", type=float, default=None, help="wall-time limit of each training run")
    h.add_argument("--workers", type=int, default=1,
                   help="runs trained at once, one process with one torch thread each (same results as 1)")
    _dataset_arguments(h)
    h.add_argument("--out", default=str(SEARCH_OUT))
    h.add_argument("--restart", action="store_true", help="discard an existing --out made with other settings")
    return p


def _dataset_arguments(p: argparse.ArgumentParser) -> None:
    """--version and --data-dir: which packed dataset a command trains on."""
    p.add_argument("--version", default=None, help="embedded dataset version (default: latest)")
    p.add_argument("--data-dir", default=None, help="folder of the packed dataset and its versions.json "
                   "(default: data/; e.g. a version packed but not yet shipped)")


def main(argv=None) -> int:
    """Run the command line; exit code 0 done, 1 the e3nn model's rotation spread breaks equivariance, 2 error."""
    args = parser().parse_args(argv)
    try:
        if args.command == "benchmark":
            return cmd_benchmark(args)
        dataset = load_dataset(args.version, data_dir=getattr(args, "data_dir", None) or DATA_DIR)
        if args.command == "baselines":
            return _baselines(dataset, args)
        if args.command == "search":
            if args.workers < 1:
                raise ValueError(f"--workers must be at least 1, got {args.workers}")
            results = run_search(dataset, variants=args.variants, seeds=args.seeds, out=args.out, restart=args.restart,
                                 train_config=TrainConfig(epochs=args.epochs, max_minutes=args.max_minutes),
                                 log=lambda s: print(s, flush=True), workers=args.workers)
            print("\n" + format_search(results))
            return 0
        if args.dry_run:
            return _dry_run(dataset, args)
        return _experiments(dataset, args)
    except (BaselineError, ClaimsError, SearchError, CheckpointError, DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _baselines(dataset, args) -> int:
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    threads = args.threads if args.threads or args.workers == 1 else 1     # no oversubscription of the cores
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_minutes=args.max_minutes,
                      threads=threads)
    results = run_baselines(dataset, seeds=args.seeds, train_config=cfg, out=args.out, methods=args.methods,
                            restart=args.restart, log=lambda s: print(s, flush=True), workers=args.workers)
    ds = results["experiment"]["dataset"]
    print(f"\ndataset {ds['version']} ({ds['n']} materials, split {ds['split_sizes']}); "
          f"{results['experiment']['train_config']['epochs']} epochs; test metrics, mean ± std over seeds "
          f"{results['seeds']} → {args.out}\n")
    print(format_table(results))
    if results.get("summary_benchmark"):
        print(f"\nknown-crystal benchmark ({ds['split_sizes'].get('benchmark')} materials), mean ± std over seeds\n")
        print(format_table(results, "benchmark"))
    for split, rows in results.get("verdicts", {}).items():
        for other, by_metric in rows.items():
            print(f"{split}: e3nn lower than {other}? " + ", ".join(
                f"{m} {v['outcome']} (Δ {v['diff']:.4g}, 2σ {2 * v['sigma']:.2g})" for m, v in by_metric.items()))
    if args.out and "e3nn" in results["methods"] and all(f"e3nn/seed{s}" in results["runs"] for s in (0, 1, 2)):
        if score_ensemble(results, dataset) is not None:         # the shipped checkpoint is an ensemble of these runs
            atomic_write_json(results, args.out)
            print(f"\nthe shipped ensemble (utils.claims.baselines.score_ensemble) → {args.out}\n")
            print(format_ensemble(results))
    return 0


def _experiments(dataset, args) -> int:
    out = Path(args.out) if args.out else results_path(args.budget)
    t0 = time.perf_counter()
    results = run_claims(dataset, budget=args.budget, out=out, only=args.only, restart=args.restart,
                         threads=args.threads, log=lambda s: print(s, flush=True), workers=args.workers)
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


def _dry_run(dataset, args) -> int:
    budget = BUDGETS[args.budget]
    ctx = RunContext(dataset, budget, None, None)
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
