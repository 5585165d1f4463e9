"""Element data every part of ``utils`` shares: the 118 elements of the one-hot inputs, symbol ↔ Z, masses.

Part of the contract layer (with ``utils.spectra``): a leaf over ``ase.data`` (the symbols and the atomic masses in
u, which ase takes from IUPAC 2013 standard atomic weights), so graphs, the dataset reader, the labeller and the
claims sort and look up elements the same way. Nothing here is a second hand-written table.

Example:
    >>> atomic_number("Na"), symbol(17), by_atomic_number(["Cl", "Na", "H"])
    (11, 'Cl', ['H', 'Na', 'Cl'])
    >>> round(atomic_mass("Na"), 3)
    22.99
"""
from __future__ import annotations

from typing import Iterable

import ase.data

__all__ = ["N_ELEMENTS", "SYMBOLS", "atomic_number", "symbol", "atomic_mass", "by_atomic_number"]

N_ELEMENTS = 118  # length of the one-hot vectors: index Z-1 for Z = 1 (H) ... 118 (Og)
SYMBOLS = tuple(ase.data.chemical_symbols[1:N_ELEMENTS + 1])   # SYMBOLS[Z - 1] is the symbol of element Z


def atomic_number(element: str) -> int:
    """Z of a chemical symbol (``"Na"`` → 11); ``ValueError`` naming the symbol if it is not one of the 118."""
    z = ase.data.atomic_numbers.get(str(element), 0)      # 'X' (dummy) is 0 in ase
    if not 1 <= z <= N_ELEMENTS:
        raise ValueError(f"{element!r} is not a chemical symbol of the elements H..Og (Z = 1..{N_ELEMENTS}).")
    return int(z)


def symbol(z: int) -> str:
    """Chemical symbol of element ``z`` (11 → ``"Na"``); ``ValueError`` outside 1..118."""
    z = int(z)
    if not 1 <= z <= N_ELEMENTS:
        raise ValueError(f"atomic number {z} is outside 1..{N_ELEMENTS} (H..Og).")
    return SYMBOLS[z - 1]


def atomic_mass(element: str) -> float:
    """Standard atomic mass (u) of a chemical symbol, ``ase.data.atomic_masses`` (the mass weighting's m_Z)."""
    return float(ase.data.atomic_masses[atomic_number(element)])


def by_atomic_number(elements: Iterable[str]) -> list[str]:
    """The symbols sorted by Z (the order of the one-hot slots and of every per-element table)."""
    return sorted(elements, key=atomic_number)
