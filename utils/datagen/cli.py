"""Command line of the labeller, ``python -m utils.datagen <command>`` (see ``utils/datagen/__main__.py``).

One parser for every command; each command is a function of the module that owns it (``runner.cmd_label`` …,
``convergence.cmd_converge``, ``benchmark.cmd_benchmark``), so no library module imports the command line.
"""
from __future__ import annotations

from pathlib import Path

from . import runner, store


def main(parser) -> int:
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("label", help="label materials (resumable)")
    p.add_argument("--calculator", default="7net-l3i5")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--set", choices=["main", "alloys"], default="main")
    p.add_argument("--threshold", type=float, default=None,
                   help="ion-substitution probability threshold (default: prototypes.THRESHOLD, the pool of the "
                        "version being labelled)")
    p.add_argument("--max-atoms", type=int, default=30)
    p.add_argument("--timeout", type=int, default=900, help="seconds per material")
    p.add_argument("--fast", action="store_true", help="cheap settings (tests)")
    p.add_argument("--order", choices=["coverage", "yield"], default="coverage",
                   help="coverage: spread over elements and prototypes first; yield: most stable materials per "
                        "CPU-second first (measured per prototype)")
    p.add_argument("--device", default="cpu", help="torch device of the potential: cpu or cuda")
    p.add_argument("--tasks", type=Path, help="tasks written by export-tasks (instead of building candidates)")
    p.add_argument("--retry-failed", default=None, metavar="REGEX",
                   help="label again the failed materials whose reason matches (e.g. 'volume changed' for those "
                        "the old ±25 %% volume rule rejected); the packer prefers a later successful record")
    p.add_argument("--time-limit", type=float, default=0.0,
                   help="stop after this many seconds (resumable); 0 = no limit")
    p.add_argument("--scheduler", help="label on a running Dask cluster: its scheduler address, tcp://HOST:PORT "
                                       "(needs pip install -e .[cluster])")
    p.add_argument("--dask-workers", type=int, default=0, help="label on a local Dask cluster of N worker processes")
    p.add_argument("--dask-window", type=int, default=0,
                   help="materials submitted to Dask at once (default: 2 per worker thread, at least 4)")
    p = sub.add_parser("export-tasks", help="candidates with pre-built structures, for `label --tasks`")
    p.add_argument("file", type=Path)
    p.add_argument("--threshold", type=float, default=None,
                   help="ion-substitution probability threshold (default: prototypes.THRESHOLD, the pool of the "
                        "version being labelled)")
    p.add_argument("--workers", type=int, default=2)
    p = sub.add_parser("converge", help="dataset settings vs ≥ 10 Å supercells and a 24³ mesh")
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--calculator", default="7net-l3i5")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--file", type=Path, default=None, help="default: data/reference/label_convergence_raw.json.gz")
    p = sub.add_parser("energies", help="the potential's energy of stored relaxed structures that lack one")
    p.add_argument("--calculator", default="7net-l3i5")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--chunk", type=int, default=200, help="records per energies file")
    p = sub.add_parser("references", help="elemental reference energies for the convex hull (references.json)")
    p.add_argument("--calculator", default="7net-l3i5")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p = sub.add_parser("benchmark", help="write the known-crystal benchmark membership once (data/benchmark_known.json)")
    p.add_argument("--file", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="replace an existing membership file")
    p = sub.add_parser("experiment", help="labels vs measured highest phonon frequencies "
                                          "(data/reference/labels_vs_experiment.json)")
    p.add_argument("--file", type=Path, default=None)
    for name in ("pack-shard", "status"):
        sub.add_parser(name)
    for sp in sub.choices.values():
        sp.add_argument("--out", type=Path, default=store.DEFAULT_OUT)
    args = parser.parse_args()
    if args.cmd == "converge":
        from .convergence import RAW, cmd_converge
        args.file = args.file or RAW
        return cmd_converge(args)
    if args.cmd == "experiment":
        from .experiment import RESULTS, cmd_experiment
        args.file = args.file or RESULTS
        return cmd_experiment(args)
    if args.cmd == "benchmark":
        from .benchmark import MEMBERSHIP, cmd_benchmark
        args.file = args.file or MEMBERSHIP
        return cmd_benchmark(args)
    return {"label": runner.cmd_label, "pack-shard": runner.cmd_pack_shard, "status": runner.cmd_status,
            "export-tasks": runner.cmd_export_tasks, "energies": runner.cmd_energies,
            "references": runner.cmd_references}[args.cmd](args)
