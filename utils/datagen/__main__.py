"""Labelling command: `python -m utils.datagen {label,pack-shard,status}`.

    python -m utils.datagen label --calculator 7net-l3i5 --workers 2      # resumable, runs for hours
    python -m utils.datagen label --set alloys                            # Mg3(Sb,Bi)2 and SiGe references
    python -m utils.datagen pack-shard                                    # move finished records into a shard
    python -m utils.datagen status                                        # counts so far
    python -m utils.datagen converge --n 16                               # settings convergence check
    python -m utils.datagen label --tasks t.json.gz --dask-workers 4      # on Dask (pip install -e .[cluster])
    python -m utils.datagen label --tasks t.json.gz --scheduler tcp://HOST:8786   # on a running Dask cluster

Each finished material is written atomically as labels/pending/<id>.json (failures as labels/failed/<id>.json,
with the reason); `pack-shard` appends them to a new gzipped JSON-lines shard, so git history holds each
record once. A rerun skips every id already in a shard, pending or failed.
"""
from __future__ import annotations

import argparse
import sys

from .cli import main
from .store import ShardError

if __name__ == "__main__":
    try:
        sys.exit(main(argparse.ArgumentParser(prog="python -m utils.datagen", description=__doc__,
                                              formatter_class=argparse.RawDescriptionHelpFormatter)))
    except ShardError as exc:          # a truncated shard or record: name the file, no traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
