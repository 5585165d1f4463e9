"""Train and evaluate the baselines of notebook 03 → data/experiments/baselines.json, then print a table.

    python scripts/baselines.py                                   # 3 seeds, the default budget (TrainConfig)
    python scripts/baselines.py --seeds 0 1 2 --epochs 60 --max-minutes 20
    python scripts/baselines.py --restart                          # discard runs made with other data/budget

Methods (utils.baselines.METHODS): mean training DoS, composition-only MLP, e3nn with l_max = 0, e3nn default.
Every network gets the same budget (epochs, batch size, learning rate, AdamW, decay). The file is written after
each run and finished runs are skipped, so an interrupted command continues where it stopped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.baselines import DEFAULT_OUT, METHODS, BaselineError, format_table, run_baselines  # noqa: E402
from utils.train import TrainConfig  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--max-minutes", type=float, default=None, help="wall-time limit of each training run")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--version", default=None, help="embedded dataset version (default: latest)")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--restart", action="store_true", help="discard an existing --out made with other settings")
    args = p.parse_args(argv)

    from utils.data import load_dataset

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, max_minutes=args.max_minutes,
                      threads=args.threads)
    try:
        results = run_baselines(load_dataset(args.version), seeds=args.seeds, train_config=cfg, out=args.out,
                                methods=args.methods, restart=args.restart, log=lambda s: print(s, flush=True))
    except (BaselineError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ds = results["experiment"]["dataset"]
    print(f"\ndataset {ds['version']} ({ds['n']} materials, split {ds['split_sizes']}); "
          f"{results['experiment']['train_config']['epochs']} epochs; test metrics, mean ± std over seeds "
          f"{results['seeds']} → {args.out}\n")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
