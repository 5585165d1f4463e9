"""The known-crystal benchmark: a fourth split, fixed before any training, of crystals a learner would try first.

Membership (``data/benchmark_known.json``) is chosen once from the known-crystal candidates
(:mod:`utils.datagen.known`) and committed; its sha256 is recorded in every packed version that uses it.
It holds the 20 classics named in ``NAMED`` and, per class, more known crystals drawn with a fixed seed until
the quotas ``QUOTAS`` are met. At packing time every polymorph of a benchmark composition is kept out of
train/valid (it goes to the test split), so the benchmark measures prediction for a crystal whose composition the
network has never been trained on.

    python -m utils.datagen benchmark            # writes data/benchmark_known.json once (refuses to overwrite)
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

MEMBERSHIP = Path(__file__).resolve().parents[2] / "data" / "benchmark_known.json"
# (reduced formula, prototype) of the crystals a learner tries first; 'mineral:Anatase' is robocrys' entry
NAMED = [("NaCl", "rocksalt"), ("MgO", "rocksalt"), ("LiF", "rocksalt"), ("KCl", "rocksalt"), ("Al", "fcc"),
         ("Ni", "fcc"), ("Fe", "bcc"), ("GaN", "wurtzite"), ("AlN", "wurtzite"), ("ZrN", "rocksalt"),
         ("CsCl", "cesium_chloride"), ("Bi2Te3", "tetradymite"), ("Al2O3", "corundum"), ("TiO2", "mineral:Anatase"),
         ("LiFePO4", "triphylite"), ("BaTiO3", "perovskite"), ("Mg2Si", "antifluorite"), ("MoS2", "molybdenite_2H"),
         ("Mg3Sb2", "anti_La2O3"), ("Mg3Bi2", "anti_La2O3")]
# members per class, the named ones included (metals and intermetallics, ionic, covalent, layered)
QUOTAS = {"metal": 24, "ionic": 24, "covalent": 20, "layered": 8}


def select(candidates, seed: int = 0) -> list[dict]:
    """The benchmark members: NAMED first, then per class a seeded draw from the table's known crystals."""
    cands = [c for c in candidates if c.get("origin") == "known"]
    by_key = {(c["formula"], c["prototype"]): c for c in cands}
    missing = [k for k in NAMED if k not in by_key]
    if missing:
        raise ValueError(f"named benchmark crystals missing from the known candidates: {missing}")
    chosen = [by_key[k] for k in NAMED]
    formulas = {c["formula"] for c in chosen}
    rng = np.random.default_rng(seed)
    for cls, quota in QUOTAS.items():
        have = sum(c["bond_class"] == cls for c in chosen)
        pool = [c for c in cands if c["bond_class"] == cls and c["source"] == "wyckoff-1963"
                and c["formula"] not in formulas]
        pool.sort(key=lambda c: c["id"])
        for i in rng.permutation(len(pool)):
            if have >= quota:
                break
            c = pool[int(i)]
            if c["formula"] in formulas:
                continue
            chosen.append(c)
            formulas.add(c["formula"])
            have += 1
    return [dict(id=c["id"], name=c["name"], formula=c["formula"], prototype=c["prototype"],
                 bond_class=c["bond_class"], named=(c["formula"], c["prototype"]) in NAMED) for c in chosen]


def read_membership(path: Path | str = MEMBERSHIP) -> tuple[list[dict], str]:
    """(members, sha256 of the file); a clear error if it is missing or malformed."""
    path = Path(path)
    try:
        data = path.read_bytes()
        members = json.loads(data)["members"]
        assert all("id" in m and "formula" in m for m in members)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is missing: write it once with `python -m utils.datagen benchmark`") from None
    except (ValueError, KeyError, TypeError, AssertionError):
        raise ValueError(f"{path} is not a benchmark membership file (a JSON object with 'members', each with "
                         "'id' and 'formula')") from None
    return members, hashlib.sha256(data).hexdigest()


def cmd_benchmark(args) -> int:
    from .known import known_candidates
    if args.file.exists() and not args.force:
        members, sha = read_membership(args.file)
        print(f"{args.file.name} exists ({len(members)} members, sha256 {sha[:12]}…): membership is fixed before "
              "training and is not rewritten (--force replaces it)")
        return 1
    members = select(known_candidates(), seed=args.seed)
    text = json.dumps(dict(
        description="Known-crystal benchmark: fixed before any training; every polymorph of a member's composition "
                    "is kept out of train/valid", seed=args.seed, quotas=QUOTAS, members=members), indent=1) + "\n"
    from .._io import atomic_write_text
    atomic_write_text(args.file, text)
    counts = {cls: sum(m["bond_class"] == cls for m in members) for cls in QUOTAS}
    print(f"wrote {args.file.name}: {len(members)} members {counts}, sha256 "
          f"{hashlib.sha256(text.encode()).hexdigest()[:12]}…")
    return 0


# the closed list of reasons for which a named crystal may be missing from the packed set (at most MAX_NAMED_EXCLUDED)
EXCLUSION_REASONS = {
    "above_grid": "more than 5 % of the modes above the 1,000 cm⁻¹ target grid",
    "unstable": "dynamically unstable with the potential (a mode below −30 cm⁻¹ or > 1 % imaginary weight)",
}
MAX_NAMED_EXCLUDED = 5
MAX_WEIGHT_ABOVE_GRID = 0.05


def named_status(records) -> dict[tuple[str, str], dict]:
    """Where each crystal of ``NAMED`` stands in the labels: one dict per (formula, prototype) with ``status``
    ('labelled' — to be packed —, 'excluded', 'failed' or 'not labelled'), the ``reason`` key of
    :data:`EXCLUSION_REASONS` for an excluded one, the record ``id`` and its lowest and highest frequency (cm⁻¹).

    ``records`` are label records (shards and pending files); a successful record wins over a failed one.
    """
    from .filters import dynamically_stable

    found: dict[tuple[str, str], dict] = {}
    for rec in records:
        key = (rec.get("formula"), rec.get("prototype"))
        if key in NAMED and rec.get("origin") == "known" and (key not in found or rec.get("ok")):
            found[key] = rec
    out = {}
    for key in NAMED:
        rec = found.get(key)
        if rec is None:
            out[key] = dict(status="not labelled", reason=None, id=None)
            continue
        row = dict(id=rec["id"], min_freq_cm1=rec.get("min_freq_cm1"), max_freq_cm1=rec.get("max_freq_cm1"))
        if not rec.get("ok"):
            out[key] = dict(row, status="failed", reason=str(rec.get("reason", "")))
        elif float(rec.get("weight_above_1000_cm1") or 0.0) > MAX_WEIGHT_ABOVE_GRID:
            out[key] = dict(row, status="excluded", reason="above_grid")
        elif not dynamically_stable(rec):
            out[key] = dict(row, status="excluded", reason="unstable")
        else:
            out[key] = dict(row, status="labelled", reason=None)
    return out


__all__ = ["EXCLUSION_REASONS", "MAX_NAMED_EXCLUDED", "MEMBERSHIP", "NAMED", "QUOTAS", "named_status", "read_membership",
           "select"]
