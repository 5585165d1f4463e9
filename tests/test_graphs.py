"""Tests of utils.graphs: node encodings, periodic neighbour lists, structure → graph, errors."""

import itertools

import ase.data
import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from pymatgen.core import Lattice, Structure
from torch_geometric.loader import DataLoader

from utils.graphs import (
    GraphError,
    average_neighbors,
    mass_weighted_onehot,
    occupancy_onehot,
    periodic_edges,
    structure_to_graph,
)

DISORDERED_CIF = """data_SbBi_Na
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
_symmetry_equiv_pos_as_xyz 'x, y, z'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Sb1 Sb 0 0 0 0.5
Bi1 Bi 0 0 0 0.5
Na1 Na 0.5 0.5 0.5 1.0
"""


# ------------------------------------------------------------------------------------------------
# neighbour list against brute force
# ------------------------------------------------------------------------------------------------
def brute_force_edges(positions, cell, r_max):
    """{(src, dst, shift): edge_vec} by looping over a generous range of image shifts."""
    positions, cell = np.asarray(positions, float), np.asarray(cell, float)
    volume = abs(np.linalg.det(cell))
    heights = [volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    fractional = positions @ np.linalg.inv(cell)
    spread = fractional.max(axis=0) - fractional.min(axis=0)
    limits = [int(np.ceil(r_max / heights[i] + spread[i])) + 1 for i in range(3)]
    edges = {}
    for shift in itertools.product(*(range(-n, n + 1) for n in limits)):
        offset = np.array(shift) @ cell
        for src, dst in itertools.product(range(len(positions)), repeat=2):
            vec = positions[src] + offset - positions[dst]
            length = np.linalg.norm(vec)
            if 0 < length <= r_max:
                edges[(src, dst, shift)] = vec
    return edges


def _random_cell(seed):
    rng = np.random.default_rng(seed)
    cell = np.diag([4.0, 4.5, 5.0]) + rng.uniform(-1.0, 1.0, (3, 3))
    positions = rng.uniform(-0.2, 1.2, (5, 3)) @ cell  # some atoms outside the cell: not wrapped
    return positions, cell, 4.0


NEIGHBOUR_CASES = {
    "triclinic": (
        np.array([[0.1, 0.2, 0.3], [1.9, 1.1, 2.4], [3.0, 0.4, 1.2]]),
        np.array([[4.1, 0.0, 0.0], [-1.7, 4.3, 0.0], [0.4, -0.9, 4.9]]),
        4.0,
    ),
    "strongly_skewed": (
        np.array([[0.0, 0.0, 0.0], [2.5, 0.7, 0.9]]),
        np.array([[3.0, 0.0, 0.0], [2.9, 0.8, 0.0], [-2.7, 0.3, 2.5]]),  # thin (0.8 Å high along b)
        3.5,
    ),
    "tiny_one_atom_many_self_images": (np.zeros((1, 3)), np.diag([1.5, 1.7, 1.9]), 4.5),  # r_max > 2x cell
    "random_five_atoms": _random_cell(seed=0),
}


@pytest.mark.parametrize("case", sorted(NEIGHBOUR_CASES))
def test_periodic_edges_match_brute_force(case):
    positions, cell, r_max = NEIGHBOUR_CASES[case]
    edge_src, edge_dst, edge_shift, edge_vec = periodic_edges(positions, cell, r_max)
    expected = brute_force_edges(positions, cell, r_max)

    found = {(int(s), int(d), tuple(int(k) for k in shift)): vec
             for s, d, shift, vec in zip(edge_src, edge_dst, edge_shift, edge_vec)}  # fmt: skip
    assert len(found) == len(edge_src), "duplicate edges"
    assert set(found) == set(expected)
    for key, vec in found.items():
        np.testing.assert_allclose(vec, expected[key], atol=1e-10)
    # the documented convention, and the deterministic order (dst, src, shift)
    np.testing.assert_allclose(edge_vec, positions[edge_src] + edge_shift @ cell - positions[edge_dst], atol=1e-12)
    keys = list(zip(edge_dst.tolist(), edge_src.tolist(), map(tuple, edge_shift.tolist())))
    assert keys == sorted(keys)


def test_tiny_cell_has_many_self_images():
    positions, cell, r_max = NEIGHBOUR_CASES["tiny_one_atom_many_self_images"]
    edge_src, edge_dst, edge_shift, _ = periodic_edges(positions, cell, r_max)
    assert len(edge_src) > 50 and (edge_src == 0).all() and (edge_dst == 0).all()
    assert np.abs(edge_shift).max() >= 2  # images two or more cells away are included


def test_edges_are_inclusive_at_r_max_and_exclude_self_pair():
    # simple cubic, a = 2 Å: 6 images at exactly 2 Å
    edge_src, _, edge_shift, _ = periodic_edges(np.zeros((1, 3)), 2.0 * np.eye(3), r_max=2.0)
    assert len(edge_src) == 6
    assert not (edge_shift == 0).all(axis=1).any()


# ------------------------------------------------------------------------------------------------
# node encodings
# ------------------------------------------------------------------------------------------------
def test_mass_weighted_onehot_exact_values():
    encoding = mass_weighted_onehot([11, "Cl"])
    assert encoding.shape == (2, 118) and encoding.dtype == torch.float32
    assert encoding[0, 10].item() == pytest.approx(22.98976928, rel=1e-7)
    assert encoding[0, 10].item() == pytest.approx(ase.data.atomic_masses[11], rel=1e-7)
    assert encoding[1, 16].item() == pytest.approx(ase.data.atomic_masses[17], rel=1e-7)
    assert torch.count_nonzero(encoding) == 2


def test_mass_weighted_onehot_partial_occupancy_is_n_hot():
    encoding = mass_weighted_onehot([{"Sb": 0.5, "Bi": 0.5}], dtype=torch.float64)
    expected = torch.zeros(1, 118, dtype=torch.float64)
    expected[0, 50] = 0.5 * ase.data.atomic_masses[51]
    expected[0, 82] = 0.5 * ase.data.atomic_masses[83]
    torch.testing.assert_close(encoding, expected)
    assert mass_weighted_onehot([{51: 0.5, 83: 0.5}], dtype=torch.float64).equal(encoding)


def test_occupancy_onehot():
    encoding = occupancy_onehot([8, {"Sb": 0.5, "Bi": 0.5}])
    assert encoding[0, 7] == 1 and encoding[0].sum() == 1
    assert encoding[1, 50] == 0.5 and encoding[1, 82] == 0.5 and encoding[1].sum() == 1


@pytest.mark.parametrize(
    "sites, message",
    [
        ([11, 0], "site 1.*Z=0"),
        ([11, 119], "site 1.*Z=119"),
        (["Na", "Xx"], "site 1.*'Xx'"),
        ([{"Na": 0.7, "K": 0.4}], "site 0.*sum to 1.1"),
        ([{"Na": 0.0}], "site 0.*sum to 0"),
    ],
)
def test_onehot_rejects_bad_sites(sites, message):
    with pytest.raises(GraphError, match=message):
        mass_weighted_onehot(sites)


# ------------------------------------------------------------------------------------------------
# structure -> graph
# ------------------------------------------------------------------------------------------------
def test_structure_to_graph_fields(nacl):
    dos = np.linspace(0, 1, 51)
    graph = structure_to_graph(nacl, r_max=4.0, dos=dos, material_id="mp-22862")
    n_edges = graph.edge_index.shape[1]
    assert graph.x.shape == graph.node_attr.shape == (2, 118)
    assert graph.pos.shape == (2, 3) and graph.lattice.shape == (1, 3, 3)
    assert graph.edge_index.dtype == torch.long and graph.edge_shift.shape == (n_edges, 3)
    assert graph.edge_vec.shape == (n_edges, 3) and graph.edge_vec.dtype == torch.float32
    assert n_edges == 36  # 6 nearest (2.82 Å) + 12 next-nearest (3.99 Å) neighbours per atom
    assert graph.n_atoms == 2 and graph.material_id == "mp-22862"
    assert graph.y.shape == (1, 51)
    torch.testing.assert_close(graph.composition[0, [10, 16]], torch.tensor([0.5, 0.5]))
    src, dst = graph.edge_index
    recomputed = graph.pos[src] + graph.edge_shift.float() @ graph.lattice[0] - graph.pos[dst]
    torch.testing.assert_close(recomputed, graph.edge_vec, atol=1e-5, rtol=0)
    assert average_neighbors([graph]) == 18.0


def test_ase_and_pymatgen_give_the_same_graph(zno):
    from pymatgen.io.ase import AseAtomsAdaptor

    from_ase = structure_to_graph(zno)
    from_pymatgen = structure_to_graph(AseAtomsAdaptor.get_structure(zno))
    for key in ("x", "node_attr", "pos", "lattice", "edge_index", "edge_shift", "edge_vec", "composition"):
        torch.testing.assert_close(from_ase[key], from_pymatgen[key])


@pytest.mark.filterwarnings("ignore:.*(symmetry|CIF).*:UserWarning")
def test_disordered_cif_gives_n_hot_nodes(tmp_path):
    cif = tmp_path / "SbBi_Na.cif"
    cif.write_text(DISORDERED_CIF)
    structure = Structure.from_file(cif)
    atoms = ase.io.read(cif)  # ase keeps the occupancies in atoms.info["occupancy"]
    for graph in (structure_to_graph(structure), structure_to_graph(atoms)):
        mixed = int(torch.argmax((graph.node_attr > 0).sum(dim=1)))  # the Sb/Bi site
        assert graph.node_attr[mixed, 50] == 0.5 and graph.node_attr[mixed, 82] == 0.5
        assert graph.x[mixed, 50].item() == pytest.approx(0.5 * ase.data.atomic_masses[51], rel=1e-6)
        torch.testing.assert_close(graph.composition[0, [10, 50, 82]], torch.tensor([0.5, 0.25, 0.25]))


@pytest.mark.parametrize("name", ["NaCl", "ZnO", "triclinic", "disordered"])
def test_structure_to_graph_matches_ase_neighbour_list(build_crystal, name, tmp_path):
    """The whole structure → graph path against an independent reference: ase's neighbour list for the edges,
    the public one-hot functions for the nodes (ordered ase Atoms take a shortcut through their atomic numbers)."""
    from ase.neighborlist import primitive_neighbor_list

    if name == "disordered":
        (tmp_path / "x.cif").write_text(DISORDERED_CIF)
        structure = Structure.from_file(tmp_path / "x.cif")
        positions, cell = structure.cart_coords, structure.lattice.matrix
        sites = [dict(site.species.items()) for site in structure]
    else:
        structure = build_crystal(name)
        positions, cell, sites = structure.positions, structure.cell.array, list(structure.numbers)
    for r_max in (4.0, 6.5):  # 6.5 Å: several images of every atom in these small cells
        graph = structure_to_graph(structure, r_max=r_max, dtype=torch.float64)
        # ase keeps |r| < cutoff, the graph |r| ≤ r_max (NaCl and ZnO have neighbours at exactly 6.5 Å)
        i, j, shifts, vectors = primitive_neighbor_list("ijSD", (True, True, True), cell, positions, r_max + 1e-6)
        expected = {(int(src), int(dst), tuple(shift)): vec
                    for dst, src, shift, vec in zip(i, j, shifts.tolist(), vectors)
                    if np.linalg.norm(vec) <= r_max}  # fmt: skip
        src, dst = graph.edge_index.tolist()
        keys = list(zip(dst, src, map(tuple, graph.edge_shift.tolist())))
        assert keys == sorted(keys) and len(set(keys)) == len(keys)  # ordered by (dst, src, shift), no duplicates
        found = dict(zip([(s, d, k[2]) for s, d, k in zip(src, dst, keys)], graph.edge_vec.numpy()))
        assert set(found) == set(expected)
        for key, vec in found.items():
            np.testing.assert_allclose(vec, expected[key], atol=1e-10)
        assert torch.equal(graph.x, mass_weighted_onehot(sites, dtype=torch.float64))
        assert torch.equal(graph.node_attr, occupancy_onehot(sites, dtype=torch.float64))
        assert torch.equal(graph.pos, torch.tensor(np.asarray(positions), dtype=torch.float64))


def test_graph_does_not_share_memory_with_the_structure(nacl):
    graph = structure_to_graph(nacl, dtype=torch.float64)
    nacl.positions[0] += 1.0
    nacl.cell[0, 0] += 1.0
    assert graph.pos[0].tolist() == [0.0, 0.0, 0.0] and graph.lattice[0, 0, 0].item() == 0.0


def test_batching_stacks_targets_and_lattices(nacl, zno):
    graphs = [structure_to_graph(nacl, dos=np.ones(51)), structure_to_graph(zno, dos=np.zeros(51))]
    batch = next(iter(DataLoader(graphs, batch_size=2)))
    assert batch.y.shape == (2, 51) and batch.lattice.shape == (2, 3, 3) and batch.composition.shape == (2, 118)
    assert batch.n_atoms.tolist() == [2, 4]
    assert average_neighbors(graphs) == pytest.approx(batch.edge_index.shape[1] / 6)


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------
def test_unknown_element_is_named():
    atoms = Atoms(numbers=[11, 0], positions=[[0, 0, 0], [1.5, 1.5, 1.5]], cell=3.0 * np.eye(3), pbc=True)
    with pytest.raises(GraphError, match=r"site 1.*Z=0"):
        structure_to_graph(atoms)


def test_pymatgen_species_with_oxidation_states_and_dummy_species():
    from pymatgen.core import DummySpecies, Species

    ionic = Structure(Lattice.cubic(4.0), [Species("Na", 1), Species("Cl", -1)], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert structure_to_graph(ionic).x[0, 10].item() == pytest.approx(ase.data.atomic_masses[11], rel=1e-6)
    dummy = Structure(Lattice.cubic(4.0), [DummySpecies("X"), "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(GraphError, match=r"site 0: unknown element 'X'"):
        structure_to_graph(dummy)


def test_nan_position_is_named(nacl):
    nacl.positions[1, 2] = np.nan
    with pytest.raises(GraphError, match=r"atom 1 \(Cl\).*non-finite"):
        structure_to_graph(nacl)


def test_zero_volume_cell():
    atoms = Atoms("Na", positions=[[0, 0, 0]], cell=[[3, 0, 0], [6, 0, 0], [0, 0, 3]], pbc=True)
    with pytest.raises(GraphError, match="zero volume"):
        structure_to_graph(atoms)


def test_vacancy_is_rejected():
    structure = Structure(Lattice.cubic(4.0), [{"Na": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(GraphError, match=r"site 0 \(Na0.5\).*vacancies are not supported"):
        structure_to_graph(structure)


def test_isolated_atom_suggests_larger_r_max():
    atoms = Atoms("NaCl", positions=[[0, 0, 0], [5, 5, 5]], cell=10.0 * np.eye(3), pbc=True)
    with pytest.raises(GraphError, match=r"atom 0 \(Na\) has no neighbour within r_max = 4 Å.*8.66.*larger r_max"):
        structure_to_graph(atoms, r_max=4.0)


def test_overlapping_atoms_are_rejected():
    atoms = Atoms("NaCl", positions=[[0, 0, 0], [0.01, 0, 0]], cell=3.0 * np.eye(3), pbc=True)
    with pytest.raises(GraphError, match=r"atoms .* are only 0.01 Å apart"):
        structure_to_graph(atoms)


def test_non_periodic_atoms_are_rejected(nacl):
    nacl.pbc = False
    with pytest.raises(GraphError, match="pbc"):
        structure_to_graph(nacl)


def test_graph_error_is_a_value_error():
    assert issubclass(GraphError, ValueError)
