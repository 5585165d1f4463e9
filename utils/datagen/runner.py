"""Resumable, parallel labelling run with per-material failure isolation: the commands label, export-tasks,
pack-shard, energies, references and status. Every read and write of the label store goes through
:mod:`utils.datagen.store`."""
from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

from .._io import atomic_write_bytes, atomic_write_text
from ._worker import calculator, init_worker, label_one, package_versions, task_atoms
from .store import (ShardError, done_ids, is_stored, iter_records, pack_shard,  # noqa: F401 (ShardError, done_ids:
                    stored_energies, write_energies, write_record)             # the store's, named here as before)


def _prebuild(candidate: dict) -> dict:
    """A candidate with its starting structure as plain lists (for `label --tasks` on a machine without pymatgen)."""
    import warnings
    warnings.filterwarnings("ignore")
    out = dict(candidate)
    try:
        atoms, formula = task_atoms(candidate)
        out.update(formula=formula, atoms=dict(cell=atoms.cell[:].round(8).tolist(), numbers=atoms.numbers.tolist(),
                                               frac_coords=atoms.get_scaled_positions().round(8).tolist()))
    except Exception as exc:   # reported by the labelling run as a failed material, with this reason
        out["build_error"] = f"{type(exc).__name__}: {exc}"
    out.pop("structure", None)
    return out


def _tasks(args, settings: dict) -> list[dict]:
    if getattr(args, "tasks", None):
        with gzip.open(args.tasks, "rt") as fh:
            cands = json.load(fh)
    else:
        from .known import candidate_list
        from .prototypes import alloy_references
        cands = alloy_references() if args.set == "alloys" else candidate_list(threshold=args.threshold)
    done = done_ids(args.out)
    if getattr(args, "retry_failed", None):   # failed materials whose reason matches go again (e.g. the old volume rule)
        import re
        pattern = re.compile(args.retry_failed)
        records = list(iter_records(args.out))
        ok_ids = {r["id"] for r in records if r.get("ok")}
        retry = {r["id"] for r in records
                 if not r.get("ok") and pattern.search(str(r.get("reason", ""))) and r["id"] not in ok_ids}
        print(f"{len(retry)} failed materials match --retry-failed {args.retry_failed!r}: labelled again", flush=True)
        done -= retry
    tasks = []
    for c in cands:
        if c["id"] in done:
            continue
        t = dict(c)
        if "structure" in t and not isinstance(t["structure"], dict):
            t["structure"] = t["structure"].as_dict()
        t.update(settings=settings, timeout_s=args.timeout, set=args.set, max_atoms=args.max_atoms)
        tasks.append(t)
    if args.order == "yield":
        tasks = _best_yield_first(tasks, args.out, getattr(args, "device", None))
    return tasks[: args.limit] if args.limit else tasks


def _best_yield_first(tasks: list[dict], out: Path, device: str | None = None) -> list[dict]:
    """Reorder by expected stable materials per second, measured per prototype so far.

    yield = (fraction of a prototype's finished candidates that came out stable) / (median wall time); within a
    prototype the likeliest compositions (highest ion-substitution probability) go first. Used once the
    coverage-ordered head of the list has spread over the elements; unknown prototypes get the overall values.
    Wall times count only records labelled on `device` ('cpu', 'cuda') where a prototype has any: a GPU labels a
    large cell several times faster than a CPU core, so times from the other device would misorder the list.
    """
    import statistics
    walls: dict[str, list[float]] = {}
    walls_here: dict[str, list[float]] = {}
    stable: dict[str, list[bool]] = {}
    for rec in iter_records(out):
        proto = rec.get("prototype", "")
        walls.setdefault(proto, []).append(float(rec.get("wall_s", 0.0)))
        if device is not None and str((rec.get("provenance") or {}).get("device", "")).split(":")[0] == \
                device.split(":")[0]:
            walls_here.setdefault(proto, []).append(float(rec.get("wall_s", 0.0)))
        stable.setdefault(proto, []).append(bool(rec.get("stable")))
    walls.update(walls_here)
    all_w = [w for ws in walls.values() for w in ws] or [1.0]
    all_s = [x for xs in stable.values() for x in xs] or [True]
    def expected_yield(proto: str) -> float:
        rate = sum(stable.get(proto, all_s)) / len(stable.get(proto, all_s))
        return max(rate, 0.02) / max(statistics.median(walls.get(proto, all_w)), 0.1)
    return sorted(tasks, key=lambda t: (-expected_yield(t.get("prototype", "")), -float(t.get("score", 0.0))))


def store_results(results, n_tasks: int, args, provenance: dict, settings) -> tuple[int, int, int]:
    """Write each finished record as it arrives: pending/<id>.json, or failed/<id>.json with the reason.

    The one writer of the store, whatever computed the records (the local process pool or Dask workers):
    atomic writes, an id never written twice, spectra of unstable materials dropped, progress, `--time-limit`.
    Returns (labelled, stable, failed); materials not yet finished are left for a rerun.
    """
    from tqdm import tqdm

    from .label import is_stable

    n_ok = n_stable = n_failed = 0
    written: set[str] = set()
    t_start = time.monotonic()
    bar = tqdm(results, total=n_tasks, unit="mat", file=sys.stdout, mininterval=5)
    for rec in bar:
        if rec["id"] in written or is_stored(args.out, rec["id"]):
            print(f"\n{rec['id']}: already stored, this second result is not written", flush=True)
            continue
        rec["provenance"] = provenance
        if rec["ok"]:
            rec["stable"] = is_stable(rec, settings)
            if not rec["stable"]:   # keep the statistics, drop the bulky spectra
                for key in ("fine_dos", "fine_pdos", "dos"):
                    rec.pop(key, None)
            n_ok += 1
            n_stable += rec["stable"]
        else:
            n_failed += 1
        write_record(args.out, rec)
        written.add(rec["id"])
        bar.set_postfix(stable=n_stable, labelled=n_ok)
        if args.time_limit and time.monotonic() - t_start > args.time_limit:
            print(f"\ntime limit of {args.time_limit:.0f} s reached: stopping (resumable)", flush=True)
            break   # the caller then stops the workers; every finished material is on disk
    left = n_tasks - n_ok - n_failed
    print(f"done: {n_ok} labelled, {n_stable} stable, {n_failed} failed" + (f", {left} left for a rerun" if left else ""),
          flush=True)
    return n_ok, n_stable, n_failed


def cmd_label(args) -> int:
    from .label import LabelSettings

    settings = LabelSettings.fast() if args.fast else LabelSettings()
    settings_d = {k: getattr(settings, k) for k in settings.__dataclass_fields__}
    tasks = _tasks(args, settings_d)
    provenance = dict(labeller=args.calculator, versions=package_versions(args.calculator), settings=settings_d,
                      device=args.device)
    if getattr(args, "scheduler", None) or getattr(args, "dask_workers", 0):
        try:
            from .cluster import label_with_dask
        except ImportError as exc:
            raise SystemExit(f"{exc}: --scheduler and --dask-workers need pip install -e .[cluster]") from None
        label_with_dask(tasks, args, lambda results: store_results(results, len(tasks), args, provenance, settings))
        return 0
    print(f"{len(tasks)} materials to label with {args.calculator} on {args.workers} worker(s) ({args.device})",
          flush=True)
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers, initializer=init_worker, initargs=(args.calculator, args.device),
                  maxtasksperchild=50) as pool:
        store_results(pool.imap_unordered(label_one, tasks), len(tasks), args, provenance, settings)
    return 0   # leaving the `with` terminates the workers


def cmd_pack_shard(args) -> int:
    packed = pack_shard(args.out)
    if packed is None:
        print("nothing pending")
        return 0
    path, n_pending, n_failed = packed
    print(f"packed {n_pending} labelled + {n_failed} failed into {path.name}")
    return 0


def cmd_export_tasks(args) -> int:
    """Write the not-yet-labelled candidates with pre-built starting structures to a gzipped JSON file."""
    from tqdm import tqdm

    from .known import candidate_list
    done = done_ids(args.out)
    cands = [c for c in candidate_list(threshold=args.threshold) if c["id"] not in done]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        tasks = list(tqdm(pool.imap(_prebuild, cands, chunksize=8), total=len(cands), unit="cand", file=sys.stdout,
                          mininterval=5))
    atomic_write_bytes(args.file, gzip.compress(json.dumps(tasks).encode("utf-8")))
    n_bad = sum("build_error" in t for t in tasks)
    print(f"wrote {len(tasks)} tasks ({n_bad} that could not be built) to {args.file}")
    return 0


def _single_point(rec: dict) -> dict:
    from .label import atoms_from_lists
    atoms = atoms_from_lists(rec["structure"])
    atoms.calc = calculator()
    return dict(id=rec["id"], energy_per_atom_eV=round(float(atoms.get_potential_energy()) / len(atoms), 6))


def cmd_energies(args) -> int:
    """Single-point energies (eV/atom) of the stored relaxed structures that lack one, in resumable chunks."""
    have = stored_energies(args.out)
    todo = [r for r in iter_records(args.out) if r.get("ok") and r.get("structure") and r["id"] not in have]
    print(f"{len(todo)} relaxed structures without an energy; {len(have)} have one", flush=True)
    ctx = mp.get_context("spawn")
    t0 = time.monotonic()
    with ctx.Pool(args.workers, initializer=init_worker, initargs=(args.calculator, args.device)) as pool:
        for start in range(0, len(todo), args.chunk):
            rows = pool.map(_single_point, todo[start:start + args.chunk])
            path = write_energies(args.out, rows)
            print(f"{start + len(rows)}/{len(todo)} → {path.name} ({time.monotonic() - t0:.0f} s)", flush=True)
    return 0


def _reference(symbol: str) -> dict:
    from .filters import elemental_reference
    try:
        return elemental_reference(symbol, calculator())
    except Exception as exc:   # reported, the other elements go on
        return dict(element=symbol, error=f"{type(exc).__name__}: {exc}")


def cmd_references(args) -> int:
    """Relax elemental reference structures of every element in the pool (resumable: references.json is extended)."""
    from .prototypes import ALLOWED
    path = args.out / "references.json"
    have = json.loads(path.read_text()) if path.exists() else {}
    from ase.data import chemical_symbols
    elemental = {chemical_symbols[int(r["structure"]["numbers"][0])] for r in iter_records(args.out)
                 if r.get("ok") and isinstance(r.get("energy_per_atom_eV"), (int, float))
                 and len(set(r["structure"]["numbers"])) == 1}
    todo = [el for el in ALLOWED if el not in have and el not in elemental]
    print(f"{len(todo)} elements without a reference energy ({len(elemental)} have a labelled elemental crystal, "
          "whose energy serves as the reference)", flush=True)
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers, initializer=init_worker, initargs=(args.calculator, args.device)) as pool:
        for row in pool.imap_unordered(_reference, todo):
            if "error" in row:
                print(f"{row['element']}: {row['error']}", flush=True)
                continue
            have[row["element"]] = dict(structure=row["structure"], energy_per_atom_eV=row["energy_per_atom_eV"],
                                        calculator=args.calculator)
            atomic_write_text(path, json.dumps(dict(sorted(have.items())), indent=1) + "\n")
    print(f"{len(have)} reference energies in {path.name}")
    return 0


def cmd_status(args) -> int:
    from collections import Counter
    try:
        recs = list(iter_records(args.out, include_failed=True))
    except ShardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stable = [r for r in recs if r.get("stable")]
    els = Counter(e for r in stable for e in {int(z) for z in r["structure"]["numbers"]})
    print(json.dumps(dict(records=len(recs), labelled=sum(bool(r.get("ok")) for r in recs), stable=len(stable),
                          elements=len(els), prototypes=len({r["prototype"] for r in stable}),
                          mean_wall_s=round(sum(r["wall_s"] for r in recs) / max(1, len(recs)), 1))))
    return 0
