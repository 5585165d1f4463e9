"""Element-balanced splits: every element spread over train / valid / test like the whole set.

:func:`element_balanced_split` assigns the splits, :func:`split_balance_violations` states the rule's failures, and
:func:`drop_rare_elements` removes materials with an element too rare to be spread (a packed version promises every
element in ≥ ``MIN_MATERIALS_PER_ELEMENT`` materials). Pure numpy; used by the packer, the original CSV and user JSON.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from ..elements import atomic_number, symbol
from .errors import SplitError

__all__ = ["SPLIT_NAMES", "SPLIT_FRACTIONS", "MIN_MATERIALS_PER_ELEMENT", "BALANCE_MIN_COUNT", "BALANCE_TOL",
           "element_balanced_split", "split_balance_violations", "balanced_split_checked", "drop_rare_elements"]

SPLIT_NAMES = ("train", "valid", "test", "benchmark")   # benchmark: known crystals, from v2 on (code 3)
SPLIT_FRACTIONS = (0.78, 0.09, 0.13)              # the original tutorial's 1192/137/192 of 1521
MIN_MATERIALS_PER_ELEMENT = 5   # every element of a packed version occurs in at least this many materials
BALANCE_MIN_COUNT, BALANCE_TOL = 10, 0.10


def _element_index(element_sets: Sequence[Iterable]) -> tuple[list[list[int]], list]:
    keys: dict = {}
    rows = []
    for els in element_sets:
        rows.append(sorted({keys.setdefault(e, len(keys)) for e in els}))
    return rows, list(keys)


def element_balanced_split(element_sets: Sequence[Iterable], fractions: Sequence[float] = SPLIT_FRACTIONS,
                           seed: int = 0, min_count: int = BALANCE_MIN_COUNT, tol: float = BALANCE_TOL) -> np.ndarray:
    """Assign each material to train (0), valid (1) or test (2) so that every element is spread like the whole.

    Greedy proportional apportionment: materials are visited from the rarest element up (ties in a seeded
    random order); material m goes to the split s with the largest deficit
    ``Σ_{e∈m} [f_s (a_e + 1) − c_{e,s}] + [f_s (t + 1) − n_s]``, where a_e is the number of materials with
    element e assigned so far, c_{e,s} those in s, t and n_s the same for all materials, f the target
    fractions. Every element (and the whole set) then tracks f to within about one material at every step.
    Remaining violations of the balance rule (:func:`split_balance_violations`: an element with ≥ min_count
    materials more than tol away from the overall share of a split) are then repaired by swapping pairs of
    materials between splits, which keeps the split sizes. Deterministic for a given input order and seed.

    Args:
        element_sets: per material, an iterable of its elements (symbols or Z).
        fractions: target (train, valid, test) fractions (normalized).
        seed: seed of the visiting order among materials of equal rarity.
    Returns:
        int8 array of split codes, one per material.
    """
    f = np.asarray(fractions, float)
    f = f / f.sum()
    rows, keys = _element_index(element_sets)
    n, k = len(rows), len(f)
    out = np.zeros(n, np.int8)
    if n == 0:
        return out
    n_e = np.zeros(len(keys))
    for r in rows:
        n_e[r] += 1
    rng = np.random.default_rng(seed)
    rarity = np.array([n_e[r].min() if r else np.inf for r in rows])
    order = np.lexsort((rng.random(n), rarity))
    c = np.zeros((len(keys), k))                 # c[e, s]: materials with element e in split s
    n_s = np.zeros(k)
    noise = rng.random((n, k)) * 1e-9            # seeded tie-break
    for i in order:
        r = rows[i]
        score = f * (n_s.sum() + 1) - n_s + noise[i]
        if r:
            ce = c[r]
            score = score + (f[None, :] * (ce.sum(axis=1, keepdims=True) + 1) - ce).sum(axis=0)
        s = int(np.argmax(score))
        out[i] = s
        c[r, s] += 1
        n_s[s] += 1
    _repair_split(rows, out, n_e, c, n_s, rng, min_count, tol)
    return out


def _repair_split(rows, split, n_e, c, n_s, rng, min_count, tol, max_swaps: int = 2000) -> None:
    """Swap pairs of materials between splits (sizes unchanged) until no element violates the balance rule.

    Penalty: Σ over elements with ≥ min_count materials of Σ_s max(0, |c_es/N_e − n_s/n| − tol)²; each
    step takes the best of up to 40×40 candidate swaps around the worst violation, if it lowers the penalty.
    """
    n = len(split)
    overall = n_s / n
    elig = n_e >= min_count
    if not elig.any():
        return
    members = {}
    for i, r in enumerate(rows):
        for e in r:
            members.setdefault(e, []).append(i)

    def pen(idx, cc):
        dev = np.abs(cc / n_e[idx][:, None] - overall[None, :]) - tol
        return float((np.maximum(dev, 0.0) ** 2 * elig[idx][:, None]).sum())

    for _ in range(max_swaps):
        dev = c / np.maximum(n_e, 1)[:, None] - overall[None, :]
        viol = (np.abs(dev) > tol + 1e-12) & elig[:, None]
        if not viol.any():
            return
        e, s_over = np.unravel_index(np.argmax(np.where(viol, np.abs(dev), -1)), dev.shape)
        if dev[e, s_over] < 0:          # under-represented in s_over: move one in from the most over-represented split
            s_from, s_to = int(np.argmax(dev[e])), int(s_over)
        else:
            s_from, s_to = int(s_over), int(np.argmin(dev[e]))
        a_pool = [i for i in members[e] if split[i] == s_from]
        b_pool = np.flatnonzero(split == s_to)
        b_pool = [int(i) for i in b_pool if e not in rows[i]]
        if not a_pool or not b_pool:
            return
        a_pool = rng.permutation(a_pool)[:40]
        b_pool = rng.permutation(b_pool)[:40]
        best, best_pair = 0.0, None
        for a in a_pool:
            for b in b_pool:
                idx = sorted(set(rows[a]) | set(rows[b]))
                before = pen(idx, c[idx])
                cc = c[idx].copy()
                pos = {el: j for j, el in enumerate(idx)}
                for el in rows[a]:
                    cc[pos[el], s_from] -= 1
                    cc[pos[el], s_to] += 1
                for el in rows[b]:
                    cc[pos[el], s_to] -= 1
                    cc[pos[el], s_from] += 1
                delta = pen(idx, cc) - before
                if delta < best - 1e-15:
                    best, best_pair = delta, (int(a), int(b))
        if best_pair is None:
            return
        a, b = best_pair
        c[rows[a], s_from] -= 1
        c[rows[a], s_to] += 1
        c[rows[b], s_to] -= 1
        c[rows[b], s_from] += 1
        split[a], split[b] = s_to, s_from


def split_balance_violations(element_sets: Sequence[Iterable], split, min_count: int = BALANCE_MIN_COUNT,
                             tol: float = BALANCE_TOL) -> list[str]:
    """Elements (with ≥ min_count materials) whose share in some split differs from the overall share by > tol.

    Returns human-readable violations, empty if the rule holds. The overall share of split s is
    n_s / n; the element's share is (materials with e in s) / (materials with e).
    """
    split = np.asarray(split)
    n = len(split)
    if n == 0:
        return []
    overall = np.array([(split == s).mean() for s in range(len(SPLIT_NAMES))])
    by_el: dict = {}
    for i, els in enumerate(element_sets):
        for e in set(els):
            by_el.setdefault(e, []).append(i)
    bad = []
    for e, idx in sorted(by_el.items(), key=lambda kv: str(kv[0])):
        if len(idx) < min_count:
            continue
        share = np.array([(split[idx] == s).mean() for s in range(len(SPLIT_NAMES))])
        for s, name in enumerate(SPLIT_NAMES):
            if abs(share[s] - overall[s]) > tol + 1e-12:
                bad.append(f"{e}: {share[s]:.0%} of its {len(idx)} materials in {name} vs {overall[s]:.0%} overall")
    return bad


def balanced_split_checked(element_sets, seed: int, fractions=SPLIT_FRACTIONS) -> tuple[np.ndarray, int]:
    """Split and verify; try a few derived seeds if the rule fails. Returns (split, seed used)."""
    last = []
    for attempt in range(10):
        s = seed + attempt
        split = element_balanced_split(element_sets, fractions, seed=s)
        last = split_balance_violations(element_sets, split)
        if not last:
            return split, s
    raise SplitError("no element-balanced split found (tried seeds "
                     f"{seed}..{seed + 9}): " + "; ".join(last[:5]))


def drop_rare_elements(recs: list[dict], min_materials: int = MIN_MATERIALS_PER_ELEMENT) -> tuple[list, list, list]:
    """Drop materials containing an element that occurs in fewer than `min_materials` materials, until none does.

    Removing a material can push another of its elements below the limit, hence the loop. Returns
    (kept records, dropped ids, dropped element symbols). A model cannot learn an element from 1–4 examples
    (and the split could not place it in every part), so the set promises every element in ≥ min_materials.
    """
    keep = [(r, {int(z) for z in r["structure"]["numbers"]}) for r in recs]   # (record, its elements)
    dropped_ids, dropped_els = [], set()
    while True:
        count = Counter(z for _, els in keep for z in els)
        rare = {z for z, c in count.items() if c < min_materials}
        if not rare:
            return ([r for r, _ in keep], sorted(dropped_ids),
                    sorted((symbol(z) for z in dropped_els), key=atomic_number))
        dropped_els |= rare
        dropped_ids += [r["id"] for r, els in keep if rare & els]
        keep = [(r, els) for r, els in keep if not rare & els]
