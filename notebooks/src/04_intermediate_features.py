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
# - how to read out the per-atom features of every stage of the trained network (embedding,
#   gated layers, output) and split them by irrep with `Irreps.slices()`;
# - what the scalar (`0e`) channels look like, atom by atom and layer by layer, and why
#   symmetry-equivalent atoms always get the same ones;
# - what the vector (`1o`) features mean physically, and why symmetry (Neumann's principle) forces
#   them to vanish at every inversion centre — checked numerically on rocksalt, wurtzite and rutile;
# - that the intermediate features are equivariant: rotate the crystal, and scalars stay put while
#   vectors turn with it;
# - how the pooled scalars of the last hidden layer arrange the whole dataset in a 2D "embedding
#   map", and what that map is organised by.
#
# **Time**: runs in about 1 min on 2 CPU cores (FAST and full alike: the notebook only evaluates the
# shipped checkpoint); reading time about 30 min.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
# (the line above shows figures inline even where MPLBACKEND is set, e.g. in headless runs)
import warnings

import matplotlib.pyplot as plt
import numpy as np
import spglib  # symmetry finder (a dependency of pymatgen)
import torch
from ase.build import bulk
from ase.data import atomic_masses
from ase.spacegroup import crystal
from e3nn import o3
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr
from torch_geometric.loader import DataLoader
from torch_geometric.utils import scatter

import utils
from utils.data import load_dataset
from utils.graphs import structure_to_graph
from utils.plot import PALETTE, draw_cell, save_figure
from utils.train import load_checkpoint

warnings.filterwarnings("ignore")
info = utils.setup(seed=0)
FAST = info["fast"]    # nothing here is slow: FAST and full mode run the same cells with the same numbers
TRAIN = info["train"]  # this notebook never trains; it reads whatever checkpoints/default holds

# %% [markdown]
# ## 1. Opening the black box
#
# Notebook 03 trained a network that maps a crystal to its phonon DoS. Its prediction is a mean
# over atoms of per-atom outputs, and every atom $a$ carries a feature vector $h_a^{(k)}$ that
# is updated stage by stage:
#
# $$
# h_a^{(0)} = \mathrm{ReLU}\big(W x_a\big), \qquad
# h_a^{(k)} = \mathrm{Gate}\Big(\sum_{b \in \partial(a)} \tfrac{1}{\sqrt z}\;
#   h_b^{(k-1)} \otimes_{w(|\mathbf r_{ab}|)} Y(\hat{\mathbf r}_{ab}) + \dots\Big),
# \qquad
# h_a^{(k)} = \bigoplus_{(l,p)} \big[\,\text{mul} \times (l, p)\,\big].
# $$
#
# | symbol | meaning |
# |---|---|
# | $x_a$ | input of atom a: mass-weighted one-hot, `118x0e` (u) — see the [glossary](glossary.md) |
# | $h_a^{(k)}$ | features of atom a after stage k (k = 0: embedding); dimensionless, arbitrary scale |
# | $\partial(a)$, $\mathbf r_{ab}$ | neighbours of a within $r_\text{max}$ (Å), periodic images included; edge vector (Å) |
# | $Y(\hat{\mathbf r})$, $w(\lvert\mathbf r\rvert)$ | spherical harmonics of the edge direction; learned radial weights |
# | $z$ | average number of neighbours (normalization) |
# | mul × (l, p) | `mul` copies ("channels") of the irrep of order l and parity p, e.g. `32x1o` |
#
# `model(graph, return_features=True)` returns, next to the DoS, a list of `NodeFeatures`
# (name, irreps, features) for every stage of the same forward pass.
#
# The shipped checkpoint is an ensemble of three networks whose predictions are averaged
# (notebook 03 §9). Features belong to one network (each learned its own channels), so this
# notebook looks inside the first, seed 0: `model.members[0]`.

# %%
dataset = load_dataset()
shipped, meta = load_checkpoint(dataset=dataset)  # checks that the checkpoint was trained on this dataset
model = shipped.members[0] if hasattr(shipped, "members") else shipped   # one network of the ensemble
R_MAX = model.config.r_max                       # Å, the cutoff the network was trained with


@torch.no_grad()
def node_features(atoms):
    """Per-atom features of every stage for one crystal (ase Atoms): list of utils.model.NodeFeatures."""
    graph = structure_to_graph(atoms, r_max=R_MAX)
    _, stages = model(graph, return_features=True)
    return stages


print(f"{len(dataset)} materials; model: {model.config.layers} gated layers, mul = {model.config.mul}, "
      f"lmax = {model.config.lmax}, r_max = {R_MAX:.1f} Å")
for stage in node_features(bulk("NaCl", "rocksalt", a=5.64)):
    print(f"  {stage.name:<10s} irreps {str(stage.irreps):<24s} dim {stage.irreps.dim:3d}  "
          f"features {tuple(stage.features.shape)}")

# %% [markdown]
# Only the irreps that the tensor products can *reach* appear. The embedding is scalar
# (`0e`); `0e ⊗ Y¹ = 1o` gives the first layer its vectors; `1o ⊗ Y¹ = 0e + 1e + 2e` gives the
# second layer pseudovectors (`1e`) too (`2e` is dropped: the hidden irreps stop at lmax = 1).
# The gates' own scalars are used up by the gate, so they are not in the list.
#
# ### Splitting features by irrep
#
# e3nn stores a feature vector as the concatenation of its irreps, each `mul × (2l+1)` numbers,
# channel-major. `Irreps.slices()` gives the slice of each block; a reshape to
# `(n_atoms, mul, 2l+1)` then exposes channels and components.

# %%
def split_by_irrep(stage):
    """{'0e': (n_atoms, mul, 1), '1o': (n_atoms, mul, 3), ...} for one NodeFeatures (any batch of atoms)."""
    n_atoms = stage.features.shape[0]
    blocks = {str(ir): stage.features[:, block].reshape(n_atoms, mul, ir.dim)
              for (mul, ir), block in zip(stage.irreps, stage.irreps.slices())}
    assert len(blocks) == len(stage.irreps), "an irrep appears twice: call irreps.simplify() first"
    return blocks


stages = node_features(bulk("NaCl", "rocksalt", a=5.64))
hidden = stages[-2]                                           # the last hidden layer
blocks = split_by_irrep(hidden)
print(hidden.name, {label: tuple(block.shape) for label, block in blocks.items()})
reassembled = torch.cat([block.flatten(1) for block in blocks.values()], dim=1)
assert torch.equal(reassembled, hidden.features)              # the split loses nothing

# %% [markdown]
# > **Tip** In e3nn's basis the three components of an `l = 1` block are ordered (x, y, z), and
# > the Wigner matrix of `1o` is the rotation matrix itself. So a `1o` block *is* an ordinary
# > Cartesian vector, one per channel, and we can draw it as an arrow in Å-space.

# %%
Q = o3.rand_matrix()
assert torch.allclose(o3.Irreps("1o").D_from_matrix(Q), Q, atol=1e-5)          # D¹ᵒ(Q) = Q
assert torch.allclose(o3.Irreps("1e").D_from_matrix(-Q), Q, atol=1e-5)         # 1e ignores inversion
print("1o transforms like a position, 1e like an angular momentum (it does not flip under inversion)")

# %% [markdown]
# ## 2. Three crystals with three kinds of sites
#
# We pick crystals whose **site symmetry** differs, because (section 4) symmetry decides which
# features an atom may carry:
#
# | crystal | what is special |
# |---|---|
# | rocksalt (NaCl type) | every atom sits on an inversion centre |
# | wurtzite (ZnO type, $P6_3mc$) | no inversion centre anywhere; each atom sits on a polar 3-fold axis along c |
# | rutile (TiO₂ type, $P4_2/mnm$) | the *crystal* is centrosymmetric, the metal sites are inversion centres, the anion sites are not |
#
# Each is taken from the dataset when it holds a material of that prototype that kept the
# ideal space group after relaxation, and built with ase otherwise. **Known crystals first**: most
# materials of the dataset are hypothetical (substituted candidates), so a known crystal of the
# prototype (`Material.known`, notebook 02) is preferred; the printout says which one was used. Then spglib
# "symmetrizes" it: relaxed coordinates are symmetric only up to a small numerical tolerance,
# and we want the symmetry to be exact for the checks below.
#
# > **Note** Prototype labels name the *starting* structure of a calculation. Relaxation can
# > raise the symmetry (a "wurtzite" nitride may flatten into the centrosymmetric h-BN-like
# > $P6_3/mmc$ structure), so we test the space group in code instead of trusting the label.

# %%
CANDIDATES = {   # name: (prototype label, space group it must have kept, fallback built with ase)
    "rocksalt": ("rocksalt", 225, lambda: bulk("NaCl", "rocksalt", a=5.64)),
    "wurtzite": ("wurtzite", 186, lambda: bulk("ZnO", "wurtzite", a=3.25, c=5.207, u=0.382)),
    "rutile": ("rutile", 136, lambda: crystal(["Ti", "O"], basis=[(0, 0, 0), (0.305, 0.305, 0)],
                                             spacegroup=136, cellpar=[4.594, 4.594, 2.959, 90, 90, 90])),
}


def symmetrized(atoms, symprec=1e-3):
    """Primitive, idealized copy of `atoms` (spglib.standardize_cell); symprec in Å."""
    cell, frac, numbers = spglib.standardize_cell((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers),
                                                  to_primitive=True, symprec=symprec)
    return type(atoms)(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True)


def choose_crystal(prototype, spacegroup, build):
    """Material of `prototype` with space group `spacegroup`: known crystals first (`Material.known`, notebook
    02), then training split first; build() if the dataset has none."""
    matches = [m for m in dataset if m.prototype == prototype and m.spacegroup == spacegroup]
    matches.sort(key=lambda m: (not m.known, m.split != "train"))   # stable order otherwise
    if matches:
        known = "known crystal" if matches[0].known else "substituted: hypothetical"
        return (f"{matches[0].formula} ({matches[0].id}, {matches[0].split}; {known})",
                symmetrized(matches[0].to_ase()))
    atoms = build()
    return f"{atoms.get_chemical_formula(mode='metal', empirical=True)} (built with ase)", symmetrized(atoms)


crystals = {}
for name, (prototype, spacegroup, build) in CANDIDATES.items():
    source, crystals[name] = choose_crystal(prototype, spacegroup, build)
    print(f"{name:<9s} {source}")

# %% [markdown]
# spglib also tells us each atom's **site symmetry**: the point group of operations (rotations,
# mirrors, inversion) that map the crystal onto itself *and* leave that atom where it is. We keep
# the Cartesian 3×3 matrices $Q$ of that group for every atom.
#
# **Reading the symbols.** spglib prints the *oriented* site-symmetry symbol of the International
# Tables: one position per symmetry direction of the crystal's lattice (for tetragonal and hexagonal
# cells: the main axis c, then the in-plane axes a, then the diagonals between them). Each position
# names what acts along that direction — `m` a mirror plane perpendicular to it, `2`, `3`, … a
# rotation axis along it, `-3` a rotoinversion axis, `.` nothing. So
#
# | symbol | meaning |
# |---|---|
# | `m-3m` | the full cubic point group (48 operations, contains inversion): rocksalt sites |
# | `3m.` | a 3-fold axis along c, mirrors ⟂ the a axes (they contain c), nothing along the third direction: wurtzite sites (polar: no inversion) |
# | `m.mm` | in rutile, mirrors ⟂ c and ⟂ each of the two diagonals (listed separately), nothing along a: point group mmm, contains inversion (the metal) |
# | `m.2m` | a mirror ⟂ c, a 2-fold axis along a diagonal, a mirror ⟂ the other diagonal: point group mm2, no inversion (the anion) |
#
# The matrices spglib returns act on *fractional* coordinates, $\mathbf f' = R\,\mathbf f$. With the
# lattice vectors as the rows of `cell`, a Cartesian position is $\mathbf r = \mathrm{cell}^T\mathbf f$,
# so the same operation on Cartesian vectors is $Q = \mathrm{cell}^T\, R\, (\mathrm{cell}^T)^{-1}$
# (change of basis: to fractional, apply R, back to Cartesian) — the line marked below. $Q$ is
# orthogonal (checked below); the integer matrix $R$ in general is not (e.g. in a hexagonal cell).

# %%
def site_symmetry(atoms, symprec=1e-3):
    """spglib dataset and, per atom, the Cartesian matrices Q (n_ops, 3, 3) of its site point group."""
    cell, frac = atoms.cell[:], atoms.get_scaled_positions()
    sym = spglib.get_symmetry_dataset((cell, frac, atoms.numbers), symprec=symprec)
    site_ops = []
    for position in frac:
        moved = position @ sym.rotations.transpose(0, 2, 1) + sym.translations - position  # (n_ops, 3)
        shift = (moved - np.round(moved)) @ cell                                          # Å
        fixed = np.linalg.norm(shift, axis=1) < symprec
        # fractional → Cartesian: Q = cellᵀ R (cellᵀ)⁻¹, since r = cellᵀ f for row lattice vectors
        site_ops.append(np.stack([cell.T @ R @ np.linalg.inv(cell.T) for R in sym.rotations[fixed]]))
    return sym, site_ops


for name, atoms in crystals.items():
    sym, site_ops = site_symmetry(atoms)
    assert all(np.allclose(Q @ Q.T, np.eye(3), atol=1e-6) for ops in site_ops for Q in ops)   # Q orthogonal
    inversion = [any(np.allclose(Q, -np.eye(3), atol=1e-6) for Q in ops) for ops in site_ops]
    print(f"{name:<9s} {sym.international:<8s} (No. {sym.number:3d}), centrosymmetric crystal: "
          f"{any(np.allclose(R, -np.eye(3)) for R in sym.rotations)}")
    for symbol, site, inv in zip(atoms.get_chemical_symbols(), sym.site_symmetry_symbols, inversion):
        print(f"    {symbol:<2s} site symmetry {site:<7s} inversion centre: {inv}")

# %% [markdown]
# ## 3. Scalars (l = 0): one row per atom, one column per channel
#
# We run the three crystals through the network once and keep every stage. The `0e` block of a
# stage is a matrix *atoms × channels*; as a heat map it shows what each atom "looks like" to the
# network at that depth. The output stage is the raw per-atom DoS contribution (before the ReLU
# and the mean over atoms), so its columns are the frequencies of the target grid.
#
# The overall size of the features shrinks from stage to stage, and in the embedding it grows
# with the atomic mass (the input *is* the mass), so the heat maps show each row divided by its
# own largest |value|: the *pattern* across channels is what distinguishes atoms.

# %%
features = {name: node_features(atoms) for name, atoms in crystals.items()}
stage_names = [stage.name for stage in features["rocksalt"]]

row_labels, scalar_rows = [], {stage: [] for stage in stage_names}
for name, stages in features.items():
    row_labels += [f"{name} · {symbol}{i}" for i, symbol in enumerate(crystals[name].get_chemical_symbols())]
    for stage in stages:
        scalar_rows[stage.name].append(split_by_irrep(stage)["0e"][..., 0])      # (n_atoms, mul)
scalars = {stage: torch.cat(rows).numpy() for stage, rows in scalar_rows.items()}  # (n_rows, mul) per stage
crystal_edges = np.cumsum([len(atoms) for atoms in crystals.values()])[:-1] - 0.5

for stage, matrix in scalars.items():
    print(f"{stage:<10s} {matrix.shape[1]:3d} scalar channels, RMS value {np.sqrt(np.mean(matrix ** 2)):.2e}")

# %%
freq_cm1 = np.asarray(meta["freq_cm1"])                     # cm⁻¹, the target grid of the output stage
widths = [scalars[stage].shape[1] for stage in stage_names]
fig, axes = plt.subplots(1, len(stage_names), figsize=(12.5, 4.4), sharey=True,
                         gridspec_kw=dict(width_ratios=widths))
for ax, stage in zip(axes, stage_names):
    matrix = scalars[stage]
    shown = matrix / np.maximum(np.abs(matrix).max(axis=1, keepdims=True), 1e-30)   # each row scaled to max 1
    is_output = stage == "output"
    extent = [freq_cm1[0] - 10, freq_cm1[-1] + 10] if is_output else [-0.5, matrix.shape[1] - 0.5]
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest",
                      extent=extent + [len(matrix) - 0.5, -0.5])
    for edge in crystal_edges:
        ax.axhline(edge, color="0.2", lw=1.2)
    ax.set_title(f"{stage}: {matrix.shape[1]}x0e", fontsize=11)
    ax.set_xlabel(r"frequency $\omega$ (cm$^{-1}$)" if is_output else "channel")
axes[0].set_yticks(range(len(row_labels)), row_labels, fontsize=9)
fig.colorbar(image, ax=axes, shrink=0.8, pad=0.015, label="feature / max |feature| of its row")
fig.suptitle("Scalar (0e) features per atom, stage by stage", x=0.45)
save_figure(fig, "04_scalar_heatmaps")
plt.show()

# %% [markdown]
# Read it from left to right:
#
# - **embedding**: a row depends only on the element (the input is a one-hot vector), so all
#   atoms of one element look alike, whatever their surroundings;
# - **layer 1, layer 2**: each atom has mixed in its neighbours within $r_\text{max}$, so the same
#   element can look different in two crystals — but atoms that symmetry maps onto each other
#   (the two cations of wurtzite, the four anions of rutile, …) still share *identical* rows;
# - **output**: each atom's contribution to the DoS; heavy atoms typically put their weight at low ω.
#
# Both statements are exact and can be checked. spglib's `equivalent_atoms` labels the
# symmetry-equivalent atoms.

# %%
for name, atoms in crystals.items():
    sym, _ = site_symmetry(atoms)
    for stage in features[name]:
        h0 = split_by_irrep(stage)["0e"][..., 0]                          # (n_atoms, mul)
        scale = h0.abs().max()
        for a, b in enumerate(sym.equivalent_atoms):                      # b: representative of a's orbit
            assert (h0[a] - h0[b]).abs().max() <= 1e-5 * scale, (name, stage.name, a, b)
    embedding = split_by_irrep(features[name][0])["0e"][..., 0]
    for z in set(atoms.numbers):
        same = embedding[torch.as_tensor(atoms.numbers == z)]
        assert torch.allclose(same, same[:1].expand_as(same), rtol=1e-6, atol=1e-12)   # one embedding per element
    print(f"{name:<9s} {len(set(sym.equivalent_atoms))} orbit(s) of equivalent atoms: identical scalars at every stage")

# %% [markdown]
# ## 4. Vectors (l = 1): what symmetry allows
#
# After one convolution, the `1o` part of an atom's features is a learned, weighted sum of the
# directions to its neighbours,
#
# $$
# \mathbf v_a^{(c)} \;\propto\; \sum_{b \in \partial(a)} w^{(c)}\big(|\mathbf r_{ab}|, \text{species}\big)\; \hat{\mathbf r}_{ab}
# \qquad (\text{one vector per channel } c),
# $$
#
# a kind of "local dipole": it measures how lopsided the neighbourhood of $a$ is. Deeper layers
# build more such vectors (and, from two vectors, pseudovectors `1e`), but the rule that
# governs them is the same. Let $Q$ be an operation of the atom's **site symmetry group** $G_a$.
# $Q$ maps the crystal onto itself and $a$ onto itself, and the network is equivariant, so
#
# $$
# \mathbf v_a = D(Q)\,\mathbf v_a \quad \forall\, Q \in G_a
# \qquad\Longrightarrow\qquad
# \mathbf v_a = P_a \mathbf v_a, \qquad P_a = \frac{1}{|G_a|}\sum_{Q\in G_a} D(Q).
# $$
#
# | symbol | meaning |
# |---|---|
# | $G_a$ | site point group of atom a (from spglib, section 2) |
# | $D(Q)$ | Wigner matrix of the irrep: $Q$ for `1o`, $\det(Q)\,Q$ for `1e` |
# | $P_a$ | projector onto the features symmetry allows; $\operatorname{tr}P_a$ = number of allowed components |
#
# This is **Neumann's principle** (a property of a crystal has at least the symmetry of the
# crystal), here applied to the network's hidden features. For an **inversion centre**, $Q = -I$
# and $D^{1o}(-I) = -I$, so $\mathbf v_a = -\mathbf v_a = 0$: a vector feature *must* vanish.
# A pseudovector is not constrained by inversion ($D^{1e}(-I) = +I$), but the mirrors of most
# sites kill it too.

# %%
def allowed_projectors(ops_per_site, irrep):
    """P_a = mean of D_irrep(Q) over each atom's site group: (n_atoms, 2l+1, 2l+1)."""
    return torch.stack([o3.Irrep(irrep).D_from_matrix(torch.as_tensor(ops)).mean(dim=0).float()
                        for ops in ops_per_site])


projectors = {}
for name, atoms in crystals.items():
    sym, site_ops = site_symmetry(atoms)
    projectors[name] = {irrep: allowed_projectors(site_ops, irrep) for irrep in ("1o", "1e")}
    print(f"{name} ({sym.international})")
    for a, symbol in enumerate(atoms.get_chemical_symbols()):
        n_allowed = {irrep: round(float(P[a].trace())) for irrep, P in projectors[name].items()}
        print(f"    {symbol:<2s} {sym.site_symmetry_symbols[a]:<7s} allowed components: "
              f"1o {n_allowed['1o']}, 1e {n_allowed['1e']}")

# %% [markdown]
# Symmetry predicts: no vector at all in rocksalt, one component (along c) on every wurtzite atom,
# one on each rutile anion and none on the rutile metal atoms; no pseudovector anywhere. Now the
# network. For every atom and every `l = 1` block we print the size of the block relative to the
# atom's whole feature vector, $\lVert\mathbf v_a\rVert / \lVert h_a\rVert$ ("~0" below 10⁻⁶), and
# assert that the part symmetry forbids, $(1 - P_a)\mathbf v_a$, is zero to float32 round-off.

# %%
NOISE = 1e-6          # relative size below which a block is float32 round-off, i.e. zero
relative_l1 = {}      # (crystal, stage, irrep) -> (n_atoms,) |v_a| / |h_a|
for name, stages in features.items():
    for stage in stages:
        scale = stage.features.norm(dim=1)                                  # (n_atoms,)
        for irrep, v in split_by_irrep(stage).items():                      # v: (n_atoms, mul, 3)
            if irrep not in projectors[name]:
                continue
            forbidden = v - torch.einsum("aij,acj->aci", projectors[name][irrep], v)
            assert (forbidden.flatten(1).norm(dim=1) <= 1e-5 * scale).all(), (name, stage.name, irrep)
            relative_l1[name, stage.name, irrep] = (v.flatten(1).norm(dim=1) / scale).numpy()

for (name, stage, irrep), rel in relative_l1.items():
    shown = "  ".join(f"{x:.2e}" if x > NOISE else "   ~0   " for x in rel)
    print(f"{name:<9s} {stage:<8s} {irrep}: {shown}")

# %% [markdown]
# The numbers follow the table of allowed components atom by atom. In particular:

# %%
rocksalt_l1 = max(rel.max() for (name, _, _), rel in relative_l1.items() if name == "rocksalt")
wurtzite_1o = max(rel.max() for (name, _, irrep), rel in relative_l1.items() if name == "wurtzite" and irrep == "1o")
print(f"rocksalt, every atom an inversion centre: largest |l=1| / |h| "
      + ("< 1e-6: zero up to float32 round-off" if rocksalt_l1 < NOISE else f"= {rocksalt_l1:.1e}"))
print(f"wurtzite, no inversion centre:            largest |1o|  / |h| = {wurtzite_1o:.1e}")
assert rocksalt_l1 < NOISE < wurtzite_1o

c_axis = torch.as_tensor(crystals["wurtzite"].cell[2], dtype=torch.float32)
c_axis = c_axis / c_axis.norm()
v = split_by_irrep(features["wurtzite"][1])["1o"].flatten(0, 1)              # layer 1, (n_atoms * mul, 3)
v = v[v.norm(dim=1) > 1e-3 * v.norm(dim=1).max()]                           # channels above round-off
sin_angle = torch.linalg.cross(v, c_axis.expand_as(v), dim=1).norm(dim=1) / v.norm(dim=1)
print(f"wurtzite layer-1 vectors: |sin(angle to the c axis)| < 1e-3 for all of them: {bool(sin_angle.max() < 1e-3)}")
assert sin_angle.max() < 1e-3                                              # every channel points along ±c

# %% [markdown]
# ### Drawing the vectors on the atoms
#
# Each panel shows one unit cell (grey lines, Å). Every atom is a grey ring; the coloured dot
# inside grows with $\lVert\mathbf v_a\rVert / \lVert h_a\rVert$ for the `1o` block of that layer,
# and the arrow points along the strongest channel (its length also ∝ the relative size). Rocksalt
# stays empty, wurtzite's arrows all lie on the c axis, and in rutile only the anions carry
# arrows, opposite for each pair related by the inversion centre on the metal atom between them.

# %%
def strongest_channel(v):
    """(n_atoms, mul, 3) -> (n_atoms, 3): each atom's channel vector of largest norm."""
    return v[torch.arange(len(v)), v.norm(dim=-1).argmax(dim=1)]


def draw_vectors(ax, atoms, v, rel, vmax, arrow_A=2.0):
    """Atoms of one cell (Å) with dots ∝ rel = |v_a|/|h_a| and arrows along each atom's strongest channel."""
    pos, arrows = atoms.positions, strongest_channel(v).numpy()
    arrows = arrows / np.maximum(np.linalg.norm(arrows, axis=1, keepdims=True), 1e-30) * (arrow_A * rel / vmax)[:, None]
    draw_cell(ax, atoms.cell[:], color="0.7")      # utils.plot: the 12 cell edges (Å)
    ax.scatter(*pos.T, s=260, facecolors="none", edgecolors="0.55", linewidths=1.0, depthshade=False)
    dots = ax.scatter(*pos.T, s=20 + 200 * rel / vmax, c=rel, cmap="viridis", vmin=0, vmax=vmax, depthshade=False)
    ax.quiver(*pos.T, *arrows.T, color=PALETTE["prediction"], lw=1.6, arrow_length_ratio=0.3)
    for p, symbol in zip(pos, atoms.get_chemical_symbols()):
        ax.text(*(p + 0.35), symbol, fontsize=9)
    corners = np.indices((2, 2, 2)).reshape(3, -1).T @ atoms.cell[:]
    ax.set(xlabel="x (Å)", ylabel="y (Å)", zlabel="z (Å)", box_aspect=np.ptp(np.vstack([pos, corners]), axis=0))
    return dots


# %%
vmax = max(rel.max() for (_, _, irrep), rel in relative_l1.items() if irrep == "1o")
layers_with_vectors = [stage for stage in stage_names if ("rocksalt", stage, "1o") in relative_l1]
fig = plt.figure(figsize=(12.5, 4.3 * len(layers_with_vectors)))
for row, stage_name in enumerate(layers_with_vectors):
    for col, (name, atoms) in enumerate(crystals.items()):
        ax = fig.add_subplot(len(layers_with_vectors), 3, 3 * row + col + 1, projection="3d")
        stage = next(s for s in features[name] if s.name == stage_name)
        dots = draw_vectors(ax, atoms, split_by_irrep(stage)["1o"], relative_l1[name, stage_name, "1o"], vmax)
        ax.set_title(f"{name}, {stage_name}: |1o| / |h|", fontsize=10)
fig.subplots_adjust(right=0.87, wspace=0.12)
fig.colorbar(dots, cax=fig.add_axes([0.93, 0.3, 0.012, 0.4]),
             label=r"$\|\mathbf{v}_a\| \,/\, \|h_a\|$ (dimensionless)")
save_figure(fig, "04_vector_features_3d")
plt.show()

# %% [markdown]
# ## 5. Equivariance of the intermediate features
#
# Section 4 leaned on equivariance; here is the direct test. Transform the crystal by an
# orthogonal $Q$ (positions and lattice vectors, $\mathbf r \to Q\mathbf r$) and run it again. Every
# stage must satisfy
#
# $$
# h_a^{(k)}\big(Q\cdot\text{crystal}\big) = D^{(k)}(Q)\; h_a^{(k)}(\text{crystal}),
# $$
#
# with $D^{(k)}$ = `stage.irreps.D_from_matrix(Q)`, block diagonal: $1$ on `0e` (scalars do not
# change), $Q$ on `1o` (vectors turn with the crystal), $\det(Q)\,Q$ on `1e`. We use wurtzite,
# whose vectors are not zero, and one proper and one improper $Q$.

# %%
def transformed(atoms, Q):
    """Copy of `atoms` with positions and cell rotated by the 3×3 matrix Q (fractional coordinates kept)."""
    moved = atoms.copy()
    moved.set_cell(atoms.cell[:] @ np.asarray(Q, dtype=float).T, scale_atoms=True)
    return moved


torch.manual_seed(4)
rotation = o3.rand_matrix()
atoms = crystals["wurtzite"]
for label, Q in [("rotation", rotation), ("rotation + inversion", -rotation)]:
    print(f"{label}:")
    for before, after in zip(node_features(atoms), node_features(transformed(atoms, Q))):
        expected = before.features @ before.irreps.D_from_matrix(Q).T           # D(Q) h, (n_atoms, dim)
        for (mul, ir), block in zip(before.irreps, before.irreps.slices()):
            h, h_moved = before.features[:, block], after.features[:, block]
            scale = h.abs().max()
            if scale < NOISE * before.features.abs().max():                   # a block that symmetry zeroes
                assert h_moved.abs().max() < NOISE * before.features.abs().max()
                print(f"    {before.name:<9s} {mul}x{ir}: zero before and after")
                continue
            changed = (h_moved - h).abs().max() / scale
            error = (h_moved - expected[:, block]).abs().max() / scale
            assert error < 1e-4, (label, before.name, ir, error)
            print(f"    {before.name:<9s} {mul}x{ir}: changed by {changed:.3f} of its size, |h' - D h| < 1e-4 of it ✓")

# %% [markdown]
# Scalars change by 0.000 (they are invariant); the `1o` blocks change by a sizeable fraction of their size
# and are reproduced by $D$ to float32 round-off; the `1e` block is zero, as section 4 predicted. Let us
# also look at one vector: the strongest channel of the first atom, before and after.

# %%
v_before = split_by_irrep(node_features(atoms)[1])["1o"][0]                        # atom 0, (mul, 3)
channel = int(v_before.norm(dim=1).argmax())                                        # its strongest channel
v_before = v_before[channel]
v_after = split_by_irrep(node_features(transformed(atoms, rotation))[1])["1o"][0, channel]
unit = lambda v: v / v.norm()
shown = lambda v: np.round(unit(v).numpy(), 3) + 0.0                        # + 0.0 turns -0.0 into 0.0
print("direction before:        ", shown(v_before))
print("R · direction before:    ", shown(rotation @ v_before))
print("direction after rotating:", shown(v_after))
assert torch.allclose(unit(v_after), unit(rotation @ v_before), atol=1e-4)

# %% [markdown]
# ## 6. An embedding map of the whole dataset
#
# What does the network's last hidden layer "think" a crystal is? Average the scalar
# features of the last hidden layer over the atoms of each crystal (mean pooling, as the output
# layer does) and we get one invariant fingerprint per material:
#
# $$
# \bar h_{\text{crystal}} = \frac1N \sum_{a=1}^{N} h_a^{(L)}\big|_{0e} \in \mathbb R^{\text{mul}} .
# $$
#
# | symbol | meaning |
# |---|---|
# | $N$ | atoms in the unit cell |
# | $h_a^{(L)}\vert_{0e}$ | the `0e` block of the last hidden layer (L = 2 here: 32 numbers) |
# | $\bar h$ | the pooled fingerprint; it is rotation invariant and does not depend on the cell chosen |
#
# To see all materials at once we project the fingerprints onto their two leading principal
# components (PCA, with numpy's SVD).

# %%
graphs = [structure_to_graph(m.to_ase(), r_max=R_MAX) for m in dataset]
last_hidden = f"layer {model.config.layers}"
pooled = []
with torch.no_grad():
    for batch in DataLoader(graphs, batch_size=64, shuffle=False):
        _, stages = model(batch, return_features=True)
        stage = next(s for s in stages if s.name == last_hidden)
        h0 = split_by_irrep(stage)["0e"][..., 0]                                          # (n_atoms, mul)
        pooled.append(scatter(h0, batch.batch, dim=0, dim_size=batch.num_graphs, reduce="mean"))
pooled = torch.cat(pooled).numpy()                                                        # (n_materials, mul)
print(f"pooled {last_hidden} scalars: {pooled.shape[0]} materials × {pooled.shape[1]} channels")

# %%
def pca(X, n_components=2):
    """Principal components of the rows of X via SVD: (scores (n, k), explained variance ratio (k,))."""
    centred = X - X.mean(axis=0)
    _, S, Vt = np.linalg.svd(centred, full_matrices=False)
    Vt = Vt * np.sign(Vt[np.arange(len(Vt)), np.abs(Vt).argmax(axis=1)])[:, None]   # fix the sign convention
    return centred @ Vt[:n_components].T, (S ** 2 / np.sum(S ** 2))[:n_components]


scores, explained = pca(pooled)
max_freq = dataset.arrays["max_freq_cm1"].astype(float)                                 # cm⁻¹
mean_mass = np.array([atomic_masses[m.numbers].mean() for m in dataset])                # u
prototypes = np.array([m.prototype for m in dataset])
print(f"PC 1 explains {explained[0]:.1%}, PC 2 {explained[1]:.1%} of the variance")
for label, values in [("max frequency", max_freq), ("mean atomic mass", mean_mass)]:
    rho = [spearmanr(scores[:, k], values).statistic for k in range(2)]
    print(f"Spearman correlation with {label:<17s} PC 1 {rho[0]:+.2f}, PC 2 {rho[1]:+.2f}")

# %%
counts = {p: int((prototypes == p).sum()) for p in sorted(set(prototypes))}
top = sorted(counts, key=lambda p: (-counts[p], p))[:9]                    # the 9 most common prototypes
fig = plt.figure(figsize=(15, 5.6), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1.0, 1.9])
small = left.subplots(3, 3, sharex=True, sharey=True)
for ax, p, color in zip(small.flat, top, plt.cm.tab10.colors):           # one small panel per prototype:
    ax.scatter(*scores.T, s=3, color="0.85", rasterized=True)           # all materials in grey,
    ax.scatter(*scores[prototypes == p].T, s=6, color=color)            # this prototype on top
    ax.set_title(f"{p} ({counts[p]})", fontsize=9)
    ax.tick_params(labelsize=7)
left.supxlabel("PC 1 (arb. u.)", fontsize=9)
left.supylabel("PC 2 (arb. u.)", fontsize=9)
left.suptitle("by prototype (9 most common; grey: all)", fontsize=11)
axes = right.subplots(1, 2, sharex=True, sharey=True)
panels = [(axes[0], mean_mass, "mean atomic mass", "u", "cividis", "log"),
          (axes[1], max_freq, r"maximum frequency $\omega_\mathrm{max}$", r"cm$^{-1}$", "magma", "linear")]
for ax, values, label, units, cmap, scale in panels:
    order = np.argsort(values)                                          # draw the largest values on top
    points = ax.scatter(*scores[order].T, c=values[order], s=16, cmap=cmap, norm=scale)
    right.colorbar(points, ax=ax, label=f"{label} ({units})", pad=0.02)
    ax.set_title(f"coloured by {label}")
    ax.set_xlabel(f"PC 1 ({explained[0]:.0%} of variance, arb. u.)")
axes[0].set_ylabel(f"PC 2 ({explained[1]:.0%} of variance, arb. u.)")
fig.suptitle(f"Pooled {last_hidden} scalars of all {len(dataset)} materials, projected by PCA")
save_figure(fig, "04_embedding_map")
plt.show()

# %% [markdown]
# A picture can fool the eye, so let us ask the full 32-dimensional fingerprints (not just the
# 2D projection) two questions: is a material's **nearest neighbour** in fingerprint space close
# in maximum frequency, and does it share the prototype — compared with two materials drawn at
# random from the dataset?

# %%
def nearest_neighbours(X):
    """Index of each row's nearest other row (Euclidean distance)."""
    distances = cdist(X, X)                                                 # (n, n)
    np.fill_diagonal(distances, np.inf)
    return distances.argmin(axis=1)


log_ratio = np.abs(np.log(max_freq[:, None] / max_freq[None]))              # (n, n) |ln(ω_i / ω_j)|
off_diagonal = ~np.eye(len(dataset), dtype=bool)
random_gap = np.median(log_ratio[off_diagonal])
random_same = np.mean((prototypes[:, None] == prototypes[None])[off_diagonal])


def neighbour_agreement(X):
    """(median |ln ω_max ratio|, fraction with the same prototype) for each material's nearest neighbour."""
    j = nearest_neighbours(X)
    return np.median(log_ratio[np.arange(len(j)), j]), np.mean(prototypes == prototypes[j])


gap, same = neighbour_agreement(pooled)
print(f"median |ln(ω_max ratio)|: nearest neighbour {gap:.2f}, random pair {random_gap:.2f}")
print(f"same prototype:           nearest neighbour {same:.0%}, random pair {random_same:.0%}")
assert gap < random_gap and same > random_same

# %%
rho_pc1 = max(abs(spearmanr(scores[:, 0], values).statistic) for values in (max_freq, mean_mass))
print(f"strongest rank correlation of PC 1 with ω_max or mean mass: |ρ| = {rho_pc1:.2f}")
print(f"the 2D map shows {explained.sum():.0%} of the variance of the fingerprints")
assert rho_pc1 > 0.5

# %% [markdown]
# **What clusters?** The map is organised first by **frequency scale**: PC 1 follows the mean
# atomic mass and, with the opposite sign, the maximum frequency (rank correlations above), and
# nearest neighbours in fingerprint space have closer $\omega_\text{max}$ than random pairs.
# That is what the task rewards: a max-normalized DoS on a fixed 0–1000 cm⁻¹ grid is decided
# largely by where the spectrum ends, $\omega_\text{max} \sim \sqrt{k/m}$ — light, stiff
# crystals on one side, heavy, soft ones on the other. Structure is the second signal: a
# material's nearest neighbour shares its prototype more often than chance, but a
# prototype with varied chemistry spreads along the frequency axis rather than forming one tight
# island. The network's input *is* the mass (the mass-weighted one-hot encoding of notebook 02),
# but nobody told it about prototypes or ω_max, nor that mass matters through √(k/m) — it found
# these axes because they help predict g(ω).

# %% [markdown]
# > **Warning** PCA keeps only the directions of largest variance; a 2D map always hides the
# > rest (the share it shows is printed above). Base claims on statistics of the full fingerprints,
# > like the nearest-neighbour test, not on the picture alone.

# %% [markdown]
# ## Summary
#
# - `model(graph, return_features=True)` exposes every stage; `Irreps.slices()` plus a reshape to
#   `(n_atoms, mul, 2l+1)` splits a stage into its `0e`, `1o`, `1e` blocks.
# - **Scalars** (`0e`): the embedding depends only on the element (and scales with its mass);
#   after message passing each atom's channels encode its environment. Symmetry-equivalent atoms
#   carry identical scalars at every stage.
# - **Vectors** (`1o`) are learned, weighted sums of bond directions: local "dipoles". By
#   Neumann's principle a feature must be invariant under the atom's site group,
#   $\mathbf v_a = P_a\mathbf v_a$; at an **inversion centre** every `1o` feature vanishes (rocksalt:
#   below 10⁻⁶ of the features, i.e. float32 round-off), while polar sites carry vectors along their polar axis
#   (wurtzite: along c; rutile: only the anions, although the crystal is centrosymmetric).
# - Rotating the crystal leaves scalars unchanged and turns `1o` vectors by $Q$
#   (`irreps.D_from_matrix(Q)`), to float32 round-off (< 10⁻⁴) — with inversion, `1o` flips and `1e` does not.
# - Mean-pooled last-layer scalars give a rotation-invariant fingerprint per crystal; a PCA map of
#   the dataset is organised mainly by frequency scale (mass, stiffness), secondarily by structure.

# %% [markdown]
# ## Exercises
#
# **1. No inversion centre, still no vector.** Zincblende GaAs (`bulk("GaAs", "zincblende", a=5.65)`)
# has no inversion centre at any site. Predict its `1o` features with `site_symmetry` and
# `allowed_projectors`, then check them. What does this say about "inversion centre ⇒ no vector"?
#
# <details><summary>Solution</summary>
#
# Each atom sits at the centre of a regular tetrahedron of neighbours (site group $\bar 43m$). No
# direction is left unchanged by all its operations (the four bond vectors sum to zero), so
# `tr P = 0` and the `1o` features vanish (~10⁻¹³). An inversion centre is *sufficient* for a
# vanishing vector, not necessary: what matters is whether the site group is **polar**.
#
# ```python
# gaas = bulk("GaAs", "zincblende", a=5.65)
# _, ops = site_symmetry(gaas)
# print("allowed 1o components:", [round(float(P.trace())) for P in allowed_projectors(ops, "1o")])
# for stage in node_features(gaas)[1:3]:
#     v = split_by_irrep(stage)["1o"]
#     print(stage.name, (v.flatten(1).norm(dim=1) / stage.features.norm(dim=1)).numpy())
# ```
# </details>
#
# **2. Make rocksalt polar.** Shift atom 0 of the rocksalt crystal by δ = 0.01 … 0.1 Å along z (a
# frozen polar phonon, as in a ferroelectric). How do the size and direction of the layer-1 `1o`
# features depend on δ?
#
# <details><summary>Solution</summary>
#
# The vector appears along ±z and grows linearly with δ for small δ (doubling δ doubles it): the
# network's vector features respond to a polar displacement like a dipole moment. (At δ = 0 the
# "direction" is that of round-off noise.)
#
# ```python
# for delta in [0.0, 0.01, 0.02, 0.05, 0.1]:
#     distorted = crystals["rocksalt"].copy()
#     distorted.positions[0, 2] += delta                                  # Å
#     stage = node_features(distorted)[1]                                 # layer 1
#     v = split_by_irrep(stage)["1o"]
#     rel = (v.flatten(1).norm(dim=1) / stage.features.norm(dim=1)).max()
#     print(f"δ = {delta:.2f} Å: |1o| / |h| = {rel:.2e}, direction {shown(strongest_channel(v)[0])}")
# ```
# </details>
#
# **3. Parity.** Invert the wurtzite crystal ($Q = -I$). Which blocks of which stages keep their
# values, which flip sign, and does the predicted DoS change?
#
# <details><summary>Solution</summary>
#
# `0e` (all stages, including the output and hence the DoS) and `1e` (zero here anyway) are
# unchanged, `1o` flips:
# $D^{l,p}(-I) = p\,I$ with $p = -1$ for `1o` and $+1$ for `0e` and `1e`.
#
# ```python
# wurtzite = crystals["wurtzite"]
# for before, after in zip(node_features(wurtzite), node_features(transformed(wurtzite, -torch.eye(3)))):
#     for irrep, h in split_by_irrep(before).items():
#         h_inv = split_by_irrep(after)[irrep]
#         print(f"{before.name:<9s} {irrep}: same {torch.allclose(h_inv, h, atol=1e-6)}, "
#               f"flipped {torch.allclose(h_inv, -h, atol=1e-6) and bool(h.abs().max() > 1e-6)}")
# ```
# </details>
#
# **4. The cell does not matter.** Compute the features of a 2 × 2 × 1 supercell of wurtzite
# (`atoms.repeat((2, 2, 1))`) and compare them atom by atom with those of the unit cell. Why is
# this needed for the fingerprint of section 6 to make sense?
#
# <details><summary>Solution</summary>
#
# `repeat` lists the 4 atoms of the cell 4 times, and every copy has the same features as the
# original to ~10⁻⁷: each atom sees the same infinite periodic environment, whichever cell we
# write down. The mean over atoms is then the same for any cell, so the fingerprint (and the DoS)
# belongs to the crystal, not to a choice of cell.
#
# ```python
# cell_stages = node_features(wurtzite)
# super_stages = node_features(wurtzite.repeat((2, 2, 1)))                 # 16 atoms
# for small, big in zip(cell_stages, super_stages):
#     copies = big.features.reshape(4, len(wurtzite), -1)                  # (copy, atom, dim)
#     err = (copies - small.features).abs().max() / small.features.abs().max()
#     print(f"{small.name:<9s} max relative difference {err:.1e}")
# ```
# </details>
#
# **5. Which depth knows the frequency scale?** Repeat the nearest-neighbour test of section 6 with
# the pooled scalars of every stage (embedding, layer 1, layer 2, output). Where is the ω_max gap
# smallest? Why can the embedding already do reasonably well, and what can it not know?
#
# <details><summary>Solution</summary>
#
# The embedding sees only the composition (and the masses), which already says a lot about
# $\omega_\text{max} \sim \sqrt{k/m}$ — but it cannot tell two structures of the same composition
# apart, nor see bond lengths, i.e. stiffness. The message-passing layers add both, and with the
# first network of the shipped ensemble the gap is usually smallest for the last hidden layer.
#
# ```python
# def pooled_scalars(stage_name):
#     out = []
#     with torch.no_grad():
#         for batch in DataLoader(graphs, batch_size=64):
#             _, stages = model(batch, return_features=True)
#             h0 = split_by_irrep(next(s for s in stages if s.name == stage_name))["0e"][..., 0]
#             out.append(scatter(h0, batch.batch, dim=0, dim_size=batch.num_graphs, reduce="mean"))
#     return torch.cat(out).numpy()
#
# for stage_name in stage_names:
#     gap, same = neighbour_agreement(pooled_scalars(stage_name))
#     print(f"{stage_name:<9s} nearest-neighbour ω_max gap {gap:.2f}, same prototype {same:.0%}")
# ```
# </details>
