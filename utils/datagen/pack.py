"""The build-time packer: labelled records of the store (``data/labels``) → ``data/phonon_dos_<version>.npz`` +
``alloys_<version>.npz`` and their entry in ``data/versions.json``. It produces shipped files and is never imported
by the reader (``utils.data``); its command is ``python -m utils.data pack`` (kept there for the README's commands).

Rules (each counted and listed in the file's ``meta_json``): stable records of set 'main' only, deduplicated by id (a
successful record over a failed one, a shard's copy over pending/); invalid records dropped
(:func:`utils.data.validate_record`); materials with more than ``LIGHT_MODE_LIMIT`` of their modes above 1000 cm⁻¹
and those with an atom without a neighbour within ``GRAPH_R_MAX`` excluded; rules 'v2' (:func:`apply_v2_rules`)
add the stricter stability, the hull cut, one copy per crystal and the benchmark split; then every element in
≥ ``MIN_MATERIALS_PER_ELEMENT`` materials (:func:`utils.data.drop_rare_elements`) and an element-balanced split.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from .._io import atomic_write_bytes, atomic_write_json
from ..data import (ALLOYS_PREFIX, BALANCE_MIN_COUNT, BALANCE_TOL, DATA_DIR, FORMAT_VERSION, GRAPH_R_MAX, LABELS_DIR,
                    LIGHT_MODE_LIMIT, MAIN_PREFIX, MIN_MATERIALS_PER_ELEMENT, SPLIT_FRACTIONS, SPLIT_NAMES, SYMPREC,
                    VERSIONS_FILE, DataError, atomic_number, classify_structure, drop_rare_elements, material_arrays,
                    read_versions, symbol, validate_record, version_key)
from ..data.files import now_iso, npz_bytes, sha256_bytes
from ..data.split import balanced_split_checked
from ..spectra import FINE_FREQ_CM1, FREQ_CM1
from .store import iter_records, stored_energies

__all__ = ["pack", "apply_v2_rules"]


def _has_isolated_atom(structure: dict, r_max: float) -> bool:
    """True if some atom of a record's structure has no neighbour (periodic images included) within r_max (Å)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list
    atoms = Atoms(numbers=structure["numbers"], cell=structure["cell"], scaled_positions=structure["frac_coords"],
                  pbc=True)
    return len(set(neighbor_list("i", atoms, r_max).tolist())) < len(atoms)


def _reason_key(reason: str) -> str:
    """Failure reason with the numbers blanked, so that reasons of one kind tally together."""
    return re.sub(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", str(reason))[:200]


def _build_arrays(recs: list[dict], split: np.ndarray, alloys: bool) -> dict:
    """The packed arrays of labelled records (checked by :func:`utils.data.validate_record`), in the file's order."""
    n = len(recs)
    pdos_rows, pdos_mat, pdos_z = [], [], []
    types, sgs = [], []
    for i, r in enumerate(recs):
        st = r["structure"]
        sg, label = classify_structure(st["cell"], st["frac_coords"], st["numbers"])
        sgs.append(sg)
        types.append(label)
        for el, v in sorted(r["fine_pdos"].items(), key=lambda kv: atomic_number(kv[0])):
            pdos_rows.append(v)
            pdos_mat.append(i)
            pdos_z.append(atomic_number(el))
    sec = lambda k: np.array([float((r.get("seconds") or {}).get(k, np.nan)) for r in recs], np.float32)  # noqa: E731
    arr = material_arrays(
        [r["id"] for r in recs], [r["structure"]["cell"] for r in recs], [r["structure"]["numbers"] for r in recs],
        [r["structure"]["frac_coords"] for r in recs], [r["dos"] for r in recs],
        formulas=[r.get("formula", "") for r in recs], prototypes=[r.get("prototype", "") for r in recs],
        structure_types=types, spacegroups=sgs, split=split,
        fine_dos=np.array([r["fine_dos"] for r in recs], np.float32).reshape(n, len(FINE_FREQ_CM1)),
        pdos_values=np.array(pdos_rows, np.float32).reshape(-1, len(FINE_FREQ_CM1)),
        pdos_material=np.array(pdos_mat, np.int32),
        pdos_Z=np.array(pdos_z, np.int16),
        imaginary_weight=np.array([r["imaginary_weight"] for r in recs], np.float64),
        max_freq_cm1=np.array([r["max_freq_cm1"] for r in recs], np.float64),
        min_freq_cm1=np.array([r.get("min_freq_cm1", np.nan) for r in recs], np.float64),
        weight_above_1000_cm1=np.array([r["weight_above_1000_cm1"] for r in recs], np.float64),
        seconds_relax=sec("relax"), seconds_forces=sec("forces"), seconds_dos=sec("dos"),
        seconds_total=sec("total"),
        wall_s=np.array([float(r.get("wall_s", np.nan)) for r in recs], np.float32),
        label_device=np.array([str((r.get("provenance") or {}).get("device", "cpu")) for r in recs], dtype=str),
        freq_cm1=FREQ_CM1.copy(), fine_freq_cm1=FINE_FREQ_CM1.copy(),
    )
    if alloys:
        arr["x"] = np.array([float(r.get("x", np.nan)) for r in recs], np.float64)
        arr["series"] = np.array([str(r.get("series", "")) for r in recs], dtype=str)
    return arr


def _provenance_summary(recs: list[dict]) -> dict:
    provs = Counter(json.dumps(r.get("provenance") or {}, sort_keys=True) for r in recs)
    if not provs:
        return dict(labeller=None, versions={}, settings={})
    top = json.loads(provs.most_common(1)[0][0])
    out = dict(labeller=top.get("labeller"), versions=top.get("versions", {}), settings=top.get("settings", {}))
    if len(provs) > 1:
        out["provenance_variants"] = [dict(json.loads(p), n=c) for p, c in provs.most_common()]
    return out


def _set_meta(version: str, set_name: str, all_recs: list[dict], packed: list[dict], arrays: dict,
              invalid: Counter, invalid_ids: list, light_ids: list, n_duplicates: int, split_seed) -> dict:
    labelled = [r for r in all_recs if r.get("ok")]
    failed = [r for r in all_recs if not r.get("ok")]
    iw = np.array([float(r["imaginary_weight"]) for r in labelled
                   if isinstance(r.get("imaginary_weight"), (int, float))], float)
    qs = (0.0, 0.5, 0.9, 0.95, 0.99, 1.0)
    types = Counter(arrays["structure_types"].tolist())
    by_proto: dict = {}
    for p, t in zip(arrays["prototypes"].tolist(), arrays["structure_types"].tolist()):
        by_proto.setdefault(p, Counter())[t] += 1
    elements = Counter(symbol(z) for i in range(len(packed))
                       for z in np.unique(arrays["numbers"][arrays["atom_offsets"][i]:arrays["atom_offsets"][i + 1]]))
    split = arrays["split"]
    return dict(
        format_version=FORMAT_VERSION, version=version, set=set_name, created=now_iso(),
        **_provenance_summary(packed or labelled),
        grids=dict(
            dos=dict(n=len(FREQ_CM1), min_cm1=0.0, max_cm1=1000.0, normalization="max = 1",
                     definition="np.linspace(0, 1000, 51)"),
            fine_dos=dict(n=len(FINE_FREQ_CM1), min_cm1=0.0, max_cm1=2000.0, step_cm1=2.0,
                          normalization="integral = 3N modes per cell (states per cm^-1 per cell)"),
            pdos="per element on the fine grid; the elements' rows sum to fine_dos"),
        counts=dict(records=len(all_recs) + n_duplicates, duplicates=n_duplicates, unique=len(all_recs),
                    labelled=len(labelled), failed=len(failed),
                    stable=sum(bool(r.get("stable")) for r in labelled),
                    unstable=sum(not r.get("stable") for r in labelled),
                    invalid=sum(invalid.values()), excluded_light=len(light_ids), packed=len(packed)),
        excluded=dict(
            light_modes_above_1000_cm1=dict(
                rule=f"weight_above_1000_cm1 > {LIGHT_MODE_LIMIT}: the 0–1000 cm^-1 target would miss more than "
                     f"{LIGHT_MODE_LIMIT:.0%} of the modes", count=len(light_ids), ids=sorted(light_ids)),
            invalid=dict(count=sum(invalid.values()), reasons=dict(invalid.most_common()), ids=sorted(invalid_ids))),
        imaginary_weight=dict(
            population="all labelled records of this set, stable and unstable", n=int(iw.size),
            quantiles={str(q): float(np.quantile(iw, q)) for q in qs} if iw.size else {},
            n_above_1pct=int((iw > 0.01).sum()), stability_rule="imaginary_weight <= 0.01 (modes below -10 cm^-1)"),
        failed=dict(n=len(failed),
                    reasons=dict(Counter(_reason_key(r.get("reason", "?")) for r in failed).most_common())),
        structure_types=dict(n=len(types),
                             classifier=f"spglib space group + sorted Wyckoff letters (symprec {SYMPREC})",
                             counts=dict(types.most_common()),
                             by_prototype={p: dict(c) for p, c in sorted(by_proto.items())},
                             prototypes_with_several_types=sorted(p for p, c in by_proto.items() if len(c) > 1)),
        elements=dict(sorted(elements.items(), key=lambda kv: atomic_number(kv[0]))),
        split=dict(names=list(SPLIT_NAMES), codes=list(range(len(SPLIT_NAMES))), fractions=list(SPLIT_FRACTIONS), seed=split_seed,
                   method="element_balanced_split (greedy proportional apportionment, rarest element first, "
                          "then balance-repairing swaps)"
                   if set_name == "main" else "alloys are never trained on: all in 'test'",
                   sizes={n: int((split == s).sum()) for s, n in enumerate(SPLIT_NAMES)},
                   balance_rule=f"every element with >= {BALANCE_MIN_COUNT} materials within "
                                f"±{BALANCE_TOL:.0%} of the overall share in each split"),
    )


def apply_v2_rules(stable: list[dict], recs: list[dict], labels_dir: Path, benchmark_file) -> tuple[list, dict]:
    """Dataset v2's filters on the stable, valid records of set 'main' (see :mod:`utils.datagen.filters`).

    Drops: modes below −30 cm⁻¹; substituted candidates above the hull cut; records without an energy; a second
    copy of one crystal (same formula and structure type: the known one, else the first id, is kept). Fixes the split
    of benchmark members (3) and of every other polymorph of a member's composition (test, 2).
    """
    from .benchmark import MEMBERSHIP, read_membership
    from .filters import MAX_E_HULL_EV, dynamically_stable, ground_states, hull_energies

    ref_path = labels_dir / "references.json"
    if not ref_path.exists():
        raise DataError(f"{ref_path} is missing: dataset v2 needs elemental reference energies for the convex hull; "
                        "run `python -m utils.datagen references` first")
    refs = {el: float(v["energy_per_atom_eV"]) for el, v in json.loads(ref_path.read_text()).items()}
    energies = stored_energies(labels_dir)
    labelled = [r for r in recs if r.get("ok") and r.get("structure")]
    for r in labelled:   # a labelled elemental crystal is a reference too (the lowest energy per element wins)
        zs = set(r["structure"]["numbers"])
        if len(zs) == 1 and r["id"] in energies:
            el = symbol(zs.pop())
            refs[el] = min(refs.get(el, np.inf), energies[r["id"]])
    ehull = hull_energies(labelled, energies, refs)
    gs = ground_states(labelled, energies)
    members, member_sha = read_membership(benchmark_file or MEMBERSHIP)
    member_ids = {m["id"] for m in members}
    member_formulas = {m["formula"] for m in members}
    drop = Counter()
    drop_ids: dict[str, list] = {}
    kept = []
    fmin = np.array([float(r.get("min_freq_cm1", np.nan)) for r in stable])
    for r in stable:
        reason = None
        if not dynamically_stable(r):
            reason = "mode_below_-30_cm1"
        elif r["id"] not in ehull:
            reason = "no_energy_or_reference"
        elif r.get("origin", "substituted") != "known" and ehull[r["id"]] > MAX_E_HULL_EV:
            reason = "above_hull"
        if reason:
            drop[reason] += 1
            drop_ids.setdefault(reason, []).append(r["id"])
        else:
            kept.append(r)
    # one copy per crystal: the known one first, then by id
    by_key: dict = {}
    for r in sorted(kept, key=lambda r: (r.get("origin") != "known", r["id"])):
        st = r["structure"]
        key = (r.get("formula") or "", classify_structure(st["cell"], st["frac_coords"], st["numbers"])[1])
        if key in by_key:
            drop["duplicate_crystal"] += 1
            drop_ids.setdefault("duplicate_crystal", []).append(r["id"])
            continue
        by_key[key] = r
    kept = sorted(by_key.values(), key=lambda r: r["id"])
    fixed = {}
    for r in kept:
        if r["id"] in member_ids:
            fixed[r["id"]] = 3
        elif r.get("formula") in member_formulas:
            fixed[r["id"]] = 2
    eh = np.array([ehull[r["id"]] for r in kept])
    meta = dict(
        rules=dict(stability="imaginary_weight <= 0.01 and min_freq_cm1 >= -30 (utils.datagen.filters)",
                   hull=f"substituted candidates with E_hull > {MAX_E_HULL_EV} eV/atom dropped (Sun et al. 2016); "
                        "hull over the labelled pool + elemental references, same potential",
                   duplicates="one record per (formula, structure type); known crystals win"),
        counts={f"excluded_{k}": v for k, v in drop.items()},
        excluded_ids={k: sorted(v) for k, v in drop_ids.items()},
        min_freq_cm1_quantiles_of_stable={str(q): float(np.nanquantile(fmin, q)) for q in (0, 0.01, 0.05, 0.5)}
        if fmin.size else {},
        e_above_hull_quantiles={str(q): float(np.quantile(eh, q)) for q in (0.5, 0.9, 0.99, 1.0)} if eh.size else {},
        benchmark=dict(file=Path(benchmark_file or MEMBERSHIP).name, sha256=member_sha, n_members=len(members),
                       n_packed=sum(v == 3 for v in fixed.values()),
                       missing=sorted(m["name"] for m in members if m["id"] not in {r["id"] for r in kept}),
                       polymorphs_moved_to_test=sum(v == 2 for v in fixed.values())),
        origin={o: sum(r.get("origin", "substituted") == o for r in kept) for o in ("known", "substituted")})
    return kept, dict(fixed_split=fixed, ehull=ehull, energies=energies, ground=gs, meta=meta)


def _add_v2_arrays(arrays: dict, recs: list[dict], v2: dict) -> None:
    arrays["origin"] = np.array([r.get("origin", "substituted") for r in recs], dtype=str)
    arrays["source"] = np.array([r.get("source", "substitution") for r in recs], dtype=str)
    arrays["names"] = np.array([r.get("name", "") for r in recs], dtype=str)
    arrays["bond_class"] = np.array([r.get("bond_class", "") for r in recs], dtype=str)
    arrays["energy_per_atom_eV"] = np.array([v2["energies"].get(r["id"], np.nan) for r in recs], np.float64)
    arrays["e_above_hull_eV"] = np.array([v2["ehull"].get(r["id"], np.nan) for r in recs], np.float64)
    arrays["ground_state"] = np.array([r["id"] in v2["ground"] for r in recs], bool)


def pack(version: str, labels_dir: Path | str = LABELS_DIR, out_dir: Path | str = DATA_DIR, seed: int = 0,
         force: bool = False, min_materials_per_element: int = MIN_MATERIALS_PER_ELEMENT,
         benchmark_file: Path | str | None = None, rules: str = "v1") -> dict:
    """Pack labelled records into ``<out_dir>/phonon_dos_<version>.npz`` (+ ``alloys_<version>.npz``).

    Collects stable records of set 'main' (deduplicated by id; a shard's copy wins over pending/), drops invalid ones
    (:func:`validate_record`, tallied in the metadata) and those with more than 5 % of their modes above
    1000 cm⁻¹ (outside the target grid; counted), assigns an element-balanced split, and writes one
    compressed npz atomically (temp file + ``os.replace``). Alloys (set 'alloys') go to their own file,
    all in split 'test'. The sha256 of each file is recorded in ``<out_dir>/versions.json``.

    Args:
        version: 'v0', 'v1', …; an existing version is only overwritten with ``force=True``.
        labels_dir: the labelling output (pending/, failed/, shards/).
        out_dir: where the npz files and versions.json go.
        seed: split seed.
        min_materials_per_element: drop materials with an element found in fewer materials
            (:func:`drop_rare_elements`; 1 keeps all).
        benchmark_file: the known-crystal benchmark membership (rules 'v2'; default data/benchmark_known.json).
        rules: 'v1' (stable = imaginary weight ≤ 1 %) or 'v2' (:func:`apply_v2_rules`: modes ≥ −30 cm⁻¹, the hull
            cut for substituted candidates, one copy per crystal, the benchmark split).
    Returns:
        dict with the written files, their sha256, counts and timings.
    """
    import time

    t0 = time.perf_counter()
    version_key(version)
    out_dir = Path(out_dir)
    versions = read_versions(out_dir)
    if version in versions and not force:
        raise DataError(f"{version} is already packed (see {out_dir / VERSIONS_FILE}); pick a new version "
                        "or pass force=True (--force) to overwrite it")
    unique: dict[str, tuple[int, dict]] = {}
    n_dup = Counter()
    for origin, rec in iter_records(labels_dir, include_failed=True, with_kind=True):
        rid = rec.get("id")
        if not rid:
            continue
        # a successful record wins over a failed one (a material labelled again with --retry-failed), then the
        # committed shard copy over pending/, then the first shard
        rank = (0 if rec.get("ok") else 2) + (0 if origin == "shards" else 1)
        if rid in unique:
            n_dup[rec.get("set", "main")] += 1
            if rank >= unique[rid][0]:
                continue
        unique[rid] = (rank, rec)
    unique = {k: v[1] for k, v in unique.items()}
    if not unique:
        raise DataError(f"no records under {labels_dir} (pending/, failed/, shards/): run the labelling first")
    out = dict(version=version, files={}, counts={})
    entry = dict()
    for set_name, prefix in (("main", MAIN_PREFIX), ("alloys", ALLOYS_PREFIX)):
        recs = [r for r in unique.values() if r.get("set", "main") == set_name]
        stable = [r for r in recs if r.get("ok") and r.get("stable")]
        invalid, invalid_ids, light_ids, isolated_ids, keep = Counter(), [], [], [], []
        for r in stable:
            why = validate_record(r)
            if why is not None:
                invalid[_reason_key(why)] += 1
                invalid_ids.append(r["id"])
            elif r["weight_above_1000_cm1"] > LIGHT_MODE_LIMIT:
                light_ids.append(r["id"])
            elif _has_isolated_atom(r["structure"], GRAPH_R_MAX):
                isolated_ids.append(r["id"])
            else:
                keep.append(r)
        if not keep:
            if set_name == "main":
                raise DataError(f"no packable stable records of set 'main' under {labels_dir} "
                                f"({len(recs)} records, {len(stable)} stable, {sum(invalid.values())} invalid, "
                                f"{len(light_ids)} light-element exclusions"
                                + (f"; invalid because: {dict(invalid.most_common(3))}" if invalid else "") + ")")
            continue
        keep.sort(key=lambda r: r["id"])
        rare_ids, rare_els = [], []
        v2 = None
        if rules not in ("v1", "v2"):
            raise DataError(f"unknown packing rules {rules!r}: use 'v1' or 'v2'")
        if set_name == "main" and rules == "v2":
            keep, v2 = apply_v2_rules(keep, recs, Path(labels_dir), benchmark_file)
        if set_name == "main":
            keep, rare_ids, rare_els = drop_rare_elements(keep, min_materials_per_element)
            if not keep:
                raise DataError(f"every stable material under {labels_dir} contains an element found in fewer than "
                                f"{min_materials_per_element} materials ({', '.join(rare_els)}): label more "
                                "materials with these elements, or pack with min_materials_per_element=1 "
                                "(--min-per-element 1) to keep them")
            els = [{int(z) for z in r["structure"]["numbers"]} for r in keep]
            fixed = np.array([v2["fixed_split"].get(r["id"], -1) if v2 else -1 for r in keep], np.int8)
            free = np.flatnonzero(fixed < 0)
            split = fixed.copy()
            sub, split_seed = balanced_split_checked([els[i] for i in free], seed)
            split[free] = sub
        else:
            split, split_seed = np.full(len(keep), 2, np.int8), None
        arrays = _build_arrays(keep, split, alloys=set_name == "alloys")
        if v2:
            _add_v2_arrays(arrays, keep, v2)
        meta = _set_meta(version, set_name, recs, keep, arrays, invalid, invalid_ids, light_ids,
                         n_dup[set_name], split_seed)
        meta["counts"]["excluded_isolated"] = len(isolated_ids)
        meta["excluded"]["isolated_at_r_max"] = dict(
            rule=f"an atom without any neighbour within r_max = {GRAPH_R_MAX} Å (the series' graph cutoff)",
            count=len(isolated_ids), ids=sorted(isolated_ids))
        if v2:
            meta["v2"] = v2["meta"]
            meta["counts"].update(v2["meta"]["counts"])
        meta["counts"]["excluded_rare"] = len(rare_ids)
        meta["excluded"]["rare_elements"] = dict(
            rule=f"contains an element found in fewer than {min_materials_per_element} materials (repeated until "
                 "none is)", count=len(rare_ids), ids=rare_ids, elements=rare_els)
        arrays["meta_json"] = np.array(json.dumps(meta))
        data = npz_bytes(arrays)
        fname = f"{prefix}_{version}.npz"
        atomic_write_bytes(out_dir / fname, data)
        sha = sha256_bytes(data)
        entry[fname] = sha
        out["files"][fname] = dict(sha256=sha, bytes=len(data), n_materials=len(keep))
        out["counts"][set_name] = meta["counts"]
    entry["n_materials"] = out["files"][f"{MAIN_PREFIX}_{version}.npz"]["n_materials"]
    entry["n_alloys"] = out["files"].get(f"{ALLOYS_PREFIX}_{version}.npz", {}).get("n_materials", 0)
    entry["created"] = now_iso()
    versions = read_versions(out_dir)
    versions[version] = entry
    atomic_write_json(path=out_dir / VERSIONS_FILE, obj={v: versions[v] for v in sorted(versions, key=version_key)})
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
