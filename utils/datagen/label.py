"""Label one crystal: relax with an ASE calculator → phonopy finite displacements → phonon DoS.

Phonopy conventions: frequencies in THz from phonopy, converted here to cm⁻¹ (1 THz = 33.35641 cm⁻¹, ``utils.spectra.THZ_TO_CM1``);
the DoS of a cell with N atoms integrates to 3N modes. Any ASE calculator works: the dataset uses
SevenNet-l3i5 (a universal potential whose weights ship in the `sevenn` package), tests use ase's EMT.

Example:
    >>> from ase.calculators.emt import EMT
    >>> from ase.build import bulk
    >>> rec = label_atoms(bulk("Al", "fcc", a=4.05), EMT(), LabelSettings.fast())   # doctest: +SKIP
    >>> rec["imaginary_weight"] <= 0.01                                             # doctest: +SKIP
    True
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..spectra import COARSE_SIGMA_CM1, FINE_SIGMA_CM1, THZ_TO_CM1
from ..spectra import FINE_FREQ_CM1 as FINE_GRID_CM1   # 1001 points 0–2000 cm⁻¹, covers every mode we keep
from ..spectra import FREQ_CM1 as COARSE_GRID_CM1      # the original tutorial's 51-point target grid


@dataclasses.dataclass(frozen=True)
class LabelSettings:
    """Numerical settings of one labelling run (stored with every record).

    supercell_min_length_A: each supercell lattice vector ≥ this (Å); displacement_A: phonopy step (Å);
    mesh_length_A: phonopy's length-based q-mesh (n_i ≈ L·|b_i|), capped at mesh_max;
    sigma_fine_cm1 / sigma_coarse_cm1: Gaussian broadening of the fine DoS and of the 51-point target.
    """
    supercell_min_length_A: float = 8.0
    displacement_A: float = 0.01
    mesh_length_A: float = 64.0
    mesh_max: int = 24
    fmax_eV_A: float = 0.005
    relax_steps: int = 300
    max_volume_change: float = 0.5      # catches collapsing or exploding cells only (starting volumes are scanned)
    volume_scan: tuple = (0.70, 0.80, 0.90, 1.00, 1.10, 1.20, 1.35)   # volume factors of the E–V pre-scan
    sigma_fine_cm1: float = FINE_SIGMA_CM1        # 5 cm⁻¹
    sigma_coarse_cm1: float = COARSE_SIGMA_CM1    # 20 cm⁻¹
    imaginary_threshold_cm1: float = -10.0
    max_imaginary_weight: float = 0.01
    max_atoms_supercell: int = 250

    @classmethod
    def fast(cls) -> "LabelSettings":
        """Cheap settings for tests (small supercell and mesh)."""
        return cls(supercell_min_length_A=6.0, mesh_length_A=24.0, fmax_eV_A=0.01, relax_steps=100)


class LabelError(RuntimeError):
    """A material that cannot be labelled (the message says why); the run logs it and goes on."""


def atoms_from_lists(structure: dict):
    """ase `Atoms` from the plain-list form stored in records and tasks: cell (3×3 Å), numbers, frac_coords."""
    from ase import Atoms
    return Atoms(numbers=structure["numbers"], cell=structure["cell"], scaled_positions=structure["frac_coords"],
                 pbc=True)


def supercell_matrix(cell: np.ndarray, min_length_A: float) -> np.ndarray:
    """Diagonal supercell with every lattice vector ≥ min_length_A (Å)."""
    lengths = np.linalg.norm(cell, axis=1)
    return np.diag(np.maximum(1, np.ceil(min_length_A / lengths - 1e-9)).astype(int))


def scan_volume(atoms, calc, settings: LabelSettings) -> dict:
    """Rescale `atoms` in place to the minimum of the potential's energy–volume curve (a short pre-scan).

    Single-point energies at the volume factors ``settings.volume_scan`` (isotropic scaling, fractional coordinates
    kept); the minimum of a parabola through the lowest point and its two neighbours sets the new volume. If the
    lowest energy lies at an end of the scan, that end is taken (relaxation continues from there). So the starting
    volume of a substituted candidate is the potential's own, and the volume rule of :func:`relax` only catches
    collapsing or exploding cells. Returns the factors, energies (eV/atom) and the chosen factor.
    """
    v0 = atoms.get_volume()
    cell0 = np.asarray(atoms.cell[:]).copy()
    factors = np.asarray(settings.volume_scan, float)
    energies = []
    for f in factors:
        atoms.set_cell(cell0 * f ** (1 / 3), scale_atoms=True)
        atoms.calc = calc
        e = float(atoms.get_potential_energy()) / len(atoms)
        energies.append(e if np.isfinite(e) else np.inf)
    energies = np.asarray(energies)
    if not np.isfinite(energies).any():
        raise LabelError("the potential gave no finite energy in the volume scan")
    i = int(np.argmin(energies))
    best = factors[i]
    if 0 < i < len(factors) - 1:
        a, b, _ = np.polyfit(factors[i - 1:i + 2], energies[i - 1:i + 2], 2)
        if a > 0:
            best = float(np.clip(-b / (2 * a), factors[i - 1], factors[i + 1]))
    atoms.set_cell(cell0 * best ** (1 / 3), scale_atoms=True)
    return dict(factors=factors.round(4).tolist(), energies_eV_atom=np.round(energies, 6).tolist(),
                chosen_factor=round(float(best), 4), start_volume_A3=round(float(v0), 4))


def relax(atoms, calc, settings: LabelSettings) -> dict:
    """Relax cell and positions in place, keeping the space group (ase FixSymmetry + FrechetCellFilter)."""
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS

    atoms.calc = calc
    v0 = atoms.get_volume()
    atoms.set_constraint(FixSymmetry(atoms, symprec=1e-3))
    opt = BFGS(FrechetCellFilter(atoms), logfile=None)
    converged = bool(opt.run(fmax=settings.fmax_eV_A, steps=settings.relax_steps))
    fmax = float(np.abs(atoms.get_forces()).max())
    stress = float(np.abs(atoms.get_stress()).max())   # eV/Å³
    atoms.set_constraint()
    dv = atoms.get_volume() / v0 - 1.0
    if not np.isfinite(dv) or abs(dv) > settings.max_volume_change:
        raise LabelError(f"volume changed by {dv:+.0%} on relaxation (limit ±{settings.max_volume_change:.0%})")
    energy = float(atoms.get_potential_energy()) / len(atoms)
    return dict(converged=converged, steps=int(opt.nsteps), residual_force_eV_A=fmax,
                residual_stress_eV_A3=stress, volume_change=float(dv), energy_per_atom_eV=energy)


def force_constants(atoms, calc, settings: LabelSettings):
    """A phonopy object with force constants from finite displacements computed by `calc`."""
    from ase import Atoms
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell[:], scaled_positions=atoms.get_scaled_positions())
    sc = supercell_matrix(np.asarray(atoms.cell[:]), settings.supercell_min_length_A)
    n_super = int(round(np.linalg.det(sc))) * len(atoms)
    if n_super > settings.max_atoms_supercell:
        raise LabelError(f"supercell of {n_super} atoms exceeds {settings.max_atoms_supercell}")
    phonon = Phonopy(unit, supercell_matrix=sc, primitive_matrix="P", symprec=1e-3)
    phonon.generate_displacements(distance=settings.displacement_A)
    forces = []
    for disp in phonon.supercells_with_displacements:
        sup = Atoms(disp.symbols, cell=disp.cell, scaled_positions=disp.scaled_positions, pbc=True)
        sup.calc = calc
        f = sup.get_forces()
        if not np.all(np.isfinite(f)):
            raise LabelError("calculator returned non-finite forces")
        forces.append(f - f.mean(axis=0))   # remove drift
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    return phonon, dict(supercell=np.diag(sc).tolist(), n_displacements=len(forces), n_atoms_supercell=n_super)


def broadened(freqs_cm1: np.ndarray, weights: np.ndarray, grid_cm1: np.ndarray, sigma_cm1: float) -> np.ndarray:
    """Σ_k weights_k · G_σ(ω − ω_k) on a grid; G is a unit-area Gaussian (1/cm⁻¹)."""
    diff = grid_cm1[None, :] - freqs_cm1[:, None]
    g = np.exp(-0.5 * (diff / sigma_cm1) ** 2) / (sigma_cm1 * np.sqrt(2 * np.pi))
    return weights @ g


def dos_from_phonopy(phonon, symbols: list[str], settings: LabelSettings) -> dict:
    """Total and per-element DoS from a q-mesh with eigenvectors.

    Per-element projection: weight of mode ν at q on element E = Σ_{j∈E} |e_jν(q)|² (eigenvectors are
    unit-normalized, so the element weights of a mode sum to 1). Sums over all atoms of one element are
    invariant under the crystal's symmetry, so the irreducible q-points with their weights suffice.
    Returns the fine DoS (3N normalization, states per cm⁻¹ per cell), per-element fine DoS, the 51-point
    max-normalized target, and mode statistics.
    """
    b = np.linalg.inv(phonon.primitive.cell).T            # reciprocal vectors without 2π (1/Å)
    mesh = np.clip(np.round(settings.mesh_length_A * np.linalg.norm(b, axis=1)), 1, settings.mesh_max).astype(int)
    phonon.run_mesh(mesh.tolist(), with_eigenvectors=True, is_mesh_symmetry=True, is_gamma_center=True)
    md = phonon.get_mesh_dict()
    w_q = md["weights"] / md["weights"].sum()              # (n_q,)
    freqs = md["frequencies"] * THZ_TO_CM1                 # (n_q, 3N)
    eig = md["eigenvectors"]                               # (n_q, 3N, 3N): [q, 3j+α, ν]
    n_atoms = len(symbols)
    amp = (np.abs(eig) ** 2).reshape(len(w_q), n_atoms, 3, 3 * n_atoms).sum(axis=2)   # (n_q, N, 3N)
    mode_w = np.repeat(w_q[:, None], 3 * n_atoms, axis=1)  # (n_q, 3N)
    f_flat, w_flat = freqs.ravel(), mode_w.ravel()
    imag = float(w_flat[f_flat < settings.imaginary_threshold_cm1].sum() / w_flat.sum())
    fine_total = broadened(f_flat, w_flat, FINE_GRID_CM1, settings.sigma_fine_cm1)
    pdos = {}
    for el in dict.fromkeys(symbols):
        idx = [j for j, s in enumerate(symbols) if s == el]
        w_el = (amp[:, idx, :].sum(axis=1) * w_q[:, None]).ravel()
        pdos[el] = broadened(f_flat, w_el, FINE_GRID_CM1, settings.sigma_fine_cm1)
    coarse = broadened(f_flat, w_flat, COARSE_GRID_CM1, settings.sigma_coarse_cm1)
    if not np.all(np.isfinite(coarse)) or coarse.max() <= 0:
        raise LabelError("DoS on the 0–1000 cm⁻¹ grid is empty or not finite")
    return dict(
        mesh=mesh.tolist(),
        imaginary_weight=imag,
        min_freq_cm1=float(f_flat.min()),
        max_freq_cm1=float(f_flat.max()),
        weight_above_1000_cm1=float(w_flat[f_flat > 1000.0].sum() / w_flat.sum()),
        dos=(coarse / coarse.max()).tolist(),
        fine_dos=fine_total.tolist(),
        fine_pdos={el: v.tolist() for el, v in pdos.items()},
    )


def label_atoms(atoms, calc, settings: LabelSettings | None = None, volume_scan: bool = False) -> dict:
    """Relax, compute phonons and DoS of one ase `Atoms`; raises LabelError for an unusable material.

    volume_scan: first move to the minimum of the potential's E–V curve (:func:`scan_volume`); used for
    substituted candidates, whose starting volume is an estimate. Known crystals start at the experimental volume.
    The record holds the potential's energy per atom of the relaxed structure (``energy_per_atom_eV``, eV).
    """
    settings = settings or LabelSettings()
    atoms = atoms.copy()
    t0 = time.perf_counter()
    scan = scan_volume(atoms, calc, settings) if volume_scan else None
    relax_info = relax(atoms, calc, settings)
    if scan is not None:
        relax_info["volume_scan"] = scan
    t1 = time.perf_counter()
    phonon, fc_info = force_constants(atoms, calc, settings)
    t2 = time.perf_counter()
    dos = dos_from_phonopy(phonon, atoms.get_chemical_symbols(), settings)
    t3 = time.perf_counter()
    return dict(
        structure=dict(cell=np.asarray(atoms.cell[:]).round(8).tolist(),
                       numbers=atoms.get_atomic_numbers().tolist(),
                       frac_coords=atoms.get_scaled_positions().round(8).tolist()),
        relax=relax_info, phonons=fc_info, energy_per_atom_eV=relax_info["energy_per_atom_eV"], **dos,
        seconds=dict(relax=round(t1 - t0, 2), forces=round(t2 - t1, 2), dos=round(t3 - t2, 2),
                     total=round(t3 - t0, 2)),
    )


def is_stable(record: dict, settings: LabelSettings | None = None) -> bool:
    """Dynamically stable: weight of modes below −10 cm⁻¹ ≤ 1 % of all modes."""
    settings = settings or LabelSettings()
    return record["imaginary_weight"] <= settings.max_imaginary_weight
