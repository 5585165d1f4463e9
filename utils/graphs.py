"""Crystal structure → periodic graph (`torch_geometric.data.Data`).

A crystal is an infinite, periodic arrangement of atoms. We describe one unit cell as a graph:

* **Nodes** are the atoms (sites) of the unit cell. Each node carries two feature vectors of
  length 118 (one entry per element, index Z−1), both scalars, i.e. irreps ``118x0e``:

  - ``x``: the *mass-weighted one-hot* encoding, the atomic mass in u at index Z−1. A partially
    occupied site (e.g. 50 % Sb / 50 % Bi, common in CIFs of alloys) gets the "N-hot" vector
    Σ_c occ_c · m_c · onehot(Z_c).
  - ``node_attr``: the plain *occupancy one-hot* (1, or occ_c, at index Z−1).

* **Edges** connect every ordered pair of atoms closer than ``r_max`` (Å), *including periodic
  images*: atom ``src`` seen from atom ``dst`` may sit in a neighbouring cell, displaced by
  ``edge_shift @ lattice`` (``edge_shift`` is an integer triple). In a small cell an atom is
  often its own neighbour (a copy of itself one lattice vector away); only the zero-length
  self pair is excluded. The edge vector, from the receiving atom to its neighbour image, is

      edge_vec = pos[src] + edge_shift @ lattice − pos[dst]          # (n_edges, 3), Å

  and messages flow from ``src`` (``edge_index[0]``) to ``dst`` (``edge_index[1]``), the
  torch_geometric / e3nn convention (see ``docs/DESIGN.md``).

Example::

    >>> from ase.build import bulk
    >>> graph = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64), r_max=4.0)
    >>> graph.x.shape, graph.edge_index.shape
    (torch.Size([2, 118]), torch.Size([2, 36]))

Errors in the input (unknown element, NaN coordinates, flat cell, vacancies, isolated atoms)
raise :class:`GraphError`, a ``ValueError`` whose message names the atom and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ase
import ase.data
import numpy as np
import torch
import vesin
from torch_geometric.data import Data

from .elements import N_ELEMENTS   # 118: length of the one-hot vectors, index Z-1 (re-exported)

__all__ = [
    "GraphError",
    "N_ELEMENTS",
    "mass_weighted_onehot",
    "occupancy_onehot",
    "periodic_edges",
    "structure_to_graph",
    "structure_arrays",
    "average_neighbors",
]

OVER_OCCUPANCY_TOLERANCE = 1e-6  # a site's occupancies may sum to at most 1 + this
VACANCY_TOLERANCE = 1e-3  # sums in [1 - this, 1] count as fully occupied (CIF rounding, 3 x 0.333)
MIN_VOLUME_A3 = 1e-6  # |det(cell)| below this (Å^3) is a flat, unusable cell
MIN_DISTANCE_A = 0.1  # two atoms closer than this (Å) are overlapping sites, not a crystal
MAX_CELL_LENGTH_A = 1e4  # a lattice vector longer than this (Å) is not a crystal's cell (units? a typo?)
MAX_COORDINATE_A = 1e6  # |Cartesian coordinate| above this (Å) is refused before the neighbour list
ISOTOPES = {"D": "deuterium", "T": "tritium"}  # read as H by pymatgen; the encoding has no isotope masses

_MASSES_U = np.asarray(ase.data.atomic_masses[1 : N_ELEMENTS + 1], dtype=np.float64)  # (118,) u, index Z-1
_PERIODIC = np.ones(3, dtype=bool)  # periodic along all three lattice vectors
_RESERVED_KEYS = {
    "x", "node_attr", "pos", "lattice", "edge_index", "edge_shift", "edge_vec",
    "composition", "n_atoms", "y", "batch", "ptr",
}


class GraphError(ValueError):
    """A structure cannot be turned into a graph; the message says which atom and what to do."""


# --------------------------------------------------------------------------------------------
# node features
# --------------------------------------------------------------------------------------------
def _element_number(element: Any, site_index: int) -> int:
    """Atomic number of ``element`` (int Z, symbol str, or pymatgen Element/Species)."""
    if not isinstance(element, (str, int, np.integer)):  # pymatgen Element / Species / DummySpecies
        isotope = getattr(getattr(element, "element", element), "name", None)   # pymatgen: Element.D has symbol 'H'
        if isotope in ISOTOPES:
            _refuse_isotope(isotope, site_index)
        symbol = getattr(element, "symbol", None)
        if symbol is None:
            raise GraphError(
                f"site {site_index}: cannot read an element from {element!r}; use an atomic number, "
                "a chemical symbol or a pymatgen Element/Species."
            )
        element = str(symbol)
    if isinstance(element, str):
        if element in ISOTOPES:
            _refuse_isotope(element, site_index)
        number = ase.data.atomic_numbers.get(element, 0)  # 'X' (dummy/vacancy) is 0 in ase
        if number == 0:
            raise GraphError(
                f"site {site_index}: unknown element {element!r}. Use a chemical symbol such as "
                "'Na' (dummy species and vacancies 'X' are not supported)."
            )
    else:
        number = int(element)
    if not 1 <= number <= N_ELEMENTS:
        raise GraphError(
            f"site {site_index}: unknown element with atomic number Z={number}. Z must be in "
            f"1..{N_ELEMENTS} (H..Og); check the species of this site."
        )
    return number


def _refuse_isotope(symbol: str, site_index: int) -> None:
    raise GraphError(
        f"site {site_index}: {ISOTOPES[symbol]} {symbol!r} is not supported: the node features hold natural atomic "
        f"masses (H: {ase.data.atomic_masses[1]:.3f} u), so {symbol} would be treated as ordinary hydrogen. "
        "Replace it by 'H' if that is what you want (the DoS of H-containing modes then shifts up by up to √2 "
        "relative to D)."
    )


def _site_occupancies(numbers_or_occupancies: Sequence[Any]) -> list[dict[int, float]]:
    """Normalise sites to ``[{Z: occupancy}, ...]`` and validate them.

    Each entry may be an atomic number, a symbol, or a mapping element → occupancy
    (a pymatgen ``site.species`` Composition works too).
    """
    sites: list[dict[int, float]] = []
    for site_index, site in enumerate(numbers_or_occupancies):
        if isinstance(site, Mapping) or hasattr(site, "items"):
            occupancies: dict[int, float] = {}
            for element, occupancy in site.items():
                number = _element_number(element, site_index)
                occupancy = float(occupancy)
                symbol = ase.data.chemical_symbols[number]
                if not np.isfinite(occupancy) or occupancy < 0:
                    raise GraphError(
                        f"site {site_index}: occupancy {occupancy} of {symbol} is not a "
                        "non-negative number; fix the occupancies of this site."
                    )
                occupancies[number] = occupancies.get(number, 0.0) + occupancy
        else:
            occupancies = {_element_number(site, site_index): 1.0}
        total = sum(occupancies.values())
        label = ", ".join(f"{ase.data.chemical_symbols[z]}:{occ:g}" for z, occ in occupancies.items())
        if total > 1 + OVER_OCCUPANCY_TOLERANCE:
            raise GraphError(
                f"site {site_index} ({label}): occupancies sum to {total:.6g} > 1. Normalise "
                "the occupancies of this site so that they sum to 1."
            )
        if total <= 0:
            raise GraphError(
                f"site {site_index} ({label or 'no species'}): occupancies sum to {total:g}. "
                "Every site needs at least one element with a positive occupancy; remove empty sites."
            )
        sites.append(occupancies)
    return sites


def _occupancy_matrix(sites: Sequence[dict[int, float]]) -> np.ndarray:
    """(n_sites, 118) float64 numpy array of validated sites ``[{Z: occupancy}, ...]``: ``[i, Z-1]`` = occupancy."""
    rows, columns, values = [], [], []
    for site_index, occupancies in enumerate(sites):
        for number, occupancy in occupancies.items():
            rows.append(site_index)
            columns.append(number - 1)
            values.append(occupancy)
    encoding = np.zeros((len(sites), N_ELEMENTS))  # (n_sites, 118)
    encoding[rows, columns] = values
    return encoding


def occupancy_onehot(numbers_or_occupancies: Sequence[Any], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Occupancy one-hot encoding of sites, shape ``(n_sites, 118)``, dimensionless.

    Entry ``[i, Z-1]`` is the occupancy of element Z on site i (1 for an ordered site).

    Args:
        numbers_or_occupancies: one entry per site: an atomic number (``11``), a symbol
            (``"Na"``), or a mapping element → occupancy (``{51: 0.5, 83: 0.5}``).
        dtype: floating dtype of the result.

    Example::

        >>> occupancy_onehot([11, {"Sb": 0.5, "Bi": 0.5}])[:, [10, 50, 82]]
        tensor([[1.0000, 0.0000, 0.0000],
                [0.0000, 0.5000, 0.5000]])

    Taught in notebook 02 §5.
    """
    encoding = _occupancy_matrix(_site_occupancies(numbers_or_occupancies))  # (n_sites, 118)
    return torch.from_numpy(encoding).to(dtype)


def mass_weighted_onehot(numbers_or_occupancies: Sequence[Any], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Mass-weighted one-hot encoding of sites, shape ``(n_sites, 118)``, in atomic mass units (u).

    Entry ``[i, Z-1]`` is ``occupancy · mass(Z)`` with masses from ``ase.data.atomic_masses``,
    so an ordered Na site has 22.98976928 at index 10 and zeros elsewhere; a 50/50 Sb/Bi site
    has 0.5·121.760 at index 50 and 0.5·208.980 at index 82 ("N-hot").

    Args:
        numbers_or_occupancies: as in :func:`occupancy_onehot`.
        dtype: floating dtype of the result.

    Raises:
        GraphError: unknown element, or a site whose occupancies sum to > 1 or ≤ 0.

    Example::

        >>> mass_weighted_onehot([11, 17])[:, [10, 16]]
        tensor([[22.9898,  0.0000],
                [ 0.0000, 35.4500]])

    Taught in notebook 02 §5.
    """
    encoding = _occupancy_matrix(_site_occupancies(numbers_or_occupancies))  # (n_sites, 118)
    return torch.from_numpy(encoding * _MASSES_U).to(dtype)


# --------------------------------------------------------------------------------------------
# edges
# --------------------------------------------------------------------------------------------
def _check_geometry(positions: np.ndarray, cell: np.ndarray, symbols: Sequence[str] | None = None) -> None:
    """Raise GraphError for NaN/inf coordinates or a (nearly) flat cell."""
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise GraphError(f"positions must have shape (n_atoms, 3), got {positions.shape}.")
    if cell.shape != (3, 3):
        raise GraphError(f"cell must have shape (3, 3) (rows = lattice vectors), got {cell.shape}.")
    finite = np.isfinite(positions)  # (n_atoms, 3)
    if not finite.all():
        bad_atoms = np.flatnonzero(~finite.all(axis=1))
        atom = int(bad_atoms[0])
        name = f" ({symbols[atom]})" if symbols is not None else ""
        raise GraphError(
            f"atom {atom}{name} has a non-finite position {positions[atom].tolist()} "
            f"({bad_atoms.size} atom(s) affected). Fix the coordinates in the input structure."
        )
    if not np.isfinite(cell).all():
        raise GraphError(f"the cell contains NaN/inf entries: {cell.tolist()}. Fix the lattice vectors.")
    lengths_A = np.sqrt((cell * cell).sum(axis=1))  # (3,)
    if lengths_A.max() > MAX_CELL_LENGTH_A:
        axis = "abc"[int(np.argmax(lengths_A))]
        raise GraphError(
            f"lattice vector {axis} is {lengths_A.max():.3g} Å long (limit {MAX_CELL_LENGTH_A:g} Å): not the cell "
            "of a crystal. Check the cell and its length unit (Å expected)."
        )
    if positions.size and np.abs(positions).max() > MAX_COORDINATE_A:
        atom = int(np.argmax(np.abs(positions).max(axis=1)))
        name = f" ({symbols[atom]})" if symbols is not None else ""
        raise GraphError(
            f"atom {atom}{name} sits at {positions[atom].tolist()} Å, beyond ±{MAX_COORDINATE_A:g} Å. "
            "Fix the coordinates (Å expected), or wrap them into the cell."
        )
    (a1, a2, a3), (b1, b2, b3), (c1, c2, c3) = cell.tolist()
    volume_A3 = abs(a1 * (b2 * c3 - b3 * c2) - a2 * (b1 * c3 - b3 * c1) + a3 * (b1 * c2 - b2 * c1))  # |det cell|
    if volume_A3 < MIN_VOLUME_A3:
        raise GraphError(
            f"the cell has (near) zero volume |det| = {volume_A3:.3g} Å^3: its lattice vectors "
            f"{cell.tolist()} are (almost) linearly dependent. A periodic crystal needs three "
            "independent lattice vectors (molecules and slabs are not supported)."
        )


def periodic_edges(
    positions: np.ndarray, cell: np.ndarray, r_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All ordered atom pairs closer than ``r_max``, periodic images included.

    Uses vesin's neighbour list (full list, any cell shape, ``r_max`` may exceed the cell
    size: an atom then meets several images of itself and of every other atom).

    Args:
        positions: Cartesian coordinates, shape ``(n_atoms, 3)``, Å.
        cell: lattice vectors as rows, shape ``(3, 3)``, Å.
        r_max: cutoff radius, Å; pairs with 0 < |edge_vec| ≤ r_max are kept.

    Returns:
        ``(edge_src, edge_dst, edge_shift, edge_vec)`` as numpy arrays: int64 ``(n_edges,)``,
        int64 ``(n_edges,)``, int64 ``(n_edges, 3)``, float64 ``(n_edges, 3)`` in Å, with
        ``edge_vec = positions[edge_src] + edge_shift @ cell - positions[edge_dst]``.
        Sorted by dst, then src, then shift, so the output is reproducible.

    Example::

        >>> src, dst, shift, vec = periodic_edges(np.zeros((1, 3)), 2.0 * np.eye(3), r_max=2.0)
        >>> len(src), shift.tolist()[:2]   # the 6 nearest images of the single atom
        (6, [[-1, 0, 0], [0, -1, 0]])

    Taught in notebook 02 §2.
    """
    positions = np.asarray(positions, dtype=np.float64)  # (n_atoms, 3)
    cell = np.asarray(cell, dtype=np.float64)  # (3, 3)
    _check_geometry(positions, cell)
    return _neighbour_pairs(positions, cell, r_max)[:4]


def _neighbour_pairs(positions: np.ndarray, cell: np.ndarray, r_max: float):
    """:func:`periodic_edges` of checked float64 arrays (see :func:`_check_geometry`), plus the edge lengths (Å)."""
    if not (np.isfinite(r_max) and r_max > 0):
        raise GraphError(f"r_max must be a positive number of Å, got {r_max}.")
    # vesin reports pairs (i, j, S) with vector positions[j] + S @ cell - positions[i]: in our
    # convention j is the sender (src) and i the receiver (dst). Search slightly beyond r_max so
    # that the inclusive test below (|r| <= r_max) does not depend on vesin's rounding. One thread:
    # a crystal's cell has few atoms, and starting threads would cost more than the search itself.
    neighbor_list = vesin.NeighborList(cutoff=float(r_max) * (1 + 1e-9) + 1e-9, full_list=True, n_threads=1)
    pairs, shift = neighbor_list.compute(positions, cell, _PERIODIC, "PS", copy=False)  # views: copied below
    edge_dst = pairs[:, 0].astype(np.int64)  # (n_edges,)
    edge_src = pairs[:, 1].astype(np.int64)  # (n_edges,)
    edge_shift = shift.astype(np.int64)  # (n_edges, 3)
    return _finish_edges(positions, cell, r_max, edge_src, edge_dst, edge_shift)


def _finish_edges(positions, cell, r_max, edge_src, edge_dst, edge_shift):
    """Edge vectors and lengths of candidate pairs; keeps 0 < |edge_vec| ≤ r_max, sorted by (dst, src, shift)."""
    edge_vec = positions[edge_src] + edge_shift @ cell - positions[edge_dst]  # (n_edges, 3)
    edge_len = np.sqrt((edge_vec * edge_vec).sum(axis=1))  # (n_edges,)
    keep = edge_len <= r_max
    keep &= (edge_src != edge_dst) | edge_shift.any(axis=1)  # not the atom itself (zero shift)
    if not keep.all():
        edge_src, edge_dst, edge_shift = edge_src[keep], edge_dst[keep], edge_shift[keep]
        edge_vec, edge_len = edge_vec[keep], edge_len[keep]
    order = np.lexsort((edge_shift[:, 2], edge_shift[:, 1], edge_shift[:, 0], edge_src, edge_dst))
    return edge_src[order], edge_dst[order], edge_shift[order], edge_vec[order], edge_len[order]


# --------------------------------------------------------------------------------------------
# structure -> graph
# --------------------------------------------------------------------------------------------
def structure_arrays(structure) -> tuple[np.ndarray, np.ndarray, list[dict[Any, float]]]:
    """Positions (Å), cell (Å, rows) and per-site occupancies of a pymatgen Structure or ase Atoms."""
    positions, cell, sites = _structure_sites(structure)
    if isinstance(sites, np.ndarray):
        sites = [{int(number): 1.0} for number in sites]
    return positions, cell, sites


def _structure_sites(structure) -> tuple[np.ndarray, np.ndarray, Any]:
    """:func:`structure_arrays`, except that an ordered ase Atoms gives its atomic numbers (int array) as sites."""
    if isinstance(structure, ase.Atoms):
        if not np.all(structure.pbc):
            raise GraphError(
                f"the ase Atoms has pbc={structure.pbc.tolist()}; a crystal must be periodic in "
                "all three directions. Set atoms.pbc = True (and a proper cell)."
            )
        positions = np.asarray(structure.positions, dtype=np.float64)
        cell = np.asarray(structure.cell.array, dtype=np.float64)
        occupancy_info = structure.info.get("occupancy")  # written by ase's CIF reader
        kinds = structure.arrays.get("spacegroup_kinds")
        if occupancy_info is not None and kinds is not None:
            return positions, cell, [dict(occupancy_info[str(kind)]) for kind in kinds]
        return positions, cell, np.asarray(structure.numbers)
    if hasattr(structure, "lattice") and hasattr(structure, "cart_coords"):  # pymatgen Structure
        positions = np.asarray(structure.cart_coords, dtype=np.float64)
        cell = np.asarray(structure.lattice.matrix, dtype=np.float64)
        sites = [dict(site.species.items()) for site in structure]
        return positions, cell, sites
    raise TypeError(f"expected a pymatgen Structure or an ase Atoms, got {type(structure).__name__}")


class _SiteLabels:
    """Readable labels of the sites ('Na', 'Sb0.5Bi0.5'), made only when an error message asks for one."""

    def __init__(self, sites: Sequence[dict[int, float]] | np.ndarray) -> None:
        self.sites = sites  # validated {Z: occupancy} per site, or the atomic numbers of ordered sites

    def __getitem__(self, index: int) -> str:
        site = self.sites[index]
        return _site_label(site if isinstance(site, dict) else {int(site): 1.0})


def _site_label(occupancies: dict[int, float]) -> str:
    """Readable site label: 'Na' or 'Sb0.5Bi0.5'."""
    if len(occupancies) == 1 and abs(next(iter(occupancies.values())) - 1) < VACANCY_TOLERANCE:
        return ase.data.chemical_symbols[next(iter(occupancies))]
    return "".join(f"{ase.data.chemical_symbols[z]}{occ:g}" for z, occ in occupancies.items())


def structure_to_graph(
    structure,
    r_max: float = 4.0,
    dos=None,
    dtype: torch.dtype = torch.float32,
    **extra: Any,
) -> Data:
    """Turn a crystal into a periodic graph for the e3nn model.

    Args:
        structure: a pymatgen ``Structure`` (ordered, or disordered with partial occupancies,
            e.g. from ``Structure.from_file("x.cif")``) or an ase ``Atoms`` with ``pbc=True``.
        r_max: cutoff radius for edges, Å.
        dos: optional target phonon DoS on a fixed frequency grid, shape ``(n_grid,)``; stored
            as ``y`` with shape ``(1, n_grid)`` so that batches stack to ``(n_crystals, n_grid)``.
        dtype: floating dtype of all float tensors (float32 by default).
        **extra: further attributes stored as they are, e.g. ``material_id="mp-22862"``.

    Returns:
        ``Data`` with
        ``x`` (n, 118) mass-weighted one-hot (u), ``node_attr`` (n, 118) occupancy one-hot,
        ``pos`` (n, 3) Å, ``lattice`` (1, 3, 3) Å (rows = lattice vectors),
        ``edge_index`` (2, n_edges) long = (src, dst), ``edge_shift`` (n_edges, 3) long,
        ``edge_vec`` (n_edges, 3) Å, ``composition`` (1, 118) fractional composition,
        ``n_atoms`` (int), ``y`` (1, n_grid) if ``dos`` is given, and the ``extra`` keys.

    Raises:
        GraphError: NaN/inf coordinates, flat cell, unknown element, vacancies (site
        occupancies summing to < 1), overlapping atoms, or an atom without neighbours within
        ``r_max`` — each message names the atom index and element.

    Example::

        >>> from ase.build import bulk
        >>> g = structure_to_graph(bulk("ZnO", "wurtzite", a=3.25, c=5.2), r_max=4.0, material_id="ZnO")
        >>> g.x.shape, g.lattice.shape, g.material_id
        (torch.Size([4, 118]), torch.Size([1, 3, 3]), 'ZnO')

    Taught in notebook 02 §6.
    """
    positions, cell, raw_sites = _structure_sites(structure)
    if not len(raw_sites):
        raise GraphError("the structure has no atoms; a crystal graph needs at least one site.")
    if isinstance(raw_sites, np.ndarray) and ((raw_sites >= 1) & (raw_sites <= N_ELEMENTS)).all():
        sites = raw_sites  # (n,) atomic numbers of ordered sites: one-hot rows by indexing
        occupancy = np.zeros((len(sites), N_ELEMENTS))  # (n, 118)
        occupancy[np.arange(len(sites)), sites - 1] = 1.0
    else:
        sites = _site_occupancies(raw_sites.tolist() if isinstance(raw_sites, np.ndarray) else raw_sites)
        occupancy = _occupancy_matrix(sites)  # (n, 118)
    labels = _SiteLabels(sites)
    _check_geometry(positions, cell, labels)
    if not isinstance(sites, np.ndarray):
        for site_index, occupancies in enumerate(sites):
            total = sum(occupancies.values())
            if total < 1 - VACANCY_TOLERANCE:
                raise GraphError(
                    f"site {site_index} ({labels[site_index]}) is only {total:.4g} occupied: vacancies "
                    "are not supported. Fill the site (e.g. renormalise its occupancies to sum to 1) "
                    "or remove it from the structure."
                )

    edge_src, edge_dst, edge_shift, edge_vec, edge_len = _neighbour_pairs(positions, cell, r_max)
    n_atoms = len(sites)
    _check_neighbours(positions, cell, r_max, labels, edge_src, edge_dst, edge_len, n_atoms)

    node_attr = torch.from_numpy(occupancy).to(dtype)  # (n, 118)
    graph = Data(
        x=torch.from_numpy(occupancy * _MASSES_U).to(dtype),  # (n, 118), u
        node_attr=node_attr,  # (n, 118)
        pos=torch.tensor(positions, dtype=dtype),  # (n, 3), Å (a copy: positions may be the structure's own array)
        lattice=torch.tensor(cell, dtype=dtype).unsqueeze(0),  # (1, 3, 3), Å
        edge_index=torch.from_numpy(np.stack([edge_src, edge_dst])),  # (2, n_edges) long
        edge_shift=torch.from_numpy(edge_shift),  # (n_edges, 3) long
        edge_vec=torch.from_numpy(edge_vec).to(dtype),  # (n_edges, 3), Å
        composition=node_attr.mean(dim=0, keepdim=True),  # (1, 118)
        n_atoms=n_atoms,
    )
    if dos is not None:
        dos = np.asarray(dos, dtype=np.float64).reshape(1, -1)  # (1, n_grid)
        if not np.isfinite(dos).all():
            raise GraphError("the target DoS contains NaN/inf values; clean the label before building the graph.")
        graph.y = torch.as_tensor(dos, dtype=dtype)
    for key, value in extra.items():
        if key in _RESERVED_KEYS:
            raise ValueError(f"extra key {key!r} would overwrite a graph field; choose another name.")
        setattr(graph, key, value)
    return graph


def _check_neighbours(positions, cell, r_max, labels, edge_src, edge_dst, edge_len, n_atoms) -> None:
    """Raise GraphError for overlapping atoms or atoms that receive no edge (edge_len: (n_edges,) Å)."""
    if len(edge_len):
        closest = int(np.argmin(edge_len))
        if edge_len[closest] < MIN_DISTANCE_A:
            a, b = int(edge_dst[closest]), int(edge_src[closest])
            raise GraphError(
                f"atoms {a} ({labels[a]}) and {b} ({labels[b]}) are only {edge_len[closest]:.3g} Å "
                "apart: overlapping sites. Merge them into one partially occupied site or remove one."
            )
    n_incoming = np.bincount(edge_dst, minlength=n_atoms)
    if n_incoming.all():
        return
    isolated = np.flatnonzero(n_incoming == 0)
    atom = int(isolated[0])
    # every atom has an image of itself within the shortest lattice vector, so this finds one
    probe_A = float(np.linalg.norm(cell, axis=1).min()) + 1e-6
    _, probe_dst, _, probe_vec = periodic_edges(positions, cell, max(probe_A, r_max))
    nearest_A = float(np.linalg.norm(probe_vec[probe_dst == atom], axis=1).min())
    raise GraphError(
        f"atom {atom} ({labels[atom]}) has no neighbour within r_max = {r_max:g} Å "
        f"({isolated.size} isolated atom(s)); its nearest neighbour is {nearest_A:.3f} Å away. "
        f"Use a larger r_max (at least {nearest_A:.2f} Å) or check the structure."
    )


def average_neighbors(graphs: Sequence[Data]) -> float:
    """Mean number of incoming edges per node over a list of graphs (z, dimensionless).

    The model divides summed messages by √z, so set ``ModelConfig.num_neighbors`` from the
    *training* graphs.

    Example::

        >>> from ase.build import bulk
        >>> average_neighbors([structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))])
        18.0

    Taught in notebook 02 §7.
    """
    n_edges = sum(int(graph.edge_index.shape[1]) for graph in graphs)
    n_nodes = sum(int(graph.num_nodes) for graph in graphs)
    if n_nodes == 0:
        raise ValueError("average_neighbors needs at least one graph with at least one atom.")
    return n_edges / n_nodes
