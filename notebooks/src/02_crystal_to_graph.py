# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# **What you will learn**
#
# - how a crystal is stored (lattice vectors, fractional coordinates) in pymatgen and in ase, and
#   how to move between the two;
# - how a **periodic graph** is built: every pair of atoms closer than $r_\text{max}$, *periodic
#   images included*, and why "adding periodicity only changes the graph, not the model";
# - what the node input `118x0e` contains: the **mass-weighted one-hot** encoding, its plain
#   one-hot sibling, and the "N-hot" vector of a partially occupied site;
# - why convolutions are divided by $\sqrt z$, the average number of neighbours, and how large
#   z is for the dataset;
# - how to read the dataset's graph statistics, and the error messages you meet when a
#   structure cannot become a graph.
#
# **Time**: runs in about 40 s on 2 CPU cores (FAST and full alike); reading time about 30 min.
# Symbols and units are collected in the [glossary](../notebooks/glossary.md).

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
# (the line above shows figures inline even where MPLBACKEND is set, e.g. in headless runs)
import time
import warnings
from collections import Counter

import ase.data
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from ase.build import bulk
from ase.data.colors import jmol_colors
from ase.neighborlist import neighbor_list
from mpl_toolkits.mplot3d.art3d import Line3DCollection
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

import utils
from utils.data import load_dataset
from utils.graphs import (GraphError, average_neighbors, mass_weighted_onehot, occupancy_onehot,
                          periodic_edges, structure_to_graph)
from utils.plot import PALETTE, draw_cell, save_figure

warnings.filterwarnings("ignore")  # keep the stored outputs free of library warnings
info = utils.setup(seed=0)
FAST = info["fast"]  # nothing here is slow: FAST and full mode run the same cells with the same outputs

# %% [markdown]
# ## 1. A crystal in pymatgen and in ase
#
# A crystal is one **unit cell** repeated forever. Three lattice vectors $\mathbf a_1, \mathbf a_2,
# \mathbf a_3$ (the rows of the 3×3 matrix $L$) span the cell; each atom $a$ sits at fractional
# coordinates $\mathbf f_a \in [0, 1)^3$, and every lattice translation $\mathbf S L$ with integer
# $\mathbf S$ gives a copy (an **image**) of it:
#
# $$
# \mathbf r_a = \mathbf f_a L = \sum_{i=1}^{3} f_{a,i}\,\mathbf a_i, \qquad
# \mathbf r_a^{(\mathbf S)} = \mathbf r_a + \mathbf S L, \quad \mathbf S \in \mathbb Z^3 .
# $$
#
# | symbol | meaning |
# |---|---|
# | $L$ | lattice matrix, rows = lattice vectors $\mathbf a_i$ (Å) |
# | $\mathbf f_a$ | fractional coordinates of atom a (dimensionless) |
# | $\mathbf r_a$ | Cartesian position of atom a in the cell (Å) |
# | $\mathbf S$ | integer image shift: which neighbouring cell the copy lives in |
#
# pymatgen (the Materials Project's library) and ase (the Atomic Simulation Environment) both
# store exactly this. Here is rocksalt NaCl, built from its space group in pymatgen:

# %%
a_nacl = 5.64  # Å, cubic lattice constant of NaCl
nacl_conventional = Structure.from_spacegroup(
    "Fm-3m", Lattice.cubic(a_nacl), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
nacl = nacl_conventional.get_primitive_structure()  # the smallest cell: 2 atoms instead of 8
print(f"conventional cell: {len(nacl_conventional)} atoms, primitive cell: {len(nacl)} atoms")
print("lattice vectors (Å, rows):\n", np.round(nacl.lattice.matrix, 3))
for site in nacl:
    print(f"{site.specie}: fractional {np.round(site.frac_coords, 3)}, Cartesian {np.round(site.coords, 3)} Å")
assert np.allclose(nacl.frac_coords @ nacl.lattice.matrix, nacl.cart_coords)  # r = f L

# %% [markdown]
# The same crystal in ase: `AseAtomsAdaptor` converts in both directions. Both libraries must
# describe the *same* object — same cell, same atoms, same positions — and the graph built from
# either must be identical (`structure_to_graph` accepts both).

# %%
nacl_atoms = AseAtomsAdaptor.get_atoms(nacl)  # pymatgen Structure -> ase Atoms
print(nacl_atoms.get_chemical_formula(), "| pbc:", nacl_atoms.pbc.tolist())
print("cell lengths (Å) and angles (°):", np.round(nacl_atoms.cell.cellpar(), 3))
assert np.allclose(nacl_atoms.cell.array, nacl.lattice.matrix)
assert np.allclose(nacl_atoms.get_scaled_positions(), nacl.frac_coords % 1.0)
assert nacl_atoms.get_chemical_symbols() == [str(s.specie) for s in nacl]

graph_from_pmg = structure_to_graph(nacl, r_max=4.0)
graph_from_ase = structure_to_graph(nacl_atoms, r_max=4.0)
for key in ["x", "pos", "edge_index", "edge_shift", "edge_vec"]:
    assert torch.equal(graph_from_pmg[key], graph_from_ase[key]), key
print("graphs from pymatgen and from ase are identical:", graph_from_pmg)

# %% [markdown]
# The dataset of this series stores every material in the same way (`cell`, atomic `numbers`,
# `frac_coords`); `Material.structure` gives a pymatgen `Structure` and `Material.to_ase()` an
# ase `Atoms`.
#
# > **Warning** Most materials of the dataset are **hypothetical**. Dataset v2 says which:
# > `Material.origin` is `"known"` for a crystal taken from a compilation at its experimental
# > lattice parameters (`Material.source`: Wyckoff's *Crystal Structures*, robocrys' mineral
# > database or ase's elemental reference states; datasheet, section 3) and `"substituted"` for a
# > candidate made by decorating a real structure type with other elements (pymatgen's
# > ion-substitution probabilities): such a compound is stable *with the labelling potential*, but
# > nobody may ever have made it. `Material.known` is the same as a bool (`None` for v0 and v1,
# > which do not record it). The series prefers known crystals as worked examples, and says so
# > where it uses a dataset material only for its shape or its masses.

# %%
ds = load_dataset()
known = [m for m in ds if m.known]
print(ds)
print(f"{len(known)} of {len(ds)} materials are known crystals; per split:",
      {s: sum(m.split == s for m in known) for s in ("train", "valid", "test", "benchmark")})
print("sources of the known ones:", dict(Counter(m.source for m in known)))
example = next(m for m in known if m.prototype == "rocksalt" and m.split == "train")   # a known rocksalt crystal
print(f"example: {example.name}: {example.formula} ({example.prototype}, {example.n_atoms} atoms, split {example.split}, "
      f"{example.e_above_hull_eV * 1000:.0f} meV/atom above the hull, ground state of its composition: {example.ground_state})")
print("cell lengths (Å) and angles (°):", np.round(example.to_ase().cell.cellpar(), 3))
assert np.allclose(example.structure.lattice.matrix, example.to_ase().cell.array)

# %% [markdown]
# ## 2. Periodic images and $r_\text{max}$
#
# The graph has one node per atom of the cell. An edge joins atom $a$ (the receiver) to every
# image of atom $b$ (the sender) within the cutoff radius:
#
# $$
# \mathbf r_{ab}^{(\mathbf S)} = \mathbf r_b + \mathbf S L - \mathbf r_a, \qquad
# \text{edge } (b, \mathbf S) \to a \iff 0 < \big|\mathbf r_{ab}^{(\mathbf S)}\big| \le r_\text{max} .
# $$
#
# | symbol | meaning |
# |---|---|
# | $\mathbf r_{ab}^{(\mathbf S)}$ | edge vector from receiver a to the image of sender b (Å), `edge_vec` |
# | $\mathbf S$ | `edge_shift`: the image's cell, in lattice vectors |
# | $r_\text{max}$ | cutoff radius (Å); 4 Å throughout the series |
#
# Why images? In a cell of one or two atoms, the neighbours of an atom are almost all in the
# *neighbouring* cells. Ignoring them would describe a tiny molecule, not a crystal. The slides
# put it in one line: **adding periodicity only changes the graph, not the model**: the
# convolution sums over the edges it is given; only the edge list knows about the lattice.

# %%
def cluster_edges(positions, r_max):
    """Edges of the atoms of one cell as an isolated cluster (no periodic images)."""
    dist = np.linalg.norm(positions[:, None] - positions[None], axis=-1)  # (n, n), Å
    return int(((dist > 0) & (dist <= r_max)).sum())

copper = bulk("Cu", "fcc", a=3.61)  # primitive fcc cell: 1 atom, lattice vectors 2.553 Å long
for name, atoms in [("NaCl", nacl_atoms), ("Cu", copper)]:
    src, dst, shift, vec = periodic_edges(atoms.positions, atoms.cell.array, r_max=4.0)
    print(f"{name:4s} ({len(atoms)} atom(s)/cell): {cluster_edges(atoms.positions, 4.0):2d} edges as a cluster, "
          f"{len(src):3d} with periodic images, {(shift != 0).any(axis=1).sum():3d} of them to images")
assert cluster_edges(copper.positions, 4.0) == 0

# %% [markdown]
# As a cluster, the Cu cell has **no edge at all**: an isolated atom. With images, it has its 12
# nearest neighbours (2.55 Å) and 6 next-nearest (3.61 Å), all of them copies of itself.
#
# $r_\text{max}$ may well exceed the cell size: then an atom meets several images of every atom,
# including itself. For Cu and $r_\text{max}$ = 6 Å, more than twice the cell's edge, the edges
# fall into the familiar fcc **coordination shells**:

# %%
src, dst, shift, vec = periodic_edges(copper.positions, copper.cell.array, r_max=6.0)
lengths = np.linalg.norm(vec, axis=1)  # (n_edges,), Å
shells, counts = np.unique(lengths.round(3), return_counts=True)
print(f"r_max = 6 Å > cell vector {np.linalg.norm(copper.cell.array, axis=1).max():.3f} Å: {len(src)} edges, "
      f"all from atom 0 to images of itself: {bool((src == 0).all() and (dst == 0).all())}")
print("shell radius (Å) | neighbours | radius / a")
for r, n in zip(shells, counts):
    print(f"      {r:6.3f}     |    {n:3d}     | √{(r / 3.61) ** 2 * 2:.0f}/√2")
print("largest image shift:", np.abs(shift).max(), "cells")
assert counts.tolist() == [12, 6, 24, 12, 24]  # fcc: 12, 6, 24, 12, 24 neighbours

# %% [markdown]
# **Numeric check against ase.** `periodic_edges` uses the `vesin` neighbour list. We compare it
# with ase's own `ase.neighborlist.neighbor_list` on crystals of very different shapes — NaCl, Cu
# at a large cutoff, wurtzite GaN, a **triclinic** cell with three unequal angles, and every
# material of the dataset — and require the same edges: same count, same sorted distances and the
# same (receiver, sender, shift) triples. ase's `i`, `j`, `S` are our `dst`, `src`, `edge_shift`.

# %%
gan = bulk("GaN", "wurtzite", a=3.19, c=5.19)  # hexagonal, 4 atoms
triclinic = AseAtomsAdaptor.get_atoms(Structure(
    Lattice.from_parameters(3.1, 4.3, 5.2, 71.0, 83.0, 104.0), ["Si", "O", "O"],
    [[0.0, 0.0, 0.0], [0.31, 0.47, 0.12], [0.68, 0.20, 0.59]]))

def compare_with_ase(atoms, r_max):
    """Return the number of edges after checking ours == ase's (count, distances, triples)."""
    src, dst, shift, vec = periodic_edges(atoms.positions, atoms.cell.array, r_max)
    i, j, d, S = neighbor_list("ijdS", atoms, r_max)
    assert len(src) == len(i), (len(src), len(i))
    assert np.allclose(np.sort(np.linalg.norm(vec, axis=1)), np.sort(d), atol=1e-8)
    ours = sorted(zip(dst.tolist(), src.tolist(), map(tuple, shift.tolist())))
    assert ours == sorted(zip(i.tolist(), j.tolist(), map(tuple, S.tolist())))
    return len(src)

for name, atoms, r_max in [("NaCl", nacl_atoms, 4.0), ("Cu", copper, 7.9), ("GaN", gan, 4.0),
                           ("triclinic SiO2", triclinic, 5.0)]:
    print(f"{name:15s} r_max = {r_max:.1f} Å: {compare_with_ase(atoms, r_max):4d} edges, identical to ase")
n_checked = sum(compare_with_ase(m.to_ase(), 4.0) for m in ds)
print(f"all {len(ds)} dataset materials at r_max = 4 Å: {n_checked} edges, identical to ase")

# %% [markdown]
# ## 3. Seeing the graph in 3D
#
# Below is wurtzite GaN with a small cutoff (2.5 Å, enough for the Ga–N bonds only, so the picture
# stays readable). Solid spheres are the 4 atoms of the cell — the nodes; faded spheres are the
# periodic images that some of their edges point to. Each line is one edge
# $\mathbf r_{ab}^{(\mathbf S)}$, drawn from the receiving atom to its neighbour.

# %%
def plot_crystal_graph(ax, atoms, r_max):
    """Atoms of the cell (solid), neighbour images (faded) and the edges within r_max."""
    pos, cell, numbers = atoms.positions, atoms.cell.array, atoms.numbers
    src, dst, shift, vec = periodic_edges(pos, cell, r_max)
    ax.add_collection3d(Line3DCollection(np.stack([pos[dst], pos[dst] + vec], axis=1), colors="0.25", lw=1.2))
    image = (shift != 0).any(axis=1)
    keys = np.unique(np.column_stack([src[image], shift[image]]), axis=0)  # one row per image atom
    image_pos = pos[keys[:, 0]] + keys[:, 1:] @ cell
    colors = jmol_colors[numbers]
    ax.scatter(*image_pos.T, s=110, color=colors[keys[:, 0]], alpha=0.35, edgecolor="0.4", linewidth=0.5)
    ax.scatter(*pos.T, s=220, color=colors, edgecolor="k", alpha=1.0, depthshade=False)
    draw_cell(ax, cell)
    for number in np.unique(numbers):
        ax.scatter([], [], [], s=80, color=colors[numbers == number][0], edgecolor="k",
                   label=ase.data.chemical_symbols[number])
    ax.scatter([], [], [], s=60, color="0.5", alpha=0.3, label="periodic image")
    ax.set_xlabel("x (Å)"), ax.set_ylabel("y (Å)"), ax.set_zlabel("z (Å)")
    return len(src), len(keys)

# %%
fig = plt.figure(figsize=(7.0, 6.0))
ax = fig.add_subplot(projection="3d")
n_edges, n_images = plot_crystal_graph(ax, gan, r_max=2.5)
ax.set_box_aspect(np.ptp(np.array([ax.get_xlim(), ax.get_ylim(), ax.get_zlim()]), axis=1))
ax.view_init(elev=16, azim=-40)
for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
    axis.set_major_locator(plt.MaxNLocator(4))
ax.set_title(f"wurtzite GaN, $r_\\mathrm{{max}}$ = 2.5 Å: {len(gan)} nodes, {n_edges} edges, "
             f"{n_images} image atoms", fontsize=11)
ax.legend(loc="upper left", fontsize=9)
save_figure(fig, "02_graph_3d")
plt.show()
print(f"{n_edges} edges = {len(gan)} atoms × {n_edges // len(gan)} bonds (tetrahedral coordination)")
assert n_edges == 4 * len(gan)

# %% [markdown]
# > **Note** Every bond appears twice, once per direction (a→b and b→a, possibly via different
# > images): the graph is *directed*, and a message flows along each direction.
#
# ## 4. Choosing $r_\text{max}$
#
# A larger cutoff gives each atom more neighbours — more information, but more edges to compute
# (their number grows like $r_\text{max}^3$). Move the slider to see how the neighbours of NaCl
# come in shells. (The widget needs a running kernel; a static version follows.)

# %%
DISTANCE_RANGE_A = (0.0, 8.0)

def plot_neighbour_histogram(ax, atoms, r_max):
    """Neighbours per atom vs distance (Å), bars within r_max highlighted."""
    src, dst, shift, vec = periodic_edges(atoms.positions, atoms.cell.array, DISTANCE_RANGE_A[1])
    lengths = np.linalg.norm(vec, axis=1)  # (n_edges,), Å
    bins = np.arange(*DISTANCE_RANGE_A, 0.15) + 0.05
    weights = np.full(len(lengths), 1.0 / len(atoms))  # count neighbours per atom
    inside = lengths <= r_max
    ax.hist(lengths[inside], bins=bins, weights=weights[inside], color=PALETTE["reference"], label="edges")
    ax.hist(lengths[~inside], bins=bins, weights=weights[~inside], color="0.8", label="beyond $r_\\mathrm{max}$")
    ax.axvline(r_max, color=PALETTE["prediction"], ls="--", lw=1.2)
    ax.set_xlabel("neighbour distance $|\\mathbf{r}_{ab}|$ (Å)")
    ax.set_ylabel("neighbours per atom")
    ax.set_title(f"$r_\\mathrm{{max}}$ = {r_max:.2f} Å: {inside.sum()} edges, z = {inside.sum() / len(atoms):.1f}",
                 fontsize=10)
    return int(inside.sum())

# %% tags=["nbval-ignore-output"]
def show_neighbours(r_max=4.0):
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    plot_neighbour_histogram(ax, nacl_atoms, r_max)
    ax.legend(loc="upper left", fontsize=9)
    plt.show()

slider = widgets.FloatSlider(value=4.0, min=2.0, max=8.0, step=0.1, description="r_max (Å)",
                             continuous_update=False)
widgets.interact(show_neighbours, r_max=slider);

# %% [markdown]
# The static version: four cutoffs side by side. The default 4 Å reaches the second shell of NaCl
# (6 Cl at 2.82 Å and 12 Na/Cl images at 3.99 Å): z = 18.

# %%
r_max_values = [3.0, 4.0, 5.0, 6.0]
fig, axes = plt.subplots(1, len(r_max_values), figsize=(13.0, 3.2), sharey=True)
n_edges = [plot_neighbour_histogram(ax, nacl_atoms, r) for ax, r in zip(axes, r_max_values)]
for ax in axes[1:]:
    ax.set_ylabel("")
fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", ncol=2, fontsize=9, bbox_to_anchor=(1.0, 1.06))
fig.suptitle("Rocksalt NaCl (primitive cell, 2 atoms): neighbours within $r_\\mathrm{max}$", x=0.4, y=1.04)
fig.tight_layout()
save_figure(fig, "02_rmax_sweep")
plt.show()
print("edges per r_max:", dict(zip(r_max_values, n_edges)))
assert n_edges[1] == 36  # 2 atoms x 18 neighbours at 4 Å

# %% [markdown]
# ## 5. Node features: `118x0e`
#
# Each node carries 118 scalars (irreps `118x0e`, see notebook 01), one per element, index $Z-1$.
# The slides' choice is the **mass-weighted one-hot** encoding; its plain sibling is the
# occupancy one-hot, which the model also receives as node attribute (`node_attr`):
#
# $$
# \mathbf x_a = m_{Z_a}\, \mathbf e_{Z_a} \quad (\texttt{x}), \qquad
# \mathbf o_a = \mathbf e_{Z_a} \quad (\texttt{node\_attr}), \qquad
# \mathbf x_a = \sum_{c} o_{a,c}\, m_{Z_c}\, \mathbf e_{Z_c} \ \ \text{(partially occupied site, "N-hot")}.
# $$
#
# | symbol | meaning |
# |---|---|
# | $\mathbf e_Z$ | unit vector of length 118 with a 1 at index Z − 1 |
# | $m_Z$ | atomic mass of element Z (u), from `ase.data.atomic_masses` |
# | $o_{a,c}$ | occupancy of species c on site a (dimensionless, $\sum_c o_{a,c} = 1$) |

# %%
graph = structure_to_graph(nacl, r_max=4.0)
for atom, site in enumerate(nacl):
    nonzero = torch.nonzero(graph.x[atom]).flatten().tolist()
    print(f"atom {atom} ({site.specie}, Z = {site.specie.Z}): x nonzero at index {nonzero} = "
          f"{graph.x[atom, nonzero[0]]:.3f} u; node_attr there = {graph.node_attr[atom, nonzero[0]]:.1f}")
na = [str(site.specie) for site in nacl].index("Na")
assert abs(graph.x[na, 10].item() - 22.98977) < 1e-4  # Na: Z = 11 -> index 10, m = 22.990 u
assert torch.equal(graph.x.count_nonzero(dim=1), torch.ones(2, dtype=torch.long))

# %% [markdown]
# **Why weight by mass?** At fixed bond stiffness $k$, a vibration's frequency falls with the mass
# of the atoms that move, $\omega \propto \sqrt{k/m}$: heavy elements put their weight at low
# frequencies. The slides claim that weighting the one-hot by $m$ lets the model **generalize
# better to unseen elements** than a plain one-hot. What exactly does the encoding add? Let us
# compare the two encodings for a handful of elements — a column of group 14 and its neighbours.

# %%
elements = ["C", "Si", "Ga", "Ge", "As", "Sn", "Pb"]
onehot = occupancy_onehot(elements, dtype=torch.float64)  # (7, 118), dimensionless
massweighted = mass_weighted_onehot(elements, dtype=torch.float64)  # (7, 118), u

def cosine_matrix(features):
    unit = features / features.norm(dim=1, keepdim=True)
    return (unit @ unit.T).numpy()  # (n, n)

masses = massweighted.norm(dim=1).numpy()  # |x| = m, u
for name, features in [("one-hot", onehot), ("mass-weighted", massweighted)]:
    off_diagonal = cosine_matrix(features)[~np.eye(len(elements), dtype=bool)]
    print(f"{name:14s}: cosine similarity of distinct elements in [{off_diagonal.min():.3f}, "
          f"{off_diagonal.max():.3f}], |x| = {np.round(features.norm(dim=1).numpy(), 2).tolist()}")
assert np.allclose(cosine_matrix(onehot), cosine_matrix(massweighted))  # same directions

# %% [markdown]
# A first surprise: the **directions** of the two encodings are identical — distinct elements are
# orthogonal in both, so by angle Ga is as unlike Ge as it is unlike C. Mass weighting changes
# only the **length**: $|\mathbf x_a| = m_{Z_a}$. That length is the one physical, continuous
# number the input carries, and it is the number that sets the frequency scale. Left: the
# similarity of the two encodings (one panel, since they are identical — checked above); right:
# what the mass adds.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.2), gridspec_kw=dict(width_ratios=[1, 1.3]))
image = axes[0].imshow(cosine_matrix(massweighted), cmap="viridis", vmin=0, vmax=1)
axes[0].set_xticks(range(len(elements)), elements), axes[0].set_yticks(range(len(elements)), elements)
axes[0].set_title("cosine similarity:\none-hot = mass-weighted (identical)", fontsize=10)
fig.colorbar(image, ax=axes[0], fraction=0.046, label=r"$\cos(\mathbf{x}_a, \mathbf{x}_b)$")
ax = axes[1]
relative_omega = np.sqrt(masses.min() / masses)  # ω/ω_C at equal stiffness k
ax.plot(masses, relative_omega, "o", color=PALETTE["prediction"], label="mass-weighted: |x| = m")
ax.plot(np.ones_like(masses), relative_omega, "s", color="0.6", label="one-hot: |x| = 1")
point_labels = {"Ge": "Ga, Ge, As"}  # three nearly equal masses share one label
for element, m, w in zip(elements, masses, relative_omega):
    if element not in ("Ga", "As"):
        ax.annotate(point_labels.get(element, element), (m, w), textcoords="offset points", xytext=(5, 4), fontsize=9)
m_grid = np.linspace(8.0, masses.max() * 1.05, 200)
ax.plot(m_grid, np.sqrt(masses.min() / m_grid), color="0.3", lw=1, label=r"$\omega \propto 1/\sqrt{m}$")
ax.set_xlabel("input length |x| (u for mass-weighted)")
ax.set_ylabel(r"$\omega / \omega_\mathrm{C}$ at equal stiffness $k$")
ax.legend(fontsize=8, loc="upper right")
fig.tight_layout()
save_figure(fig, "02_node_encodings")
plt.show()

# %% [markdown]
# With the mass in the input, elements of similar mass (Ga, Ge, As) give inputs of similar size,
# and the size tracks $\sqrt{k/m}$; with a plain one-hot every element has length 1 and the mass
# must be learned per element from data. This is the argument behind the slides' claim.
#
# > **Warning** It is an argument, not a proof. The first layer is `Linear(118, em_dim)`, with one
# > weight column per element; a column of an element absent from the training set keeps its
# > initial value in *either* encoding. Whether mass weighting helps on unseen elements is an
# > empirical question: notebook 07 measures it with the `node_input="onehot"` ablation.
#
# **N-hot: partial occupancy.** In an alloy a site can hold two elements, e.g. Bi$_{0.5}$Sb$_{0.5}$
# (both semimetals of the rhombohedral A7 structure, which mix at any ratio). The site's vector is
# the occupancy-weighted sum: $0.5\, m_\mathrm{Sb}$ at index 50 and $0.5\, m_\mathrm{Bi}$ at index 82.

# %%
bisb = Structure(Lattice.rhombohedral(4.6, 57.5), [{"Sb": 0.5, "Bi": 0.5}] * 2,
                 [[0.234, 0.234, 0.234], [0.766, 0.766, 0.766]])  # A7 structure, Å
alloy_graph = structure_to_graph(bisb, r_max=4.0)
m_sb, m_bi = ase.data.atomic_masses[51], ase.data.atomic_masses[83]
for name, row in [("x (u)", alloy_graph.x[0]), ("node_attr", alloy_graph.node_attr[0])]:
    nonzero = torch.nonzero(row).flatten().tolist()
    print(f"{name:10s}: nonzero at {nonzero} = {[round(float(v), 3) for v in row[nonzero]]}")
expected = torch.zeros(118)
expected[50], expected[82] = 0.5 * m_sb, 0.5 * m_bi  # Sb: Z = 51, Bi: Z = 83
assert torch.allclose(alloy_graph.x[0], expected, atol=1e-4)
assert torch.allclose(alloy_graph.node_attr[0].sum(), torch.tensor(1.0))
print(f"Σ x = {alloy_graph.x[0].sum():.3f} u = mean mass 0.5·{m_sb:.3f} + 0.5·{m_bi:.3f}")

# %% [markdown]
# > **Tip** The N-hot vector's sum is the site's *average* mass — the virtual-crystal mass of
# > the alloy. Notebook 05 feeds such sites to a network trained on ordered crystals only.
#
# ## 6. The dataset as graphs
#
# Every material of the dataset becomes one graph at $r_\text{max}$ = 4 Å; the target DoS
# travels along as `y`. Graph building is fast (one neighbour list per crystal), so the series
# builds graphs on the fly (`utils.train` does the same) instead of caching them on disk.

# %% tags=["nbval-ignore-output"]
R_MAX = 4.0  # Å
start = time.perf_counter()
graphs = [structure_to_graph(m.to_ase(), r_max=R_MAX, dos=m.dos, material_id=m.id) for m in ds]
seconds = time.perf_counter() - start
print(f"built {len(graphs)} graphs in {seconds:.2f} s ({1e3 * seconds / len(graphs):.1f} ms per crystal)")

# %%
n_atoms = np.array([g.n_atoms for g in graphs])  # (n_materials,)
neighbours = np.concatenate([np.bincount(g.edge_index[1].numpy(), minlength=g.n_atoms) for g in graphs])
element_counts = ds.elements().most_common()  # [(symbol, n_materials), ...], most common first
split_sizes = ds.split_sizes()
z_train = average_neighbors([graphs[i] for i in ds.split("train")])
print(f"{len(ds)} materials ({', '.join(f'{k} {v}' for k, v in split_sizes.items())}), "
      f"{len(element_counts)} elements, {n_atoms.sum()} atoms")
print(f"atoms per cell: {n_atoms.min()}–{n_atoms.max()} (median {np.median(n_atoms):.0f})")
print(f"neighbours per atom at r_max = {R_MAX:.0f} Å: {neighbours.min()}–{neighbours.max()}, "
      f"mean {neighbours.mean():.2f}")
to_images = sum(int((g.edge_shift != 0).any(dim=1).sum()) for g in graphs) / neighbours.sum()
print(f"edges that point to a periodic image: {100 * to_images:.1f} %")
print(f"z over the training split: {z_train:.3f}")
assert neighbours.sum() == sum(g.num_edges for g in graphs) and neighbours.min() >= 1

# %%
fig = plt.figure(figsize=(12.0, 7.0))
grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.1])
ax = fig.add_subplot(grid[0, 0])
ax.hist(n_atoms, bins=np.arange(n_atoms.max() + 2) + 0.5, color=PALETTE["reference"])
ax.set_xlabel("atoms per unit cell N"), ax.set_ylabel("materials")
ax = fig.add_subplot(grid[0, 1])
ax.hist(neighbours, bins=np.arange(neighbours.max() + 2) + 0.5, color=PALETTE["fill"])
ax.axvline(z_train, color=PALETTE["prediction"], ls="--", label=f"z (train) = {z_train:.1f}")
ax.set_xlabel(f"neighbours per atom within {R_MAX:.0f} Å"), ax.set_ylabel("atoms"), ax.legend()
ax = fig.add_subplot(grid[1, :])
shown = element_counts if len(element_counts) <= 50 else element_counts[:25] + [("…", 0)] + element_counts[-25:]
ax.bar(range(len(shown)), [c for _, c in shown], color=["0.7" if s == "…" else PALETTE["train"] for s, _ in shown])
ax.set_xticks(range(len(shown)), [s for s, _ in shown], fontsize=8, rotation=90)
ax.set_xlim(-0.7, len(shown) - 0.3)
ax.set_ylabel("materials containing it")
ax.yaxis.set_major_locator(plt.MaxNLocator(integer=True))
ax.set_title("elements, most → least common" + ("" if len(shown) == len(element_counts) else
             f" (the 25 most and 25 least common of {len(element_counts)})"), fontsize=10)
fig.tight_layout()
save_figure(fig, "02_dataset_stats")
plt.show()

# %% [markdown]
# Most cells are small, so most edges point to periodic images (the percentage printed above).
# The element counts are very uneven: a long tail of elements appears in only a few materials.
# Rare elements are where the mass weighting of section 5 is supposed to help, and the reason
# why the dataset's split is *element-balanced* (`utils.data.element_balanced_split`): every
# element with at least 10 materials is spread over train, valid and test within ±10 % of the
# proportions of the whole set; rarer elements can be missing from valid or test.
#
# **How close are the labels to experiment?** The DoS labels are computed, not measured: a
# machine-learned interatomic potential (SevenNet, trained on PBE density-functional data) gives
# the forces, phonopy the phonons (the datasheet, `data/README.md`, says how). The highest
# phonon frequency is a clean test: it is measured by neutron scattering for many elements, and
# the label's value is the highest frequency on its q-mesh (which contains Γ and the zone-boundary
# points where these maxima lie). The table below compares the two for the elemental crystals of
# `data/reference/measured_phonons.csv` (values from one compilation, Landolt–Börnstein III/13a;
# only labels that pass the stability rule are compared).

# %%
from utils.datagen.experiment import read_results

comparison = read_results()  # data/reference/labels_vs_experiment.json
print(f"{'crystal':<16}{'measured':>10}{'label':>8}{'label/measured':>16}   (highest frequency, cm⁻¹)")
for row in comparison["rows"]:
    if row["ratio"] is not None:
        print(f"{row['formula'] + ' (' + row['prototype'] + ')':<16}{row['measured_cm1']:>10.0f}"
              f"{row['label_cm1']:>8.0f}{row['ratio']:>16.2f}")
summary = comparison["summary"]
print(f"median label/measured {summary['median_ratio']:.2f}; soft by more than 10 %: "
      f"{summary['n_soft_10pct']} of {summary['n']}")
# the text below says: soft on the whole, most by more than 10 %, a few stiffer
assert summary["median_ratio"] < 0.95 and summary["n_soft_10pct"] > summary["n"] / 2 and summary["min_ratio"] > 0.65
assert summary["max_ratio"] > 1

# %% [markdown]
# Most labels are **soft**: their highest frequency is 10–30 % below the measured one, the
# known softening of universal potentials trained on PBE data; a few crystals come out
# stiffer. (The measurements are at 80–300 K, the labels harmonic at 0 K; thermal expansion
# would make the *measured* modes softer, so temperature does not explain the soft labels, and
# it accounts for a few per cent at most of the stiff ones.) A network
# trained on these labels learns them, softness included: its predictions can be no closer
# to experiment than the labels are. Keep this in mind in notebook 03, where "error" always
# means error against the labels.
#
# ## 7. The average number of neighbours z and the $1/\sqrt z$ normalization
#
# A convolution sums messages from all neighbours. From the slides:
#
# $$
# f'_a = \frac{1}{\sqrt z} \sum_{b \in \partial(a)} f_b \otimes_{|\mathbf r_{ab}|} Y\!\left(\frac{\mathbf r_{ab}}{|\mathbf r_{ab}|}\right)
# $$
#
# | symbol | meaning |
# |---|---|
# | $f_b$, $f'_a$ | features of neighbour b and new features of atom a |
# | $\partial(a)$ | neighbours of a within $r_\text{max}$ (periodic images included) |
# | $\otimes_{\lvert\mathbf r_{ab}\rvert}$ | tensor product with weights that depend on the edge length (Å) |
# | $Y$ | spherical harmonics of the edge direction (notebook 01) |
# | $z$ | average number of neighbours over the *training* graphs (a constant, dimensionless) |
#
# Why $\sqrt z$? A sum of $n$ messages of unit size grows like $n$ if they share a sign, and like
# $\sqrt n$ if their signs are random (a random walk). At initialization the network's messages
# have random signs, so dividing by $\sqrt z$ keeps the output of order 1:

# %%
generator = torch.Generator().manual_seed(0)
z_values = np.array([1, 2, 4, 8, 16, 32, 64, 128])
n_trials = 4000
rms = {"same sign": [], "random sign": [], "random sign / √z": []}
for z in z_values:
    random_sign = torch.randn(n_trials, int(z), generator=generator)  # (trials, z), unit variance
    same_sign = torch.rand(n_trials, int(z), generator=generator) + 0.5  # (trials, z), in [0.5, 1.5)
    rms["same sign"].append(same_sign.sum(dim=1).pow(2).mean().sqrt().item())
    rms["random sign"].append(random_sign.sum(dim=1).pow(2).mean().sqrt().item())
    rms["random sign / √z"].append((random_sign.sum(dim=1) / np.sqrt(z)).pow(2).mean().sqrt().item())
slopes = {k: np.polyfit(np.log(z_values), np.log(v), 1)[0] for k, v in rms.items()}
for key, slope in slopes.items():
    print(f"{key:17s}: RMS of the sum ∝ z^{round(slope, 2) + 0:.2f}")  # (+ 0 turns -0.0 into 0.0)
assert abs(slopes["same sign"] - 1) < 0.05 and abs(slopes["random sign"] - 0.5) < 0.05
assert np.allclose(rms["random sign / √z"], 1.0, atol=0.06)

# %% [markdown]
# On real graphs: give every edge of the training graphs an independent message of unit variance
# (64 channels), sum into the receiving atom, divide by $\sqrt z$. An atom with $n_a$ neighbours
# then gets an output of size $\sqrt{n_a/z}$: about 1 for a typical atom, and averaged over all
# atoms exactly 1, because z *is* the mean of $n_a$.

# %%
train_graphs = [graphs[i] for i in ds.split("train")]
outputs = []
for g in train_graphs:
    messages = torch.randn(g.num_edges, 64, generator=generator)  # (n_edges, 64), unit variance
    summed = torch.zeros(g.n_atoms, 64).index_add_(0, g.edge_index[1], messages)  # (n_atoms, 64)
    outputs.append(summed / np.sqrt(z_train))
outputs = torch.cat(outputs)  # (n_train_atoms, 64)
n_a = torch.cat([torch.bincount(g.edge_index[1], minlength=g.n_atoms) for g in train_graphs]).numpy()
rms_per_atom = outputs.pow(2).mean(dim=1).sqrt().numpy()  # (n_train_atoms,)
rms_all = outputs.pow(2).mean().sqrt().item()
print(f"{len(n_a)} training atoms, n_a from {n_a.min()} to {n_a.max()}, z = {z_train:.3f}")
print(f"RMS of the normalized output over all atoms: {rms_all:.2f} (without 1/√z: {rms_all * np.sqrt(z_train):.2f})")
assert abs(rms_all - 1.0) < 0.1

# %%
fig, axes = plt.subplots(1, 2, figsize=(11.0, 3.8))
ax = axes[0]
for (key, values), color in zip(rms.items(), [PALETTE["fill"], PALETTE["reference"], PALETTE["prediction"]]):
    ax.loglog(z_values, values, "o-", color=color, label=f"{key} (∝ z^{round(slopes[key], 2) + 0:.2f})")
ax.set_xlabel("number of neighbours z"), ax.set_ylabel("RMS of the summed message")
ax.set_title("synthetic messages (4000 trials per z)", fontsize=10), ax.legend(fontsize=8)
ax = axes[1]
ax.scatter(n_a, rms_per_atom, s=12, alpha=0.6, color=PALETTE["reference"], label="atoms of the training split")
n_grid = np.linspace(0, n_a.max() * 1.05, 200)
ax.plot(n_grid, np.sqrt(n_grid / z_train), color="0.3", lw=1, label=r"$\sqrt{n_a / z}$")
ax.axhline(1.0, color=PALETTE["prediction"], ls="--", lw=1)
ax.axvline(z_train, color=PALETTE["prediction"], ls=":", lw=1, label=f"z = {z_train:.1f}")
ax.set_xlabel("neighbours of the atom $n_a$"), ax.set_ylabel("RMS of output / √z (64 channels)")
ax.set_title("real edge lists, random unit messages", fontsize=10), ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, "02_neighbour_normalization")
plt.show()

# %% [markdown]
# > **Note** z is one constant for the whole model, not each atom's own count. Dividing by $n_a$
# > (a mean) would hide how many neighbours an atom has; dividing by the constant $\sqrt z$ keeps
# > that information while keeping typical outputs of order 1. Set it from the **training** graphs
# > (`average_neighbors`) and keep it fixed when you predict new materials. In a trained network
# > messages are neither independent nor zero-mean: $1/\sqrt z$ is a normalization *at
# > initialization*, as in e3nn's `gate_points` networks, not an exact invariant.
#
# ## 8. Errors you may meet
#
# `structure_to_graph` refuses structures it cannot turn into a sensible graph and says which atom
# is the problem and what to do, with a `GraphError` (a `ValueError`). The most common one: an
# atom with no neighbour within $r_\text{max}$ — it would receive no message at all.

# %%
bisb_vacancy = bisb.copy()
bisb_vacancy.replace(0, {"Sb": 0.45, "Bi": 0.45})  # site 0 only 90 % occupied
for description, structure, r_max in [("NaCl with r_max = 2 Å (nearest neighbour at 2.82 Å)", nacl, 2.0),
                                      ("Bi0.5Sb0.5 with a 10 % vacancy", bisb_vacancy, 4.0)]:
    try:
        structure_to_graph(structure, r_max=r_max)
    except GraphError as error:
        print(f"{description}:\n  GraphError: {error}\n")

# %% [markdown]
# ## Summary
#
# - A crystal is a lattice $L$ (rows $\mathbf a_i$, Å) plus fractional coordinates; $\mathbf r =
#   \mathbf f L$. pymatgen `Structure` and ase `Atoms` hold the same object (`AseAtomsAdaptor`), and
#   `structure_to_graph` gives identical graphs from both.
# - A periodic graph joins atom a to every **image** $\mathbf r_b + \mathbf S L$ within
#   $r_\text{max}$ (4 Å); in small cells most edges go to images, and $r_\text{max}$ may exceed the
#   cell. Our edges match `ase.neighborlist.neighbor_list` exactly. Periodicity changes the graph,
#   not the model.
# - Node input `118x0e`: the **mass-weighted one-hot** $m_Z\mathbf e_Z$; the plain one-hot goes in
#   as `node_attr`. Both have the same directions; mass weighting adds the length $m$, which sets
#   $\omega \propto \sqrt{k/m}$. Partially occupied sites become N-hot vectors $\sum_c o_c m_c \mathbf e_{Z_c}$.
# - Sums over neighbours are divided by $\sqrt z$, z = the average neighbour count of the training
#   graphs: random-sign sums grow like $\sqrt n$, so outputs stay of order 1.
# - Bad structures (isolated atoms, vacancies, overlapping atoms, flat cells, unknown elements)
#   raise a `GraphError` that names the atom and the fix.

# %% [markdown]
# ## Exercises
#
# **1. Supercells change nothing.** Build a 2×2×2 supercell of NaCl (`nacl_atoms.repeat(2)`). How
# many nodes and edges does its graph have, and what is its average number of neighbours? Why is
# that the answer a DoS model needs?
#
# <details><summary>Solution</summary>
#
# 16 nodes and 8 × 36 = 288 edges: z stays 18 and every atom has the same neighbourhood (same
# edge lengths) as in the primitive cell. The supercell is the same crystal, so a DoS predictor that
# averages over atoms gives the same output for both.
#
# ```python
# supercell = structure_to_graph(nacl_atoms.repeat(2), r_max=4.0)
# print(supercell.num_nodes, supercell.num_edges, average_neighbors([supercell]))
# assert average_neighbors([supercell]) == 18.0
# ```
# </details>
#
# **2. Edges grow like $r_\text{max}^3$.** Count the edges of all dataset graphs for $r_\text{max}$
# = 3, 4, 5, 6, 8 Å and fit the exponent of edges ∝ $r_\text{max}^p$. What value do you expect, and
# why is it only reached at large $r_\text{max}$?
#
# <details><summary>Solution</summary>
#
# The neighbours of an atom fill a sphere, $n_a \approx \tfrac{4}{3}\pi r_\text{max}^3 \rho$ with
# ρ the number density (atoms/Å³), so p → 3. At small $r_\text{max}$ the count jumps shell by
# shell, so the fit is rough there.
#
# ```python
# radii = np.array([3.0, 4.0, 5.0, 6.0, 8.0])
# edges = [sum(len(periodic_edges(m.to_ase().positions, m.cell, r)[0]) for m in ds) for r in radii]
# print(np.polyfit(np.log(radii), np.log(edges), 1)[0])   # close to 3
# ```
# </details>
#
# **3. The mass of a mixed site.** For Bi$_{1-x}$Sb$_x$ with x = 0, 0.25, 0.5, 0.75, 1, print the
# sum of the N-hot vector $\mathbf x$ of a site. Is it linear in x? What is the sum of `node_attr`?
#
# <details><summary>Solution</summary>
#
# Σx = (1 − x) m_Bi + x m_Sb, linear in x (the virtual-crystal mass); Σ node_attr = 1 always.
#
# ```python
# for x in [0, 0.25, 0.5, 0.75, 1]:
#     site = {el: occ for el, occ in [("Bi", 1 - x), ("Sb", x)] if occ > 0}
#     print(x, mass_weighted_onehot([site]).sum().item(), occupancy_onehot([site]).sum().item())
# ```
# </details>
#
# **4. The smallest workable cutoff.** For every dataset material, find the smallest $r_\text{max}$
# that leaves no atom isolated (the largest nearest-neighbour distance over its atoms). Which
# material needs the largest one, and is 4 Å safe for the whole dataset?
#
# <details><summary>Solution</summary>
#
# For each atom take its shortest edge at a generous cutoff; the material's minimum workable
# $r_\text{max}$ is the largest of these. The maximum over the dataset stays below 4 Å (the graphs of
# section 6 were all built without a `GraphError`).
#
# ```python
# def smallest_r_max(atoms, probe=8.0):
#     src, dst, shift, vec = periodic_edges(atoms.positions, atoms.cell.array, probe)
#     nearest = np.full(len(atoms), np.inf)
#     np.minimum.at(nearest, dst, np.linalg.norm(vec, axis=1))
#     return nearest.max()
# needed = np.array([smallest_r_max(m.to_ase()) for m in ds])
# print(ds[int(needed.argmax())].formula, needed.max())
# ```
# </details>
#
# **5. Mean instead of $1/\sqrt z$.** Repeat the real-graph experiment of section 7 dividing each
# atom's sum by its own $n_a$ (a mean). What is the RMS of the output now, and how does it depend
# on $n_a$? What information does the mean throw away?
#
# <details><summary>Solution</summary>
#
# The RMS per atom becomes $1/\sqrt{n_a}$: outputs *shrink* for well-connected atoms, and the
# mean of identical messages no longer tells one neighbour from twelve. The constant $\sqrt z$
# keeps both the scale (~1) and the neighbour count.
#
# ```python
# g = train_graphs[0]
# messages = torch.randn(g.num_edges, 64)
# n = torch.bincount(g.edge_index[1], minlength=g.n_atoms)
# mean = torch.zeros(g.n_atoms, 64).index_add_(0, g.edge_index[1], messages) / n[:, None]
# print(n.tolist(), mean.pow(2).mean(dim=1).sqrt().tolist())   # ≈ 1/√n
# ```
# </details>
