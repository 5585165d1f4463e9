"""Substitutional alloys as one cell with mixed ("N-hot") sites between two ordered end members (notebook 05 §5).

:func:`virtual_crystal` interpolates lattice parameters and positions linearly (Vegard's law) and turns each site
whose element differs between the ends into a mixed site {A: 1 − x, B: x}; the end members' sites are matched by
fractional coordinates, after mapping one cell onto the other's setting with pymatgen's ``StructureMatcher`` when
needed.
"""
from __future__ import annotations

import numpy as np

__all__ = ["virtual_crystal"]


def virtual_crystal(end_a, end_b, x: float, max_shift: float = 0.08):
    """A substitutional alloy A₁₋ₓBₓ as one cell with mixed sites, between two end-member cells.

    The end members must describe the same arrangement of sites (e.g. the primitive cells of Mg3Sb2 and
    Mg3Bi2). Sites are matched by fractional coordinates; lattice parameters and positions are
    interpolated linearly (Vegard's law), and a site whose element differs between the ends becomes a mixed site
    {el_A: 1 − x, el_B: x} — the mass-weighted "N-hot" input of the network. x = 0 and x = 1 give the
    ordered end members. Interpolating a, b, c, α, β, γ (not the cell matrices) lets the two cells be
    oriented differently; if their settings differ (other cell vectors), ``end_b`` is first mapped onto
    ``end_a``'s with pymatgen's StructureMatcher (species ignored).

    Args:
        end_a, end_b: pymatgen ``Structure`` (ordered), same number of sites, same prototype.
        x: fraction of B, 0 ≤ x ≤ 1.
        max_shift: largest fractional-coordinate difference allowed between matched sites.
    Returns:
        pymatgen ``Structure`` (site order of ``end_a``).
    Raises:
        ValueError: the ends do not match (site count, no mapping of the sites, disordered ends).

    Example::

        >>> from pymatgen.core import Lattice, Structure
        >>> si = Structure(Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])
        >>> ge = Structure(Lattice.cubic(5.66), ["Ge"], [[0, 0, 0]])
        >>> s = virtual_crystal(si, ge, 0.25)
        >>> round(s.lattice.a, 4), {str(k): v for k, v in s[0].species.items()}
        (5.4875, {'Si': 0.75, 'Ge': 0.25})

    Taught in notebook 05 §5.
    """
    from pymatgen.core import Lattice, Structure

    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must lie in [0, 1], got {x}")
    if len(end_a) != len(end_b):
        raise ValueError(f"end members have {len(end_a)} and {len(end_b)} sites; use cells of the same size")
    if not (end_a.is_ordered and end_b.is_ordered):
        raise ValueError("end members must be ordered structures (one element per site)")
    end_b, match, delta = _matched_sites(end_a, end_b, max_shift)
    species, coords = [], []
    for i, j in enumerate(match):
        ea, eb = end_a[i].specie.symbol, end_b[int(j)].specie.symbol
        if ea == eb:
            species.append({ea: 1.0})
        else:
            species.append({el: occ for el, occ in ((ea, 1.0 - x), (eb, x)) if occ > 0})
        coords.append(end_a.frac_coords[i] + x * delta[i, j])
    parameters = (1 - x) * _lattice_parameters(end_a) + x * _lattice_parameters(end_b)
    return Structure(Lattice.from_parameters(*parameters), species, coords)


def _lattice_parameters(structure) -> np.ndarray:
    return np.array(structure.lattice.abc + structure.lattice.angles)   # a, b, c (Å), α, β, γ (°)


def _site_matching(end_a, end_b, max_shift: float):
    """(match, delta): site match[i] of end_b sits at end_a's site i + delta[i, match[i]] (fractional); or None."""
    delta = end_b.frac_coords[None, :, :] - end_a.frac_coords[:, None, :]   # (n_a, n_b, 3)
    delta -= np.round(delta)                                                # nearest periodic image
    dist = np.linalg.norm(delta, axis=2)                                    # (n_a, n_b)
    match = np.argmin(dist, axis=1)
    if len(set(match.tolist())) != len(end_a) or dist[np.arange(len(end_a)), match].max() > max_shift:
        return None
    return match, delta


def _matched_sites(end_a, end_b, max_shift: float, max_strain: float = 0.2, max_angle_deg: float = 5.0):
    """``(end_b', match, delta)``: end_b in end_a's setting, its sites matched to end_a's.

    Tried as given first; otherwise end_b is re-expressed in end_a's basis with pymatgen's StructureMatcher,
    species ignored (the two ends differ in species by construction)."""
    pa = _lattice_parameters(end_a)

    def attempt(b):
        pb = _lattice_parameters(b)
        if np.abs(pb[:3] / pa[:3] - 1).max() > max_strain or np.abs(pb[3:] - pa[3:]).max() > max_angle_deg:
            return None
        return _site_matching(end_a, b, max_shift)

    found = attempt(end_b)
    if found is None:
        from pymatgen.analysis.structure_matcher import FrameworkComparator, StructureMatcher

        matcher = StructureMatcher(primitive_cell=False, scale=True, attempt_supercell=False,
                                   comparator=FrameworkComparator())
        like = matcher.get_s2_like_s1(end_a, end_b)
        found = attempt(like) if like is not None else None
        if found is None:
            raise ValueError("cannot match the sites of the two end members (not even with pymatgen's "
                             "StructureMatcher); use cells of one prototype, e.g. the primitive cells of both")
        end_b = like
    return (end_b, *found)

