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
# - why a phonon DoS predictor should respect rotations, inversion and translations, and what
#   "equivariant" and "invariant" mean;
# - how e3nn labels every feature with an **irrep** such as `118x0e`, `1o` or `2e`, and what the
#   parity letter `e`/`o` means (a vector is `1o`, a cross product is `1e`);
# - how **spherical harmonics** turn an edge vector into features of order l = 0, 1, 2, and how to
#   check Y(Rr) = D(R) Y(r) numerically;
# - how **tensor products** combine irreps, and the selection rules that decide which outputs exist;
# - how to test a function for equivariance (`e3nn.util.test.assert_equivariant`), and why an
#   equivariant network needs no rotation augmentation.
#
# **Time**: runs in 15–25 s on 2 CPU cores (FAST and full alike); reading time about 35 min.

# %% tags=["nbval-ignore-output"]
# %matplotlib inline
# (the line above shows figures inline even where MPLBACKEND is set, e.g. in headless runs)
import matplotlib.pyplot as plt
import numpy as np
import torch
from ase.data import atomic_masses, atomic_numbers
from e3nn import o3
from e3nn.util.test import assert_equivariant

import utils
from utils.plot import PALETTE, save_figure

info = utils.setup(seed=0)
FAST = info["fast"]  # FAST=1 only coarsens the sphere grid of one figure; every printed number is the same

# %% [markdown]
# ## 1. Why symmetry?
#
# The phonon density of states g(ω) is a property of the crystal, not of the frame in which we
# happen to write down its atomic coordinates. Rotate the crystal, mirror it through a point, or
# shift it, and g(ω) stays exactly the same:
#
# $$
# g\big(\omega;\ \{Q\,\mathbf r_a + \mathbf t\}\big) = g\big(\omega;\ \{\mathbf r_a\}\big)
# \qquad \text{for all } Q \in O(3),\ \mathbf t \in \mathbb R^3 .
# $$
#
# | symbol | meaning |
# |---|---|
# | $\mathbf r_a$ | position of atom a (Å) |
# | $Q$ | an orthogonal 3×3 matrix: a rotation (det Q = +1) or a rotation combined with inversion (det Q = −1) |
# | $O(3)$ | the group of all such matrices; together with translations $\mathbf t$ (Å) it forms E(3) |
#
# The coordinates themselves are *not* invariant: every one of the 3N numbers changes under a
# rotation. Only the relative geometry (distances, angles) survives:

# %%
n_atoms = 6
pos = 1.5 * torch.randn(n_atoms, 3)          # (n_atoms, 3): a small point cloud, Å
Q = o3.rand_matrix()                         # (3, 3): a random rotation
t = torch.tensor([2.0, -1.0, 0.5])           # a translation, Å
pos_moved = pos @ Q.T + t                    # the same "crystal", written in another frame

coord_change = (pos_moved - pos).abs().max()
dist_change = (torch.cdist(pos_moved, pos_moved) - torch.cdist(pos, pos)).abs().max()
print(f"largest change of a coordinate:            {coord_change:.3f} Å")
print(f"largest change of an interatomic distance: {dist_change:.3f} Å")
assert coord_change > 0.5 and dist_change < 1e-4

# %% [markdown]
# A network that reads raw coordinates has to *learn* that all these frames describe one crystal.
# There are two ways to get there:
#
# | | data augmentation | equivariant network (e3nn) |
# |---|---|---|
# | how | show each crystal in many random orientations | build every layer from operations that commute with rotations, inversion and translations |
# | guarantee | approximate, and only near the orientations seen | exact (up to float round-off), for *any* weights, trained or not |
# | cost | more data and training time per crystal | none at training time; a smaller, constrained space of functions |
#
# Phonon data are expensive: the slides count on **~10³** training materials (the paper used about
# 1,500 crystals with DFPT phonons). Spending them on learning what a rotation is would be wasteful,
# so the series uses e3nn, which is **equivariant by construction**:
#
# $$
# f\big(D_\text{in}(Q)\,x\big) = D_\text{out}(Q)\, f(x).
# $$
#
# Here $x$ is the input, $f$ the network, and $D_\text{in}(Q)$, $D_\text{out}(Q)$ the matrices that
# say how input and output change under $Q$. An **invariant** output such as the DoS is the special
# case $D_\text{out}(Q) = 1$.
#
# > **Note** Inside the network the features are *equivariant* (e.g. vectors along bonds rotate with
# > the crystal); only the last layer reduces them to the *invariant* scalars of g(ω).

# %% [markdown]
# ## 2. Irreps: the data types of e3nn
#
# Every feature in e3nn carries a label that says how it transforms: an **irreducible
# representation** (irrep) of O(3), written `lp`. For a proper rotation $R$ (det R = +1) and the
# inversion $-I$:
#
# $$
# D^{l,p}(R) = D^l(R), \qquad D^{l,p}(-R) = p\, D^l(R).
# $$
#
# | symbol | meaning |
# |---|---|
# | $l = 0, 1, 2, \dots$ | rotation order; the irrep has $2l+1$ components |
# | $p = \pm 1$ | parity, written `e` (even, +1) or `o` (odd, −1): the sign picked up under inversion |
# | $D^l(R)$ | the $(2l+1)\times(2l+1)$ Wigner D-matrix of $R$ (orthogonal) |
#
# The usual suspects: `0e` scalar (mass, energy, a DoS value), `0o` pseudoscalar (handedness),
# `1o` vector (position, bond, force), `1e` pseudovector (angular momentum, $\mathbf a\times\mathbf b$),
# `2e` the traceless symmetric part of a 3×3 tensor (stress, quadrupole).

# %%
for label in ["0e", "0o", "1o", "1e", "2e"]:
    ir = o3.Irrep(label)
    print(f"{label}: l = {ir.l}, parity p = {ir.p:+d}, dimension 2l+1 = {ir.dim}")

# %% [markdown]
# A list of irreps is an `o3.Irreps`. The node input of this series is `118x0e`: 118 scalars, with
# the atomic mass (u) of the atom's element at position Z − 1 and zeros elsewhere (the
# *mass-weighted one-hot*; notebook 02 builds it for whole crystals). Scalars never change, so
# its D-matrix is the identity for every Q:

# %%
irreps_node = o3.Irreps("118x0e")
print(f"{irreps_node}: dim = {irreps_node.dim}, number of irreps = {irreps_node.num_irreps}")

Z_si = atomic_numbers["Si"]
x_si = torch.zeros(irreps_node.dim)          # (118,) mass-weighted one-hot of one Si atom
x_si[Z_si - 1] = float(atomic_masses[Z_si])  # u
print(f"Si (Z = {Z_si}): x[{Z_si - 1}] = {x_si[Z_si - 1]:.3f} u, {int((x_si != 0).sum())} nonzero entry")

Q = -o3.rand_matrix()                        # a random improper rotation (det Q = -1)
D_node = irreps_node.D_from_matrix(Q)        # (118, 118)
assert torch.allclose(D_node, torch.eye(118), atol=1e-6)
assert torch.equal(D_node @ x_si, x_si)

# %% [markdown]
# For a mix of orders, `Irreps.D_from_matrix` returns a **block-diagonal** matrix: each irrep
# transforms on its own, never mixing with the others. In e3nn's basis the `1o` block is the
# rotation matrix itself (components ordered x, y, z).

# %%
irreps = o3.Irreps("0e + 1o + 2e")
R = o3.rand_matrix()                         # (3, 3) random proper rotation
D = irreps.D_from_matrix(R)                  # (9, 9)
print(f"det R = {torch.linalg.det(R):.3f}; D is {tuple(D.shape)}, blocks {[ir.dim for _, ir in irreps]}")

off_block = D.clone()
for block in irreps.slices():
    off_block[block, block] = 0
assert off_block.abs().max() < 1e-6                                        # block diagonal
assert torch.allclose(D @ D.T, torch.eye(irreps.dim), atol=1e-5)           # orthogonal
assert torch.allclose(D[1:4, 1:4], R, atol=1e-5)                           # the 1o block is R

# %%
fig, ax = plt.subplots(figsize=(4.4, 3.6))
im = ax.imshow(D, cmap="RdBu_r", vmin=-1, vmax=1)
for edge in np.cumsum([ir.dim for _, ir in irreps])[:-1] - 0.5:
    ax.axhline(edge, color="0.4", lw=0.8)
    ax.axvline(edge, color="0.4", lw=0.8)
centres = [(s.start + s.stop - 1) / 2 for s in irreps.slices()]
ax.set_xticks(centres, [str(ir) for _, ir in irreps])
ax.set_yticks(centres, [str(ir) for _, ir in irreps])
ax.set_title("Wigner D(R) of 0e + 1o + 2e")
fig.colorbar(im, ax=ax, label="matrix element (dimensionless)")
plt.show()

# %% [markdown]
# ### Parity: vectors and pseudovectors
#
# Inversion $P = -I$ sends every position $\mathbf r \to -\mathbf r$. A vector such as a bond flips
# sign: it is `1o`. A cross product of two vectors does *not* flip,
# $(-\mathbf a)\times(-\mathbf b) = \mathbf a\times\mathbf b$: it is a pseudovector, `1e`. For any
# orthogonal $Q$, $\;Q\mathbf a \times Q\mathbf b = \det(Q)\, Q\,(\mathbf a\times\mathbf b)$, exactly
# what $D^{1,e}$ does.

# %%
P = -torch.eye(3)                            # inversion
for label in ["0e", "0o", "1o", "1e"]:
    print(f"D_{label}(inversion) = diag{o3.Irreps(label).D_from_matrix(P).diagonal().tolist()}")

# %%
a, b = torch.randn(2, 3)                     # two vectors (1o), e.g. two bond vectors, Å
Q = -o3.rand_matrix()                        # improper: a rotation followed by inversion
cross_of_transformed = torch.linalg.cross(Q @ a, Q @ b)
as_1e = o3.Irreps("1e").D_from_matrix(Q) @ torch.linalg.cross(a, b)
as_1o = o3.Irreps("1o").D_from_matrix(Q) @ torch.linalg.cross(a, b)
err_1e = (cross_of_transformed - as_1e).abs().max()
err_1o = (cross_of_transformed - as_1o).abs().max()
print(f"a × b transforms as 1e: max error {err_1e:.3f} Å²;  as 1o: max error {err_1o:.3f} Å²")
assert err_1e < 1e-4 and err_1o > 0.1

# %% [markdown]
# > **Tip** Positions are stored as rows, shape `(n, 3)`. Rotating all of them at once is therefore
# > `pos @ R.T`, and a feature array of shape `(n, irreps.dim)` rotates as `y @ D.T`.
#
# ## 3. Spherical harmonics: edge directions as irreps
#
# A graph network sees its neighbours through edge vectors $\mathbf r_{ab}$. e3nn turns the
# direction $\hat{\mathbf r} = \mathbf r/|\mathbf r|$ into features of every order l with the
# spherical harmonics $Y^l$:
#
# $$
# Y^l(R\,\hat{\mathbf r}) = D^l(R)\, Y^l(\hat{\mathbf r}), \qquad
# Y^l(-\hat{\mathbf r}) = (-1)^l\, Y^l(\hat{\mathbf r}).
# $$
#
# | symbol | meaning |
# |---|---|
# | $Y^l(\hat{\mathbf r})$ | the $2l+1$ real spherical harmonics of order l at direction $\hat{\mathbf r}$ |
# | $(-1)^l$ | their parity: the harmonics up to l = 2 are the irreps `0e + 1o + 2e` |
#
# With `normalization="component"` (the series' choice) each block has squared norm
# $\sum_m (Y^l_m)^2 = 2l+1$ on the unit sphere.

# %%
irreps_sh = o3.Irreps.spherical_harmonics(lmax=2)         # 1x0e+1x1o+1x2e
edge_vec = torch.randn(10, 3)                             # (n_edges, 3): ten edge vectors, Å
Y = o3.spherical_harmonics(irreps_sh, edge_vec, normalize=True, normalization="component")  # (10, 9)
print(f"{irreps_sh} → Y has shape {tuple(Y.shape)}")
for l, block in zip(irreps_sh.ls, irreps_sh.slices()):
    norm2 = Y[:, block].pow(2).sum(dim=1)                 # (n_edges,)
    print(f"l = {l}: mean |Y^l|² = {norm2.mean():.3f}  (2l + 1 = {2 * l + 1})")
    assert torch.allclose(norm2, torch.full_like(norm2, 2 * l + 1), rtol=1e-4)

# %% [markdown]
# Now the key property: rotating the edge and then taking Y gives the same as taking Y and then
# rotating it with D. Same for inversion. In float32 the two sides agree to round-off,
# 10⁻⁷–10⁻⁵; the exact digits depend on the machine, so we only assert an upper bound (10⁻⁴).

# %% tags=["nbval-ignore-output"]
R = o3.rand_matrix()
Y_of_rotated = o3.spherical_harmonics(irreps_sh, edge_vec @ R.T, normalize=True, normalization="component")
rotated_Y = Y @ irreps_sh.D_from_matrix(R).T                 # (n_edges, 9)
Y_of_inverted = o3.spherical_harmonics(irreps_sh, -edge_vec, normalize=True, normalization="component")
inverted_Y = Y @ irreps_sh.D_from_matrix(-torch.eye(3)).T

err_rot = (Y_of_rotated - rotated_Y).abs().max()
err_inv = (Y_of_inverted - inverted_Y).abs().max()
print(f"|Y(R r) - D(R) Y(r)|   max = {err_rot:.1e}")
print(f"|Y(-r)  - D(-I) Y(r)|  max = {err_inv:.1e}")
assert err_rot < 1e-4 and err_inv < 1e-4

# %% [markdown]
# What do they look like? Each lobe below has radius $|Y^l_m(\hat{\mathbf r})|$ in direction
# $\hat{\mathbf r}$, red where $Y^l_m > 0$ and blue where it is negative: one lobe for l = 0, two
# opposite lobes (odd parity) for l = 1, four or a "doughnut" (even parity) for l = 2.
#
# > **Note** e3nn's polar axis is **y**: its m = 0 harmonics are symmetric about y, drawn vertical here.

# %%
n_theta = 24 if FAST else 48
theta, phi = torch.meshgrid(torch.linspace(0, torch.pi, n_theta), torch.linspace(0, 2 * torch.pi, 2 * n_theta),
                            indexing="ij")                  # polar angle from e3nn's y axis, azimuth
unit = torch.stack([theta.sin() * phi.sin(), theta.cos(), theta.sin() * phi.cos()], dim=-1)  # (x, y, z)
fig = plt.figure(figsize=(8.5, 5.2))
for l in range(3):
    Y_grid = o3.spherical_harmonics(l, unit, normalize=True, normalization="component")  # (n_θ, n_φ, 2l+1)
    for i in range(2 * l + 1):
        m = i - l
        ax = fig.add_subplot(3, 5, 5 * l + m + 3, projection="3d")
        value = Y_grid[..., i].numpy()
        xyz = np.abs(value)[..., None] * unit.numpy()
        # plot axes (z, x, y): a cyclic relabelling, so the picture is not mirrored; vertical = e3nn's y
        ax.plot_surface(xyz[..., 2], xyz[..., 0], xyz[..., 1], facecolors=plt.cm.RdBu_r(0.5 + value / 5.0),
                        rstride=1, cstride=1, linewidth=0, antialiased=False, shade=False)
        ax.set(xlim=(-1.7, 1.7), ylim=(-1.7, 1.7), zlim=(-1.7, 1.7), box_aspect=(1, 1, 1))
        ax.set_axis_off()
        ax.set_title(f"$l={l},\\ m={m:+d}$" if m else f"$l={l},\\ m=0$", fontsize=10, pad=-6)
fig.suptitle("Real spherical harmonics $Y^l_m$ (red > 0, blue < 0)", y=0.98)
save_figure(fig, "01_spherical_harmonics")
plt.show()

# %% [markdown]
# ## 4. Tensor products and selection rules
#
# Linear maps can only mix copies of the *same* irrep. To build new features, e3nn multiplies
# irreps with a **tensor product**:
#
# $$
# (x \otimes y)^{(l)}_m = \sum_{m_1, m_2} C^{(l,m)}_{(l_1,m_1),(l_2,m_2)}\; x^{(l_1)}_{m_1}\, y^{(l_2)}_{m_2},
# \qquad |l_1 - l_2| \le l \le l_1 + l_2, \quad p = p_1\, p_2 .
# $$
#
# | symbol | meaning |
# |---|---|
# | $x^{(l_1)}, y^{(l_2)}$ | input irreps of orders $l_1$, $l_2$ and parities $p_1$, $p_2$ |
# | $C$ | Clebsch–Gordan coefficients (e3nn: `o3.wigner_3j`): fixed numbers, no learning |
# | $l, p$ | an output irrep; only those obeying the two **selection rules** exist |
#
# In a network each allowed path $(l_1, l_2 \to l)$ gets a learnable weight. A weight multiplies a
# whole irrep, so it can never break equivariance.

# %%
for left, right in [("1o", "1o"), ("1o", "1e"), ("1o", "2e"), ("2e", "2e"), ("0e", "1o")]:
    products = list(o3.Irrep(left) * o3.Irrep(right))
    print(f"{left} ⊗ {right} = {' + '.join(str(ir) for ir in products)}")

assert o3.Irrep("1o") not in list(o3.Irrep("1o") * o3.Irrep("1o"))       # parity: (-1)(-1) = +1
assert o3.Irrep("3e") not in list(o3.Irrep("1o") * o3.Irrep("1o"))       # triangle: 3 > 1 + 1

# %% [markdown]
# Two vectors give exactly the three things you know from linear algebra: the **dot product**
# (`0e`), the **cross product** (`1e`) and the **traceless symmetric** part of the outer product
# $\mathbf a\mathbf b^\top$ (`2e`). `o3.FullyConnectedTensorProduct` with all path weights set to 1
# makes this concrete; the constants are e3nn's normalization.

# %%
tp = o3.FullyConnectedTensorProduct("1o", "1o", "0e + 1e + 2e", internal_weights=False, shared_weights=True)
print(tp)
a, b = torch.randn(2, 100, 3)                            # 100 pairs of vectors
out = tp(a, b, torch.ones(tp.weight_numel))              # (100, 1 + 3 + 5)

dot = (a * b).sum(dim=1)                                 # (100,)
cross = torch.linalg.cross(a, b)                         # (100, 3)
ratio_dot = out[:, 0] / dot
ratio_cross = (out[:, 1:4] * cross).sum(dim=1) / cross.pow(2).sum(dim=1)
print(f"0e path / (a·b) = {ratio_dot.mean():.3f} (1/√3 = {3 ** -0.5:.3f})")
print(f"1e path / (a×b) = {ratio_cross.mean():.3f} (1/√2 = {2 ** -0.5:.3f})")
assert torch.allclose(out[:, 0], ratio_dot.mean() * dot, atol=1e-4)
assert torch.allclose(out[:, 1:4], ratio_cross.mean() * cross, atol=1e-4)

# %%
outer = a[:, :, None] * b[:, None, :]                    # (100, 3, 3): a bᵀ
sym = (outer + outer.transpose(1, 2)) / 2
traceless = sym - dot[:, None, None] / 3 * torch.eye(3)  # (100, 3, 3), 5 free numbers each
ratio_2e = out[:, 4:].norm(dim=1) / traceless.flatten(1).norm(dim=1)
print(f"|2e path| / |traceless symmetric part of a bᵀ| = {ratio_2e.mean():.3f} ± {ratio_2e.std():.3f}")
assert torch.allclose(ratio_2e, torch.ones(100), atol=1e-4)

# %% [markdown]
# And a forbidden output: a product of two vectors that is itself a vector (`1o`) breaks the
# parity rule. e3nn lets you ask for it, but there is no path, no weight, and the output is
# identically zero. (The one vector-like product of two vectors, the cross product, is `1e`.)

# %%
tp_forbidden = o3.FullyConnectedTensorProduct("1o", "1o", "1o + 0o")
print(tp_forbidden)
out_forbidden = tp_forbidden(a, b)                       # (100, 3 + 1)
print(f"largest |output| = {out_forbidden.abs().max():.3f}")
assert tp_forbidden.weight_numel == 0 and torch.all(out_forbidden == 0)

# %% [markdown]
# ## 5. An equivariant function vs an ordinary one
#
# Now we build a tiny model only out of the parts above and check
# $f\big(D_\text{in}(Q)\,x\big) = D_\text{out}(Q)\, f(x)$. It maps a point cloud to
# `16x0e + 1x1o`: sixteen invariant scalars (a stand-in for the 51 DoS values the real network
# outputs) and one vector. Every step is equivariant, and so is their composition:
#
# 1. positions relative to the centroid, $\mathbf r_a - \bar{\mathbf r}$: translation drops out;
# 2. spherical harmonics of each direction, weighted by the invariant $e^{-|\mathbf r_a|}$ and summed over atoms;
# 3. a tensor product of that `0e + 1o + 2e` descriptor with itself, with random weights.

# %%
class TinyEquivariantModel(torch.nn.Module):
    """Point cloud → `irreps_out` (default 16 invariant scalars + 1 vector), built from e3nn parts.

    Forward: pos (n_atoms, 3) in Å → (irreps_out.dim,) = (19,) by default.
    """

    def __init__(self, irreps_out="16x0e + 1x1o", lmax=2):
        super().__init__()
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)                # 0e + 1o + 2e
        self.irreps_out = o3.Irreps(irreps_out)
        self.tp = o3.FullyConnectedTensorProduct(self.irreps_sh, self.irreps_sh, self.irreps_out)

    def forward(self, pos):
        r = pos - pos.mean(dim=0)                                             # (n, 3), centroid frame
        y = o3.spherical_harmonics(self.irreps_sh, r, normalize=True, normalization="component")  # (n, 9)
        radial = torch.exp(-r.norm(dim=1, keepdim=True))                      # (n, 1), invariant weight
        descriptor = (radial * y).sum(dim=0)                                  # (9,): 0e + 1o + 2e
        return self.tp(descriptor, descriptor)                                # (19,): 16x0e + 1o


torch.manual_seed(0)
model = TinyEquivariantModel()
print(model.tp)

# %% [markdown]
# The competitor is a plain MLP on the (centred) Cartesian coordinates, with the same output
# size. Centring makes it translation invariant too, so only rotations and inversion are at stake.

# %%
torch.manual_seed(0)
mlp = torch.nn.Sequential(torch.nn.Linear(3 * n_atoms, 64), torch.nn.SiLU(), torch.nn.Linear(64, 19))


def mlp_model(pos):
    """Plain MLP: pos (n_atoms, 3) in Å → (19,), read as 16 'scalars' + 1 'vector'."""
    return mlp((pos - pos.mean(dim=0)).reshape(-1))


n_params = {"e3nn model": model.tp.weight_numel, "MLP": sum(p.numel() for p in mlp.parameters())}
print(n_params)

# %% [markdown]
# `e3nn.util.test.assert_equivariant` draws a random rotation, with and without inversion and
# translation, and compares $f(Qx + t)$ with $D_\text{out}(Q) f(x)$. The argument is marked
# `"cartesian_points"`, so it is rotated, inverted *and* translated. Errors of 10⁻⁷–10⁻⁵ are
# float32 round-off (machine dependent); e3nn's default float32 tolerance is 10⁻³.

# %% tags=["nbval-ignore-output"]
errors = assert_equivariant(model, args_in=[pos], irreps_in=["cartesian_points"], irreps_out=[model.irreps_out])
for (parity_k, translated), err in errors.items():
    case = "rotation" + (" + inversion" if parity_k else "") + (" + translation" if translated else "")
    print(f"{case:<35s} max error {err.max():.1e}")

# %%
try:
    assert_equivariant(mlp_model, args_in=[pos], irreps_in=["cartesian_points"], irreps_out=[model.irreps_out])
except AssertionError as exc:
    print("MLP fails:", str(exc).split(": ", 1)[1].splitlines()[0])

# %% [markdown]
# One random rotation could be lucky. Let us measure the relative error
# $\;\lVert f(Qx) - D_\text{out}(Q) f(x)\rVert \,/\, \lVert f(x)\rVert\;$ over 100 random
# orthogonal matrices Q (half of them with inversion) for both functions.

# %%
def equivariance_errors(f, pos, irreps_out, rotations):
    """Relative errors |f(pos Qᵀ) - D_out(Q) f(pos)| / |f(pos)|, one per matrix Q in `rotations` (n, 3, 3)."""
    with torch.no_grad():
        out = f(pos)
        return np.array([((f(pos @ Q.T) - irreps_out.D_from_matrix(Q) @ out).norm() / out.norm()).item()
                         for Q in rotations])


torch.manual_seed(1)
signs = torch.where(torch.rand(100) < 0.5, -1.0, 1.0)                 # inversion for about half of them
rotations = signs[:, None, None] * o3.rand_matrix(100)               # (100, 3, 3), elements of O(3)
err_e3nn = equivariance_errors(model, pos, model.irreps_out, rotations)
err_mlp = equivariance_errors(mlp_model, pos, model.irreps_out, rotations)
assert err_e3nn.max() < 1e-4 and np.median(err_mlp) > 0.1

# %% tags=["nbval-ignore-output"]
print(f"e3nn model: median {np.median(err_e3nn):.1e}, max {err_e3nn.max():.1e}")
print(f"MLP:        median {np.median(err_mlp):.1e}, max {err_mlp.max():.1e}")

# %%
fig, ax = plt.subplots()
bins = np.logspace(-9, 1, 41)
ax.hist(np.clip(err_e3nn, 1e-9, None), bins=bins, color=PALETTE["reference"], alpha=0.85, label="e3nn model")
ax.hist(err_mlp, bins=bins, color=PALETTE["prediction"], alpha=0.85, label="plain MLP")
ax.axvspan(1e-9, 1e-4, color="0.92", zorder=0)
ax.text(2e-9, ax.get_ylim()[1] * 0.95, "float32 round-off\n(< 1e-4 tolerance)", fontsize=9, va="top", color="0.35")
ax.set_xscale("log")
ax.set_xlabel(r"relative equivariance error $\|f(Qx) - D(Q)f(x)\| / \|f(x)\|$")
ax.set_ylabel("number of random Q")
ax.set_title("100 random rotations (half with inversion)")
ax.legend(loc="center")
save_figure(fig, "01_equivariance_error")
plt.show()

# %% [markdown]
# ## 6. Invariant outputs and why no augmentation is needed
#
# The sixteen `0e` outputs play the role of the DoS: they must not change when the point cloud is
# rotated, inverted or translated, $f_\text{0e}(Q\,\mathbf r_a + \mathbf t) = f_\text{0e}(\mathbf r_a)$.
# Here are the first five of them, for the e3nn model and for the MLP:

# %%
Q, t = o3.rand_matrix(), torch.tensor([3.0, -1.0, 2.0])     # a rotation and a translation (Å)
moves = {"original": pos, "rotated": pos @ Q.T, "inverted": -pos, "translated": pos + t,
         "all three": -(pos @ Q.T) + t}
with torch.no_grad():
    for name, f in [("e3nn model", model), ("plain MLP", mlp_model)]:
        print(name)
        scalars = {move: f(p)[:16] for move, p in moves.items()}        # 16 "DoS values" per frame
        for move, s in scalars.items():
            print(f"  {move:>10s}: " + "  ".join(f"{v:+.3f}" for v in s[:5]) + "  ...")
        spread = max((s - scalars["original"]).abs().max() for s in scalars.values())
        print(f"  largest change over the frames: {spread:.3f}")
        if f is model:
            assert spread < 1e-4

# %% [markdown]
# An MLP can only *learn* this invariance, from examples. Seen from one crystal, the problem looks
# like this: the same structure, presented in 100 random orientations, gives the MLP 100 different
# "DoS"; a data-augmented training set must contain enough of these copies to pull them together.
# The e3nn model gives one answer before any training, for any weights.

# %%
with torch.no_grad():
    scalars_e3nn = torch.stack([model(pos @ Q.T)[:16] for Q in rotations])    # (100, 16)
    scalars_mlp = torch.stack([mlp_model(pos @ Q.T)[:16] for Q in rotations])  # (100, 16)


def relative_spread(outputs):
    """Mean std over orientations / root-mean-square output, for outputs (n_orientations, n_channels)."""
    return (outputs.std(dim=0).mean() / outputs.pow(2).mean().sqrt()).item()


print(f"relative spread over 100 orientations: e3nn {relative_spread(scalars_e3nn):.3f}, "
      f"MLP {relative_spread(scalars_mlp):.3f}")
assert relative_spread(scalars_e3nn) < 1e-4 and relative_spread(scalars_mlp) > 0.1

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4), sharey=True)
channels = np.arange(16)
for ax, outputs, name, color in [(axes[0], scalars_e3nn, "e3nn model", PALETTE["reference"]),
                                 (axes[1], scalars_mlp, "plain MLP", PALETTE["prediction"])]:
    for row in outputs.numpy():
        ax.plot(channels, row, color=color, lw=0.8, alpha=0.25)
    ax.axhline(0, color="0.7", lw=0.6, zorder=0)
    ax.set_title(f"{name}: one input, 100 orientations", fontsize=11)
    ax.set_xlabel("output channel (0e scalar index)")
    ax.set_xticks(channels[::3])
axes[0].set_ylabel("output value (arb. units)")
fig.tight_layout()
save_figure(fig, "01_invariance_vs_augmentation")
plt.show()

# %% [markdown]
# On the left, 100 curves lie exactly on top of each other; on the right they fan out. This is
# what "no data augmentation" means in the slides: with e3nn, rotating the training crystals would
# add no information, so every one of the ~10³ materials is spent on learning physics.
#
# > **Tip** The real network of notebook 03 is this same recipe, scaled up: spherical harmonics of
# > periodic edges, tensor products with learned radial weights, gated nonlinearities, and a final
# > reduction to `51x0e`.

# %% [markdown]
# ## Summary
#
# - A phonon DoS is **invariant** under rotations, inversion and translations of the crystal; the
#   features inside the network only need to be **equivariant**: $f(D_\text{in}x) = D_\text{out}f(x)$.
# - e3nn types every feature by irreps `lp`: `118x0e` (the mass-weighted one-hot input) never
#   changes; `1o` vectors rotate with R and flip under inversion; `1e` pseudovectors such as
#   $\mathbf a\times\mathbf b$ do not flip. `Irreps.D_from_matrix` gives the block-diagonal D.
# - **Spherical harmonics** turn edge directions into `0e + 1o + 2e + …` with $Y(R\hat{\mathbf r}) = D(R)Y(\hat{\mathbf r})$.
# - **Tensor products** combine irreps under the selection rules $|l_1-l_2|\le l\le l_1+l_2$,
#   $p = p_1p_2$; `1o ⊗ 1o = 0e + 1e + 2e` is dot product, cross product and traceless symmetric part.
# - A model built from these parts passes `assert_equivariant` to float32 round-off (≤ 10⁻⁵) for any
#   weights; an MLP on coordinates is off by order one and would need rotation augmentation.

# %% [markdown]
# ## Exercises
#
# **1. A pseudoscalar.** The triple product $\mathbf a\cdot(\mathbf b\times\mathbf c)$ of three
# vectors is a scalar under rotations. What happens under inversion, which irrep is it, and which
# tensor product of `1o` with `1e` produces it?
#
# <details><summary>Solution</summary>
#
# Each of the three vectors flips, so the triple product flips: it is `0o`, and
# `1o ⊗ 1e` contains `0o` (p = (−1)(+1) = −1).
#
# ```python
# a, b, c = torch.randn(3, 3)
# triple = lambda a, b, c: torch.dot(a, torch.linalg.cross(b, c))
# assert torch.isclose(triple(-a, -b, -c), -triple(a, b, c))
# print(list(o3.Irrep("1o") * o3.Irrep("1e")))          # [0o, 1o, 2o]
# ```
# </details>
#
# **2. Selection rules by hand.** Predict the irreps in `2e ⊗ 1o` and in `2e ⊗ 2e`, then check with
# e3nn. How many components does each product have, and why does it equal (2l₁+1)(2l₂+1)?
#
# <details><summary>Solution</summary>
#
# `2e ⊗ 1o = 1o + 2o + 3o` (l from 1 to 3, parity (+1)(−1) = −1): 3 + 5 + 7 = 15 = 5 × 3.
# `2e ⊗ 2e = 0e + 1e + 2e + 3e + 4e`: 1 + 3 + 5 + 7 + 9 = 25 = 5 × 5. The tensor product only
# re-arranges the (2l₁+1)(2l₂+1) products $x_{m_1}y_{m_2}$ into irreps.
#
# ```python
# for left, right in [("2e", "1o"), ("2e", "2e")]:
#     products = list(o3.Irrep(left) * o3.Irrep(right))
#     print(left, "⊗", right, "=", products, "dim", sum(ir.dim for ir in products))
# ```
# </details>
#
# **3. Symmetry forbids a vector.** Feed `TinyEquivariantModel` a regular tetrahedron (the corners
# of a cube, alternately). Print its `1o` output. Why must it vanish, whatever the weights?
#
# <details><summary>Solution</summary>
#
# The tetrahedron is unchanged by its symmetry operations Q (a point group), so an equivariant
# output satisfies $v = Qv$ for all of them; no nonzero vector is fixed by every rotation of a
# tetrahedron. The same argument gives selection rules for which features a crystal can carry.
#
# ```python
# tetrahedron = torch.tensor([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])  # Å
# vector = TinyEquivariantModel()(tetrahedron)[16:]
# print(vector)                                          # ~1e-8: zero up to round-off
# assert vector.abs().max() < 1e-5
# ```
# </details>
#
# **4. The price of augmentation.** Make the MLP *approximately* invariant by averaging its 16
# scalars over N random rotations of its input (a "test-time augmentation"). How does the spread
# over orientations shrink with N = 1, 4, 16, 64, and what does it cost?
#
# <details><summary>Solution</summary>
#
# The spread over orientations (standard deviation, averaged over channels) falls as $1/\sqrt N$
# (about 0.26, 0.12, 0.06, 0.03), while the cost grows as N: exact invariance is never reached.
# The e3nn model has it for free, at the cost of one evaluation.
#
# ```python
# def averaged_mlp(pos, n):
#     return torch.stack([mlp_model(pos @ R.T)[:16] for R in o3.rand_matrix(n)]).mean(dim=0)
#
# with torch.no_grad():
#     for n in [1, 4, 16, 64]:
#         outputs = torch.stack([averaged_mlp(pos @ Q.T, n) for Q in rotations[:30]])  # (30, 16)
#         spread = outputs.std(dim=0).mean()
#         print(f"N = {n:2d}: spread {spread:.3f}, spread × √N {spread * n ** 0.5:.3f}")
# ```
# </details>
#
# **5. Count the weights.** `TinyEquivariantModel.tp` has 52 weights. Derive this number from the
# selection rules for `(0e + 1o + 2e) ⊗ (0e + 1o + 2e) → 16x0e + 1x1o`.
#
# <details><summary>Solution</summary>
#
# Paths to `0e`: `0e⊗0e`, `1o⊗1o`, `2e⊗2e` (same l, same parity), each with 1 × 1 × 16 weights: 48.
# Paths to `1o`: `0e⊗1o`, `1o⊗0e`, `1o⊗2e`, `2e⊗1o`, each 1 × 1 × 1: 4. Total 52.
#
# ```python
# for ins in model.tp.instructions:
#     print(model.tp.irreps_in1[ins.i_in1].ir, "⊗", model.tp.irreps_in2[ins.i_in2].ir, "→",
#           model.tp.irreps_out[ins.i_out], ins.path_shape)
# assert model.tp.weight_numel == 52
# ```
# </details>
