"""Command line of the dataset, ``python -m utils.data``.

    python -m utils.data --summary                 # one JSON line about the latest packed version
    python -m utils.data --summary --version v0    # ... about another one
    python -m utils.data pack --version v2 --rules v2   # pack data/labels (the packer: utils.datagen.pack)

``pack`` forwards to the build-time packer of ``utils.datagen`` (imported only for that command); the reader itself
never imports it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from .errors import DataError
from .files import DATA_DIR, LABELS_DIR
from .reader import load_dataset
from .split import MIN_MATERIALS_PER_ELEMENT

__all__ = ["main"]

DESCRIPTION = "Phonon DoS datasets: the embedded (packed) set, element-balanced splits, the original tutorial's data."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.data", description=DESCRIPTION)
    parser.add_argument("--summary", action="store_true", help="print one JSON line about a packed version")
    parser.add_argument("--version", dest="summary_version", default=None,
                        help="version for --summary (default: latest)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("pack", help="pack labelled records into data/phonon_dos_<version>.npz")
    p.add_argument("--version", required=True)
    p.add_argument("--labels-dir", type=Path, default=LABELS_DIR)
    p.add_argument("--out-dir", type=Path, default=None, help="default: --data-dir")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="overwrite an existing version")
    p.add_argument("--rules", choices=["v1", "v2"], default="v1",
                   help="v2: stricter stability, hull cut, duplicates, known-crystal benchmark split")
    p.add_argument("--min-per-element", type=int, default=MIN_MATERIALS_PER_ELEMENT,
                   help="drop materials with an element found in fewer materials (default %(default)s; 1 keeps all)")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "pack":
            from ..datagen.pack import pack      # the build-time packer, only for this command
            res = pack(args.version, labels_dir=args.labels_dir, out_dir=args.out_dir or args.data_dir,
                       seed=args.seed, force=args.force, min_materials_per_element=args.min_per_element,
                       rules=args.rules)
            print(json.dumps(res))
            return 0
        if args.summary:
            print(json.dumps(load_dataset(args.summary_version, data_dir=args.data_dir).summary()))
            return 0
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    parser.print_help()
    return 2
