#!/usr/bin/env python
"""Scaling on one machine: labelling on 1 vs 2 Dask workers (EMT), training on 1 vs 2 DDP processes (torchrun).

    .venv/bin/python benchmarks/scaling.py              # ≈ 10 min on 2 cores; needs the `cluster` extra
    .venv/bin/python benchmarks/scaling.py --rounds 1   # one run of each variant
    .venv/bin/python benchmarks/scaling.py --reproject  # recompute only the projection (cited costs changed)

Writes ``benchmarks/scaling.json``: every run's timings, the machine's load average before and after, and the
projection of labelling time for 10⁴ and 10⁵ materials on N GPUs (README § "Beyond one machine").

* Labelling: 23 EMT tasks (7 fcc metals at 3 lattice constants, Cu3Au, fcc Fe that EMT cannot compute) with the
  dataset's default `LabelSettings`, through `utils.datagen.cluster.label_with_dask` — the function behind
  ``label --dask-workers N`` — into a temporary store. Start-up (cluster + one potential per worker) and
  labelling (first submission to last record written) are timed apart.
* Dask's own cost per task: 400 no-op tasks through `bounded_map` on 2 worker processes.
* Training: ``torchrun --nproc_per_node P -m utils.train`` on the embedded dataset, global batch 16, 2 epochs,
  into a temporary folder; seconds per epoch from the checkpoint's history (epoch 1, after the warm-up epoch 0).

Variants alternate (1, 2, 1, 2, …) and the median over rounds is reported: the machine is shared, so the
absolute times are noisy; the load average is recorded next to them.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "benchmarks" / "scaling.json"
ENV = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
# Cited per-material labelling costs (data/README.md § 4, SevenNet-l3i5 + phonopy, median wall_s of one worker)
CITED = dict(cpu_s_per_material=7.9, gpu_s_per_material_per_worker=2.7, gpu_workers_per_gpu=9,
             source="data/README.md § 4 (labelling cost): cpu median 7.9 s (713 materials, one single-threaded "
                    "worker); cuda median 2.7 s per worker with 9 and 12 workers sharing one H200 GPU (662 materials)")


def emt_tasks() -> list[dict]:
    from ase import Atoms
    from ase.build import bulk

    def lists(at):
        return dict(cell=at.cell[:].round(8).tolist(), numbers=at.numbers.tolist(),
                    frac_coords=at.get_scaled_positions().round(8).tolist())
    fcc = {"Al": 4.05, "Cu": 3.61, "Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92}
    tasks = [dict(id=f"fcc-{el}-{s}", prototype="fcc", formula=el, atoms=lists(bulk(el, "fcc", a=a * s)))
             for el, a in fcc.items() for s in (0.98, 1.0, 1.02)]
    cu3au = Atoms("AuCu3", scaled_positions=[(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0)], cell=[3.75] * 3, pbc=True)
    tasks.append(dict(id="L12-Cu3Au", prototype="L12", formula="Cu3Au", atoms=lists(cu3au)))
    tasks.append(dict(id="fcc-Fe", prototype="fcc", formula="Fe", atoms=lists(bulk("Fe", "fcc", a=3.6))))
    return tasks


def dask_labelling(n_workers: int) -> dict:
    """One `label --dask-workers n_workers` run (in this process) on the EMT tasks; timings in seconds."""
    from utils.datagen import runner
    from utils.datagen.cluster import label_with_dask
    from utils.datagen.label import LabelSettings

    settings = LabelSettings()
    settings_d = {k: getattr(settings, k) for k in settings.__dataclass_fields__}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        tasks = [dict(t, settings=settings_d, timeout_s=900, set="main", max_atoms=30) for t in emt_tasks()]
        args = types.SimpleNamespace(scheduler=None, dask_workers=n_workers, dask_window=0, calculator="emt",
                                     device="cpu", out=out, time_limit=0.0)
        provenance = dict(labeller="emt", settings=settings_d, device="cpu")
        marks = {}

        def store(results):
            marks["start"] = time.perf_counter()
            counts = runner.store_results(results, len(tasks), args, provenance, settings)
            marks["end"] = time.perf_counter()
            return counts

        t0 = time.perf_counter()
        label_with_dask(tasks, args, store)
        t_total = time.perf_counter() - t0
        recs = [json.loads(p.read_text()) for d in ("pending", "failed") for p in (out / d).glob("*.json")]
    busy = sum(r["wall_s"] for r in recs)
    label_s = marks["end"] - marks["start"]
    return dict(workers=n_workers, materials=len(recs), startup_s=round(marks["start"] - t0, 2),
                labelling_s=round(label_s, 2), total_s=round(t_total, 2),
                materials_per_s=round(len(recs) / label_s, 3), sum_wall_s=round(busy, 2),
                median_wall_s=round(statistics.median(r["wall_s"] for r in recs), 2))


def _noop(item: dict) -> dict:
    return item


def dask_overhead(n_tasks: int = 400) -> dict:
    """Seconds of Dask bookkeeping per task: no-op tasks through `bounded_map` on 2 worker processes."""
    from distributed import Client, LocalCluster

    from utils.datagen.cluster import bounded_map
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.submit(_noop, {}).result()   # warm up
        t0 = time.perf_counter()
        n = sum(1 for _ in bounded_map(client, _noop, ({"id": i} for i in range(n_tasks)), window=8))
        dt = time.perf_counter() - t0
    return dict(tasks=n, seconds=round(dt, 2), ms_per_task=round(1000 * dt / n, 2))


def ddp_training(nproc: int, epochs: int = 2, batch: int = 16) -> dict:
    """``torchrun --nproc_per_node nproc -m utils.train`` on the embedded set; seconds per epoch after warm-up."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               "-m", "utils.train", "--out", str(Path(tmp) / "ckpt"), "--epochs", str(epochs),
               "--batch-size", str(batch)]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=3600)
        total = time.perf_counter() - t0
        if res.returncode != 0:
            raise RuntimeError(res.stderr[-3000:])
        meta = json.loads((Path(tmp) / "ckpt" / "model.json").read_text())
    sec = meta["history"]["seconds"]
    return dict(processes=nproc, global_batch=batch, epochs=epochs, train_materials=meta["dataset"]["split_sizes"]["train"],
                epoch0_s=round(sec[0], 2), epoch_s=round(sec[-1] - sec[-2], 2), total_s=round(total, 2),
                test_mse=round(meta["metrics"]["test"]["mse"], 5))


def projection(dask_ms_per_task: float) -> dict:
    """Labelling time of 10⁴ and 10⁵ materials on N GPUs (hours), from the cited per-material costs.

    t = n · (s_gpu / k + o) / N, with s_gpu the cited 2.7 s per material per worker, k = 9 workers per GPU (the
    cited runs), o the measured Dask cost per task (paid in parallel by the scheduler, included as an upper
    bound), perfect scaling over N GPUs assumed (the tasks are independent). CPU: t = n · 7.9 s / cores.
    """
    k, s_gpu, s_cpu = CITED["gpu_workers_per_gpu"], CITED["gpu_s_per_material_per_worker"], CITED["cpu_s_per_material"]
    per_gpu = s_gpu / k + dask_ms_per_task / 1000
    rows = []
    for n in (10_000, 100_000):
        rows.append(dict(materials=n, **{f"hours_on_{g}_gpu": round(n * per_gpu / g / 3600, 2) for g in (1, 4, 8, 32)},
                         **{f"hours_on_{c}_cpu_cores": round(n * s_cpu / c / 3600, 2) for c in (2, 64, 512)}))
    return dict(formula="hours = n * (2.7 s / 9 workers + Dask cost per task) / N_gpu / 3600; "
                        "CPU: n * 7.9 s / cores / 3600", seconds_per_material_per_gpu=round(per_gpu, 4), rows=rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--reproject", action="store_true", help="only recompute the projection of an existing --out")
    args = p.parse_args(argv)
    if args.reproject:
        result = json.loads(args.out.read_text())
        result.update(projection=projection(result["dask_overhead"]["ms_per_task"]), cited=CITED)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        return 0
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = dict(dask=[], ddp=[])
    for r in range(args.rounds):
        for n in ((1, 2) if r % 2 == 0 else (2, 1)):
            runs["dask"].append(dask_labelling(n))
            print(json.dumps(runs["dask"][-1]), flush=True)
    overhead = dask_overhead()
    print(json.dumps(overhead), flush=True)
    for r in range(args.rounds):
        for n in ((1, 2) if r % 2 == 0 else (2, 1)):
            runs["ddp"].append(ddp_training(n))
            print(json.dumps(runs["ddp"][-1]), flush=True)

    def med(kind, key, field):
        return round(statistics.median(x[field] for x in runs[kind] if x[key] == n), 3)
    summary = {}
    for n in (1, 2):
        summary[f"dask_{n}_workers"] = dict(materials_per_s=med("dask", "workers", "materials_per_s"),
                                            labelling_s=med("dask", "workers", "labelling_s"),
                                            startup_s=med("dask", "workers", "startup_s"))
        summary[f"ddp_{n}_processes"] = dict(epoch_s=med("ddp", "processes", "epoch_s"),
                                             total_s=med("ddp", "processes", "total_s"))
    summary["dask_speedup_2_vs_1"] = round(summary["dask_2_workers"]["materials_per_s"]
                                           / summary["dask_1_workers"]["materials_per_s"], 2)
    summary["ddp_speedup_2_vs_1"] = round(summary["ddp_1_processes"]["epoch_s"] / summary["ddp_2_processes"]["epoch_s"], 2)
    result = dict(
        date=_dt.date.today().isoformat(), cpu_count=os.cpu_count(), load_average_before=load_before,
        load_average_after=[round(x, 2) for x in os.getloadavg()],
        note="2-core machine shared with other jobs (a labelling run among them) while measuring: absolute times "
             "are noisy and the 2-process speed-ups are lower bounds for a quiet machine",
        summary=summary, dask_overhead=overhead, projection=projection(overhead["ms_per_task"]), cited=CITED,
        runs=runs)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
