"""Shared pytest fixtures: small real crystals as ase Atoms (built in memory, no files)."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk


def _triclinic() -> Atoms:
    cell = Atoms(cell=[4.1, 4.6, 5.0, 78.0, 95.0, 112.0]).cell.array  # a, b, c (Å), α, β, γ (°)
    fractional = np.array([[0.02, 0.05, 0.11], [0.47, 0.38, 0.55], [0.71, 0.83, 0.29]])
    return Atoms("MgSiO", scaled_positions=fractional, cell=cell, pbc=True)


CRYSTAL_BUILDERS = {
    "NaCl": lambda: bulk("NaCl", "rocksalt", a=5.64),  # rocksalt, primitive cell, 2 atoms
    "ZnO": lambda: bulk("ZnO", "wurtzite", a=3.25, c=5.21),  # wurtzite, 4 atoms
    "triclinic": _triclinic,  # low-symmetry P1 cell, 3 atoms (Mg, Si, O), no two angles equal
}


@pytest.fixture(scope="session")
def build_crystal():
    """``build_crystal(name)`` → a fresh ase Atoms; names: ``"NaCl"``, ``"ZnO"``, ``"triclinic"``."""
    return lambda name: CRYSTAL_BUILDERS[name]()


@pytest.fixture
def nacl() -> Atoms:
    """Rocksalt NaCl, primitive cell (2 atoms), a = 5.64 Å."""
    return CRYSTAL_BUILDERS["NaCl"]()


@pytest.fixture
def zno() -> Atoms:
    """Wurtzite ZnO (4 atoms), a = 3.25 Å, c = 5.21 Å."""
    return CRYSTAL_BUILDERS["ZnO"]()


@pytest.fixture
def triclinic() -> Atoms:
    """A low-symmetry (P1) triclinic 3-atom cell (Mg, Si, O)."""
    return CRYSTAL_BUILDERS["triclinic"]()


def pytest_configure(config):
    """One torch thread: on a shared 2-core machine a second OpenMP thread can run 10–70× slower
    (benchmarks/results.md), and the tests' models are far too small to gain from two."""
    import torch
    torch.set_num_threads(1)
