"""Element symbols ↔ atomic numbers, without importing ase or pymatgen (``utils.data`` loads numpy only).

Example:
    >>> symbol(14), atomic_number("Si")
    ('Si', 14)
"""
from __future__ import annotations

__all__ = ["SYMBOLS", "symbol", "atomic_number"]

#: SYMBOLS[z] is the symbol of atomic number z (1..118); SYMBOLS[0] = 'X' (a placeholder, as in ase.data)
SYMBOLS = tuple(
    "X H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br "
    "Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er "
    "Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No "
    "Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split())
_NUMBER = {s: z for z, s in enumerate(SYMBOLS) if z}


def symbol(z: int) -> str:
    """Element symbol of atomic number z (1..118)."""
    return SYMBOLS[int(z)]


def atomic_number(sym: str) -> int:
    """Atomic number of an element symbol ('Si' → 14); KeyError naming the symbol for anything else."""
    try:
        return _NUMBER[sym]
    except KeyError:
        raise KeyError(f"unknown element symbol {sym!r}") from None
