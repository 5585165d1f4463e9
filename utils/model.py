"""Periodic E(3)-equivariant network that maps a crystal graph to its phonon DoS.

The architecture is the one of the MRS 2021 tutorial (Andrejevic & Chen) and of Chen et al.,
Adv. Sci. 2021, which builds on e3nn's ``gate_points_2101`` network; here it is written out in
the project so that it reads the *periodic* edges of :func:`utils.graphs.structure_to_graph`
(e3nn's ``Network`` builds a non-periodic radius graph internally):

1. **Embedding.** ``x`` (mass-weighted one-hot, ``118x0e``) and ``node_attr`` (occupancy
   one-hot) both go through the same ``Linear(118, em_dim)`` + ReLU → ``em_dim x 0e``.
2. **Edges.** Each edge vector r (Å) gives spherical harmonics Y(r̂) up to ``lmax`` (the edge
   attributes, multiplied by a smooth cutoff that goes from 1 at r_max/2 to 0 at r_max) and
   ``num_basis`` Gaussians of |r| (the input of the radial networks).
3. **Gated convolutions** (``layers`` times): :class:`Convolution` followed by an
   ``e3nn.nn.Gate``; hidden irreps ``mul x l p`` for l ≤ lmax and both parities, keeping only
   the irreps the tensor product can reach.
4. **Output.** A last convolution to ``out_dim x 0e`` per atom → ReLU → mean over the atoms of
   each crystal → divide by the crystal's maximum (non-negative output, max = 1).

Example::

    >>> from ase.build import bulk
    >>> from utils.graphs import structure_to_graph
    >>> graph = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))
    >>> model = PeriodicNetwork(ModelConfig(em_dim=16, mul=4, num_neighbors=18.0))
    >>> model(graph).shape   # (n_crystals, out_dim)
    torch.Size([1, 51])
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, NamedTuple

import torch
import torch.fx
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet, Gate
from torch import nn
from torch_geometric.utils import scatter

__all__ = [
    "ModelConfig",
    "AttributeIndex",
    "AttributeTensorProduct",
    "Convolution",
    "GatedConvolution",
    "NodeFeatures",
    "PeriodicNetwork",
    "EnsembleNetwork",
    "smooth_cutoff",
    "tp_path_exists",
    "count_parameters",
    "remove_dead_code",
]

NORMALIZATION_EPS = 1e-8  # floor of the per-crystal maximum, so an all-zero output stays 0, not NaN


@dataclasses.dataclass
class ModelConfig:
    """All hyper-parameters of :class:`PeriodicNetwork` (JSON-friendly via ``to_dict``).

    Attributes:
        in_dim: length of the node input vectors (118 elements).
        em_dim: width of the scalar embedding of ``x`` and ``node_attr``.
        out_dim: number of DoS grid points predicted (51 on the coarse 0–1000 cm⁻¹ grid).
        mul: multiplicity of each hidden irrep (``mul x 0e + mul x 0o + mul x 1o + ...``).
        lmax: highest angular momentum of the spherical harmonics and hidden irreps.
        layers: number of gated convolutions (a final convolution is added on top).
        r_max: cutoff radius, Å; should equal the ``r_max`` the graphs were built with.
        num_basis: number of Gaussian radial basis functions on [0, r_max].
        radial_layers: hidden layers of the radial networks (edge length → tensor-product weights).
        radial_neurons: width of those hidden layers.
        num_neighbors: z, the mean number of neighbours per atom; summed messages are divided
            by √z. Set it from the training graphs with ``utils.graphs.average_neighbors``.
        node_input: ``"mass"`` (mass-weighted one-hot ``x``) or ``"onehot"`` (use ``node_attr``
            as input too: the plain one-hot ablation).
        pool: ``"mean"``: average of the per-atom outputs over each crystal. (A sum would give
            the same normalized output, since the output is divided by its maximum.)
        smooth_cutoff: multiply edge attributes by a smooth cutoff so that predictions vary
            continuously when a neighbour crosses r_max (as the original network does).

    Example::

        >>> config = ModelConfig(mul=8, num_neighbors=17.3)
        >>> ModelConfig.from_dict(config.to_dict()) == config
        True
    """

    in_dim: int = 118
    em_dim: int = 64
    out_dim: int = 51
    mul: int = 32
    lmax: int = 1
    layers: int = 2
    r_max: float = 4.0
    num_basis: int = 10
    radial_layers: int = 1
    radial_neurons: int = 100
    num_neighbors: float = 1.0
    node_input: str = "mass"
    pool: str = "mean"
    smooth_cutoff: bool = True

    def __post_init__(self) -> None:
        if self.node_input not in ("mass", "onehot"):
            raise ValueError(f"node_input must be 'mass' or 'onehot', got {self.node_input!r}.")
        if self.pool != "mean":
            raise ValueError(f"pool must be 'mean' (the only pooling implemented), got {self.pool!r}.")
        if not self.num_neighbors > 0:
            raise ValueError(
                f"num_neighbors must be > 0, got {self.num_neighbors}; use average_neighbors(train_graphs)."
            )
        if not self.r_max > 0:
            raise ValueError(f"r_max must be a positive number of Å, got {self.r_max}.")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the hyper-parameters (json.dumps-able)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise a ValueError naming them."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys {unknown}; known keys are {sorted(known)}.")
        return cls(**values)


def smooth_cutoff(x: torch.Tensor) -> torch.Tensor:
    """Smooth step: 1 for x ≤ 0.5, ½(1 − cos 2π(x−1)) for 0.5 < x < 1, 0 for x ≥ 1 (x = r / r_max).

    Example::

        >>> smooth_cutoff(torch.tensor([0.0, 0.5, 0.75, 1.0, 1.5]))
        tensor([1.0000, 1.0000, 0.5000, 0.0000, 0.0000])

    Taught in notebook 03 §3.
    """
    u = (2 * (x - 1)).clamp(-1.0, 0.0)
    return (1 - torch.cos(math.pi * u)) / 2


def tp_path_exists(irreps_in1, irreps_in2, ir_out) -> bool:
    """True if the tensor product ``irreps_in1 ⊗ irreps_in2`` contains the irrep ``ir_out``.

    Example::

        >>> tp_path_exists("4x0e", "0e + 1o", "1o"), tp_path_exists("4x0e", "0e + 1o", "1e")
        (True, False)

    Taught in notebook 03 §4.
    """
    irreps_in1 = o3.Irreps(irreps_in1).simplify()
    irreps_in2 = o3.Irreps(irreps_in2).simplify()
    ir_out = o3.Irrep(ir_out)
    return any(ir_out in ir1 * ir2 for _, ir1 in irreps_in1 for _, ir2 in irreps_in2)


class AttributeIndex(NamedTuple):
    """Which attribute row each atom has, with the chunked layout :class:`AttributeTensorProduct` works in.

    Made once per batch (:meth:`from_index`) and shared by all the network's attribute tensor products. Atoms are
    grouped by row and cut into chunks of at most ``size`` atoms of one row. ``atom_row`` (n,) long: the row of
    each atom, in [0, k); ``chunk_row`` (c,): the row of each chunk; ``slot`` (n,): each atom's place in the padded
    (c·size) layout (chunk-major; unused slots stay zero); ``size``: atoms per chunk.
    """

    atom_row: torch.Tensor
    chunk_row: torch.Tensor
    slot: torch.Tensor
    size: int

    @classmethod
    def from_index(cls, index: torch.Tensor, k: int, size: int = 8) -> "AttributeIndex":
        """Layout of ``index`` (n,) long, rows in [0, k), in chunks of ≤ ``size`` atoms.

        Example::

            >>> layout = AttributeIndex.from_index(torch.tensor([1, 0, 1, 1]), k=2, size=2)
            >>> layout.chunk_row.tolist(), layout.slot.tolist()   # row 0: one chunk; row 1: two
            ([0, 1, 1], [2, 0, 3, 4])
        """
        n = index.shape[0]
        counts = torch.bincount(index, minlength=k)  # (k,) atoms of each row
        chunks = (counts + size - 1) // size  # (k,) chunks of each row, consecutive
        first_chunk = torch.cumsum(chunks, 0) - chunks  # (k,)
        order = torch.argsort(index, stable=True)  # (n,) atoms grouped by row
        sorted_rows = index[order]
        rank = torch.arange(n, device=index.device) - (torch.cumsum(counts, 0) - counts)[sorted_rows]  # place in row
        slot = torch.empty_like(index)
        slot[order] = first_chunk[sorted_rows] * size + rank
        n_chunks = int(chunks.sum())
        chunk_row = torch.repeat_interleave(torch.arange(k, device=index.device), chunks, output_size=n_chunks)
        return cls(index, chunk_row, slot, size)


class AttributeTensorProduct(o3.FullyConnectedTensorProduct):
    r"""e3nn's fully connected tensor product ``x ⊗ a`` with scalar attributes a, evaluated once per distinct a.

    When every irrep of a is ``0e``, each path ``x_{i1} ⊗ a → out`` of the product only mixes the
    multiplicities of x, so the product is linear in x with a matrix that depends on a alone (e3nn's
    "uvw" rule with the Wigner 3j symbol of (l, 0, l), δ_ij/√(2l+1)):

    .. math::
        \text{out}_{w,i} = \sum_u L(a)_{uw}\, x_{u,i}, \qquad
        L(a)_{uw} = \sum_\text{paths} \frac{c_\text{path}}{\sqrt{2l+1}} \sum_v a_v W_{uvw}

    (W: this module's ``weight``, viewed per path as (u, v, w); c_path: e3nn's normalization of the path,
    ``instruction.path_weight``; i: the 2l+1 components of the irrep). The node attributes of a crystal
    take one value per element (per distinct occupancy row), so :meth:`forward` computes L once for each
    of the k distinct rows (k·u·v·w multiply-adds) and applies it to the atoms of that row (n·u·w),
    instead of e3nn's per-atom evaluation (n·u·v·w). The atoms of a row are processed in chunks of
    ``chunk_size`` by one batched matrix product per path. Same parameters, same state dict, same outputs
    as ``o3.FullyConnectedTensorProduct.forward`` up to float round-off (tests/test_model.py compares them).

    Args:
        irreps_in1: irreps of x; irreps_in2: irreps of a (only ``0e``); irreps_out: irreps of the output.

    Forward args: ``x`` (n, irreps_in1.dim); ``attr`` (k, irreps_in2.dim), the distinct attribute rows;
    ``attr_index`` (n,) long, the row of each of x's rows, or an :class:`AttributeIndex` made once for several
    products (``None``: one row of ``attr`` per row of x, k = n) → (n, irreps_out.dim).

    Example::

        >>> tp = AttributeTensorProduct("4x0e + 2x1o", "3x0e", "2x0e + 2x1o")
        >>> x, rows, index = torch.randn(5, 10), torch.randn(2, 3), torch.tensor([0, 1, 1, 0, 1])
        >>> e3nn_result = o3.FullyConnectedTensorProduct.forward(tp, x, rows[index])  # per atom
        >>> bool(torch.allclose(tp(x, rows, index), e3nn_result, atol=1e-6))
        True
    """

    chunk_size = 8  # atoms per batched product; larger chunks pad more (a row's last chunk is partly empty)

    def __init__(self, irreps_in1, irreps_in2, irreps_out) -> None:
        super().__init__(irreps_in1, irreps_in2, irreps_out)
        if any(ir != o3.Irrep("0e") for _, ir in self.irreps_in2):
            raise ValueError(f"the attributes must be scalars (0e), got {self.irreps_in2}")
        # every (input irrep, output irrep) pair, with its tensor-product paths (one per attribute irrep):
        # (instruction index, attribute slice, c_path / √(2l+1))
        self._pairs: list[tuple[int, int]] = []
        self._pair_paths: list[list[tuple[int, slice, float]]] = []
        attr_slices = self.irreps_in2.slices()
        for i, ins in enumerate(self.instructions):
            pair = (ins.i_in1, ins.i_out)
            if pair not in self._pairs:
                self._pairs.append(pair)
                self._pair_paths.append([])
            factor = ins.path_weight / self.irreps_out[ins.i_out].ir.dim ** 0.5
            self._pair_paths[self._pairs.index(pair)].append((i, attr_slices[ins.i_in2], factor))
        self._path_sizes = [math.prod(ins.path_shape) for ins in self.instructions]
        # plain ints for forward (torch.compile cannot guard on e3nn's Irrep objects)
        in_slices = self.irreps_in1.slices()
        self._pair_inputs = [(in_slices[i_in], self.irreps_in1[i_in].mul, self.irreps_in1[i_in].ir.dim)
                             for i_in, _ in self._pairs]  # (slice of x, u, 2l+1) per pair
        self._out_dims = [mul_ir.dim for mul_ir in self.irreps_out]

    def attribute_matrices(self, attr: torch.Tensor) -> list[torch.Tensor]:
        """L(a) of every row of ``attr`` (k, irreps_in2.dim): one (k, u, w) tensor per (input, output) pair."""
        # the weight of each path (u, v, w), in instruction order (a split: one copy in the backward pass,
        # where narrowed views would each allocate a gradient of the whole weight)
        paths = [w.view(ins.path_shape) for w, ins in zip(self.weight.split(self._path_sizes), self.instructions)]
        matrices = []
        for pair_paths in self._pair_paths:
            matrix = None
            for i, attr_slice, factor in pair_paths:
                u, v, _ = paths[i].shape
                # Σ_v a_kv W_uvw as u products (k, v) @ (v, w): the weight is read in place, never copied
                product = torch.bmm((attr[:, attr_slice] * factor).expand(u, -1, v), paths[i])  # (u, k, w)
                matrix = product if matrix is None else matrix + product
            matrices.append(matrix.transpose(0, 1))  # (k, u, w)
        return matrices

    def forward(self, x: torch.Tensor, attr: torch.Tensor,
                attr_index: torch.Tensor | AttributeIndex | None = None) -> torch.Tensor:
        if attr_index is None:
            attr_index = torch.arange(x.shape[0], device=x.device)  # one attribute row per atom
        if not isinstance(attr_index, AttributeIndex):
            attr_index = AttributeIndex.from_index(attr_index, attr.shape[0], self.chunk_size)
        _, chunk_row, slot, size = attr_index  # (c,), (n,), int
        n_chunks = chunk_row.shape[0]
        x_pad = x.new_zeros(n_chunks * size, x.shape[1]).index_copy(0, slot, x)  # (c·size, irreps_in1.dim)
        outputs: list = [None] * len(self._out_dims)
        for (_, i_out), (in_slice, mul, dim), matrix in zip(self._pairs, self._pair_inputs,
                                                             self.attribute_matrices(attr)):
            xi = x_pad[:, in_slice].reshape(n_chunks, size, mul, dim).transpose(2, 3)
            y = torch.bmm(xi.reshape(n_chunks, size * dim, mul), matrix[chunk_row])  # (c, size·i, w)
            y = y.reshape(n_chunks, size, dim, -1).transpose(2, 3).reshape(n_chunks * size, -1)  # (c·size, w·i)
            outputs[i_out] = y if outputs[i_out] is None else outputs[i_out] + y
        parts = [x_pad.new_zeros(n_chunks * size, out_dim) if out is None else out
                 for out, out_dim in zip(outputs, self._out_dims)]
        return torch.cat(parts, dim=1)[slot]  # (n, irreps_out.dim)


class Convolution(nn.Module):
    r"""Equivariant point convolution on a (periodic) graph, as in e3nn's ``gate_points_2101``.

    For a receiving atom i with neighbours j (edge vectors r_ij):

    .. math::
        \text{out}_i = \sin\tfrac{\pi}{8}\, \mathrm{sc}(x_i, a_i)
                     + \cos\tfrac{\pi}{8}\, \mathrm{lin_2}\Big(\frac{1}{\sqrt z}
                       \sum_j \mathrm{lin_1}(x_j, a_j) \otimes_{w(|r_{ij}|)} Y(\hat r_{ij}),\ a_i\Big)

    ``sc``, ``lin1``, ``lin2`` are fully connected tensor products with the node attributes a
    (learned, no edge dependence; :class:`AttributeTensorProduct`, evaluated once per distinct a); ``tp``
    is a "uvu" tensor product whose weights w come from a radial MLP ``fc`` of the embedded edge length
    (evaluated once per distinct length when ``edge_length_index`` is given); z = ``num_neighbors``. The sin/cos mixing
    (kept from the original) only applies to output irreps the self-connection can produce;
    elsewhere the message term enters with weight 1.

    Args:
        irreps_in: irreps of the node features x.
        irreps_node_attr: irreps of the node attributes a (scalars here).
        irreps_edge_attr: irreps of the edge attributes (spherical harmonics).
        irreps_out: irreps of the output node features.
        num_basis: length of the embedded edge length.
        radial_layers, radial_neurons: hidden layers / width of the radial MLP.
        num_neighbors: z, the typical number of neighbours (normalization).

    Forward args (shapes): ``node_input`` (n, irreps_in.dim), ``node_attr`` (n,
    irreps_node_attr.dim), ``edge_src``, ``edge_dst`` (n_edges,) long, ``edge_attr`` (n_edges,
    irreps_edge_attr.dim), ``edge_length_embedded`` (n_edges, num_basis), optional ``node_attr_index``
    (n,) long and ``edge_length_index`` (n_edges,) long → (n, irreps_out.dim). With ``node_attr_index``,
    ``node_attr`` holds the k distinct attribute rows and ``node_attr_index`` the row of each atom; without,
    one row per atom. Likewise with ``edge_length_index``, ``edge_length_embedded`` holds one row per distinct
    edge length and ``edge_length_index`` the row of each edge.

    Example::

        >>> conv = Convolution("4x0e", "4x0e", "0e + 1o", "4x0e + 4x1o", num_basis=10)
        >>> n, e = 3, 5
        >>> out = conv(torch.randn(n, 4), torch.randn(n, 4), torch.randint(n, (e,)),
        ...            torch.randint(n, (e,)), torch.randn(e, 4), torch.randn(e, 10))
        >>> out.shape
        torch.Size([3, 16])

    Taught in notebook 03 §5.
    """

    def __init__(
        self,
        irreps_in,
        irreps_node_attr,
        irreps_edge_attr,
        irreps_out,
        num_basis: int,
        radial_layers: int = 1,
        radial_neurons: int = 100,
        num_neighbors: float = 1.0,
    ) -> None:
        super().__init__()
        self.irreps_in = o3.Irreps(irreps_in)
        self.irreps_node_attr = o3.Irreps(irreps_node_attr)
        self.irreps_edge_attr = o3.Irreps(irreps_edge_attr)
        self.irreps_out = o3.Irreps(irreps_out)
        self.num_neighbors = float(num_neighbors)

        self.sc = AttributeTensorProduct(self.irreps_in, self.irreps_node_attr, self.irreps_out)
        self.lin1 = AttributeTensorProduct(self.irreps_in, self.irreps_node_attr, self.irreps_in)

        # one "uvu" path for every (input irrep, edge irrep) pair whose product reaches irreps_out
        irreps_mid = []
        instructions = []
        for i_in, (mul, ir_in) in enumerate(self.irreps_in):
            for i_edge, (_, ir_edge) in enumerate(self.irreps_edge_attr):
                for ir_out in ir_in * ir_edge:
                    if ir_out in self.irreps_out:
                        instructions.append((i_in, i_edge, len(irreps_mid), "uvu", True))
                        irreps_mid.append((mul, ir_out))
        irreps_mid, permutation, _ = o3.Irreps(irreps_mid).sort()
        instructions = [(i_in, i_edge, permutation[i_mid], mode, train)
                        for i_in, i_edge, i_mid, mode, train in instructions]  # fmt: skip
        self.irreps_mid = irreps_mid

        self.tp = o3.TensorProduct(
            self.irreps_in,
            self.irreps_edge_attr,
            irreps_mid,
            instructions,
            internal_weights=False,
            shared_weights=False,
        )
        self.fc = FullyConnectedNet(
            [num_basis] + radial_layers * [radial_neurons] + [self.tp.weight_numel], torch.nn.functional.silu
        )
        self.lin2 = AttributeTensorProduct(irreps_mid, self.irreps_node_attr, self.irreps_out)

        mixing_sc, mixing_message = math.sin(math.pi / 8), math.cos(math.pi / 8)
        sc_mask = self.sc.output_mask.to(torch.get_default_dtype())  # (irreps_out.dim,) 1 where sc reaches
        self.mixing_sc = mixing_sc
        self.register_buffer("mixing_message", (1 - sc_mask) + mixing_message * sc_mask, persistent=False)

    def forward(
        self,
        node_input: torch.Tensor,  # (n, irreps_in.dim)
        node_attr: torch.Tensor,  # (k, irreps_node_attr.dim): k distinct rows, or one per atom (k = n)
        edge_src: torch.Tensor,  # (n_edges,)
        edge_dst: torch.Tensor,  # (n_edges,)
        edge_attr: torch.Tensor,  # (n_edges, irreps_edge_attr.dim)
        edge_length_embedded: torch.Tensor,  # (n_lengths, num_basis): distinct lengths, or one per edge
        node_attr_index: torch.Tensor | AttributeIndex | None = None,  # (n,) row of each atom; None: k = n
        edge_length_index: torch.Tensor | None = None,  # (n_edges,) row of each edge; None: one row per edge
    ) -> torch.Tensor:
        weight = self.fc(edge_length_embedded)  # (n_lengths, tp.weight_numel)
        if edge_length_index is not None:
            weight = weight[edge_length_index]  # (n_edges, tp.weight_numel)
        self_connection = self.sc(node_input, node_attr, node_attr_index)  # (n, irreps_out.dim)
        x = self.lin1(node_input, node_attr, node_attr_index)  # (n, irreps_in.dim)
        messages = self.tp(x[edge_src], edge_attr, weight)  # (n_edges, irreps_mid.dim)
        x = scatter(messages, edge_dst, dim=0, dim_size=node_input.shape[0], reduce="sum")  # (n, irreps_mid.dim)
        x = x / self.num_neighbors**0.5
        x = self.lin2(x, node_attr, node_attr_index)  # (n, irreps_out.dim)
        return self.mixing_sc * self_connection + self.mixing_message * x


class GatedConvolution(nn.Module):
    """A :class:`Convolution` followed by an ``e3nn.nn.Gate`` nonlinearity (one hidden layer).

    Taught in notebook 03 §6.
    """

    def __init__(self, conv: Convolution, gate: Gate) -> None:
        super().__init__()
        self.conv = conv
        self.gate = gate
        self.irreps_in = conv.irreps_in
        self.irreps_out = gate.irreps_out

    def forward(self, node_input, node_attr, edge_src, edge_dst, edge_attr, edge_length_embedded,
                node_attr_index=None, edge_length_index=None) -> torch.Tensor:
        x = self.conv(node_input, node_attr, edge_src, edge_dst, edge_attr, edge_length_embedded, node_attr_index,
                      edge_length_index)
        return self.gate(x)


class NodeFeatures(NamedTuple):
    """Node features of one stage of the network, for visualization.

    Taught in notebook 04 §1.
    """

    name: str  # "embedding", "layer 1", ..., "output"
    irreps: o3.Irreps
    features: torch.Tensor  # (n_atoms, irreps.dim)


class PeriodicNetwork(nn.Module):
    """Crystal graph → phonon DoS, invariant to rotations, inversion, translations,
    atom permutations and the choice of (super)cell.

    Args:
        config: hyper-parameters; ``None`` gives the defaults of :class:`ModelConfig`.
        **overrides: individual hyper-parameters replacing those of ``config``.

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> graph = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))
        >>> model = PeriodicNetwork(em_dim=16, mul=4, num_neighbors=18.0)
        >>> total, per_atom = model(graph, return_per_atom=True)
        >>> total.shape, per_atom.shape, bool(torch.allclose(per_atom.mean(0), total[0]))
        (torch.Size([1, 51]), torch.Size([2, 51]), True)

    Taught in notebook 03 §8 (built by hand in §2–7).
    """

    def __init__(self, config: ModelConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        config = dataclasses.replace(config or ModelConfig(), **overrides)
        self.config = config

        self.em = nn.Linear(config.in_dim, config.em_dim)  # shared by x and node_attr
        self.irreps_embedding = o3.Irreps(f"{config.em_dim}x0e")
        self.irreps_node_attr = o3.Irreps(f"{config.em_dim}x0e")
        self.irreps_edge_attr = o3.Irreps.spherical_harmonics(config.lmax)  # 0e + 1o + 2e + ...
        self.irreps_hidden = o3.Irreps([(config.mul, (l, p)) for l in range(config.lmax + 1) for p in [-1, 1]])
        self.irreps_out = o3.Irreps(f"{config.out_dim}x0e")
        self.spherical_harmonics = o3.SphericalHarmonics(
            self.irreps_edge_attr, normalize=True, normalization="component"
        )

        conv_kwargs = dict(
            irreps_node_attr=self.irreps_node_attr,
            irreps_edge_attr=self.irreps_edge_attr,
            num_basis=config.num_basis,
            radial_layers=config.radial_layers,
            radial_neurons=config.radial_neurons,
            num_neighbors=config.num_neighbors,
        )
        activation = {1: torch.nn.functional.silu, -1: torch.tanh}  # scalars, by parity
        gate_activation = {1: torch.sigmoid, -1: torch.tanh}

        self.layers = nn.ModuleList()
        irreps = self.irreps_embedding
        for _ in range(config.layers):
            reachable = [(mul, ir) for mul, ir in self.irreps_hidden
                         if tp_path_exists(irreps, self.irreps_edge_attr, ir)]  # fmt: skip
            irreps_scalars = o3.Irreps([(mul, ir) for mul, ir in reachable if ir.l == 0])
            irreps_gated = o3.Irreps([(mul, ir) for mul, ir in reachable if ir.l > 0])
            gate_irrep = "0e" if tp_path_exists(irreps, self.irreps_edge_attr, "0e") else "0o"
            irreps_gates = o3.Irreps([(mul, gate_irrep) for mul, _ in irreps_gated])
            gate = Gate(
                irreps_scalars, [activation[ir.p] for _, ir in irreps_scalars],
                irreps_gates, [gate_activation[ir.p] for _, ir in irreps_gates],
                irreps_gated,
            )  # fmt: skip
            conv = Convolution(irreps_in=irreps, irreps_out=gate.irreps_in, **conv_kwargs)
            self.layers.append(GatedConvolution(conv, gate))
            irreps = gate.irreps_out
        self.output_conv = Convolution(irreps_in=irreps, irreps_out=self.irreps_out, **conv_kwargs)
        remove_dead_code(self)

    @staticmethod
    def distinct_lengths(edge_length: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The distinct values of ``edge_length`` (n_edges,) and the row of each edge; ``(edge_length, None)`` when
        gradients with respect to the lengths are asked for.

        Example::

            >>> PeriodicNetwork.distinct_lengths(torch.tensor([2.5, 3.0, 2.5]))
            (tensor([2.5000, 3.0000]), tensor([0, 1, 0]))
        """
        if edge_length.requires_grad:
            return edge_length, None
        return torch.unique(edge_length, return_inverse=True)

    def forward(self, data, return_per_atom: bool = False, return_features: bool = False):
        """Predict the normalized DoS of every crystal in ``data``.

        Args:
            data: a ``Data`` from :func:`utils.graphs.structure_to_graph` or a ``Batch`` of them
                (from ``torch_geometric.loader.DataLoader``). It is not modified.
            return_per_atom: also return per-atom contributions (n_atoms, out_dim), scaled so that
                their mean over the atoms of a crystal equals that crystal's output. Averaging
                them by element (sum over the element's atoms / n_atoms) gives partial DoS that
                add up to the total.
            return_features: also return a list of :class:`NodeFeatures` (after the embedding,
                after each gated layer, and the raw output before ReLU), from this same pass.

        Returns:
            ``dos`` (n_crystals, out_dim), non-negative with maximum 1 per crystal; or the tuple
            ``(dos, per_atom)``, ``(dos, features)`` or ``(dos, per_atom, features)``.
        """
        num_nodes = data.x.shape[0]
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = data.x.new_zeros(num_nodes, dtype=torch.long)  # (n,) a single crystal
        n_crystals = int(batch.max()) + 1 if num_nodes else 0

        node_input = data.x if self.config.node_input == "mass" else data.node_attr
        x = torch.relu(self.em(node_input))  # (n, em_dim)
        # node attributes: one row per distinct occupancy row (an element, or a mixed site) → the tensor
        # products with them are evaluated once per row, not once per atom (AttributeTensorProduct)
        attr_rows, attr_index = torch.unique(data.node_attr, dim=0, return_inverse=True)  # (k, 118), (n,)
        attr_index = AttributeIndex.from_index(attr_index, attr_rows.shape[0], AttributeTensorProduct.chunk_size)
        node_attr = torch.relu(self.em(attr_rows))  # (k, em_dim)
        features = [NodeFeatures("embedding", self.irreps_embedding, x)]

        edge_src, edge_dst = data.edge_index  # (n_edges,), (n_edges,)
        edge_vec = data.edge_vec  # (n_edges, 3), Å, from dst to the image of src
        edge_length = edge_vec.norm(dim=1)  # (n_edges,)
        edge_attr = self.spherical_harmonics(edge_vec)  # (n_edges, (lmax+1)^2)
        if self.config.smooth_cutoff:
            edge_attr = smooth_cutoff(edge_length / self.config.r_max)[:, None] * edge_attr
        # the radial MLPs see only |r|, and a crystal's edges take few distinct lengths (symmetry: ~20 edges per
        # length in the v1 data), so they run once per distinct length. Not when gradients with respect to the
        # edge vectors are asked for (forces): each edge then keeps its own length.
        edge_length, length_index = self.distinct_lengths(edge_length)  # (n_lengths,), (n_edges,) or None
        edge_length_embedded = soft_one_hot_linspace(
            edge_length, 0.0, self.config.r_max, self.config.num_basis, basis="gaussian", cutoff=False
        ).mul(self.config.num_basis**0.5)  # (n_lengths, num_basis)

        for index, layer in enumerate(self.layers):
            x = layer(x, node_attr, edge_src, edge_dst, edge_attr, edge_length_embedded, attr_index, length_index)
            features.append(NodeFeatures(f"layer {index + 1}", layer.irreps_out, x))
        x = self.output_conv(x, node_attr, edge_src, edge_dst, edge_attr, edge_length_embedded,
                             attr_index, length_index)  # (n, out_dim)
        features.append(NodeFeatures("output", self.irreps_out, x))

        per_atom = torch.relu(x)  # (n, out_dim)
        dos = scatter(per_atom, batch, dim=0, dim_size=n_crystals, reduce="mean")  # (n_crystals, out_dim)
        maxima = dos.max(dim=1, keepdim=True).values.clamp_min(NORMALIZATION_EPS)  # (n_crystals, 1)
        dos = dos / maxima

        outputs: tuple = (dos,)
        if return_per_atom:
            outputs += (per_atom / maxima[batch],)
        if return_features:
            outputs += (features,)
        return outputs[0] if len(outputs) == 1 else outputs


class EnsembleNetwork(nn.Module):
    """The mean of several :class:`PeriodicNetwork` of one configuration, trained with different seeds.

    Averaging independently trained networks lowers the variance part of their error: in the hyper-parameter
    search of notebook 03 (``data/experiments/search.json``) the mean of 3 seeds validated 17–23 % better than
    a single network, for every variant. The ensemble is called like one network:

        g(ω)   = (1/M) Σ_m g^(m)(ω)        (each member's output has maximum 1)
        g_a(ω) = (1/M) Σ_m g_a^(m)(ω)      (per-atom outputs: their mean over the atoms is g(ω) exactly)

    The mean is **not** normalized to maximum 1 again: where the members put a peak at slightly different
    frequencies its maximum is below 1, a lower, broader peak that expresses their disagreement. Normalizing it
    again validated worse in the search (the ``ensemble_renormalized`` column of ``search.json``), so the plain
    mean is kept; quantities computed from the DoS (C_V, ⟨ω⟩, …) normalize it to 3N modes anyway. Partial DoS
    (notebook 05) still add up to the total. Intermediate features belong to one network: look
    inside a member, ``ensemble.members[0](graph, return_features=True)`` (notebook 04).

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> graph = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))
        >>> members = [PeriodicNetwork(em_dim=16, mul=4, num_neighbors=18.0) for _ in range(2)]
        >>> ensemble = EnsembleNetwork(members)
        >>> total, per_atom = ensemble(graph, return_per_atom=True)
        >>> bool(torch.allclose(total, (members[0](graph) + members[1](graph)) / 2))
        True
        >>> bool(torch.allclose(per_atom.mean(0), total[0]))
        True
    """

    def __init__(self, members) -> None:
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("an ensemble needs at least one member network")
        configs = {_config_key(m.config) for m in members}
        if len(configs) != 1:
            raise ValueError("the members of an ensemble must share one ModelConfig (same grid, r_max, encoding)")
        self.members = nn.ModuleList(members)

    @property
    def config(self) -> ModelConfig:
        """The members' common configuration (``r_max``, ``out_dim``, … as for one network)."""
        return self.members[0].config

    def forward(self, data, return_per_atom: bool = False, return_features: bool = False):
        """Mean of the members' outputs; arguments and outputs as :meth:`PeriodicNetwork.forward`, without features."""
        if return_features:
            raise ValueError("an ensemble has no single set of intermediate features: look inside one network, "
                             "e.g. model.members[0](graph, return_features=True)")
        if not return_per_atom:
            return torch.stack([member(data) for member in self.members]).mean(dim=0)  # (n_crystals, out_dim)
        outputs = [member(data, return_per_atom=True) for member in self.members]
        dos = torch.stack([o[0] for o in outputs]).mean(dim=0)  # (n_crystals, out_dim), maximum ≤ 1
        per_atom = torch.stack([o[1] for o in outputs]).mean(dim=0)  # (n_atoms, out_dim)
        return dos, per_atom


def _config_key(config: ModelConfig) -> str:
    """A hashable, canonical form of a config (to compare the configs of ensemble members)."""
    return json.dumps(config.to_dict(), sort_keys=True)


_UNUSED_PRODUCTS = (torch.einsum, torch.functional.einsum)


def remove_dead_code(module: nn.Module) -> int:
    """Drop the products e3nn's generated tensor-product code computes and never uses; returns how many were dropped.

    e3nn writes a tensor product as a torch.fx graph that computes, for every pair of inputs, a generic outer
    product x1 ⊗ x2 that the specialized code of scalar paths never reads (its code generator notes "If this isn't
    used, the dead code will get removed": TorchScript did that, e3nn's default eager mode runs them). Only
    ``einsum`` nodes whose result has no user are removed (not ``graph.eliminate_dead_code()``, which would also
    drop the in-place copies of e3nn's ``Extract``), so the outputs stay exactly the same.

    Example::

        >>> remove_dead_code(o3.FullyConnectedTensorProduct("4x0e + 2x1o", "1x0e", "3x0e"))
        1
    """
    removed = 0
    for submodule in module.modules():
        if not isinstance(submodule, torch.fx.GraphModule):
            continue
        unused = [node for node in submodule.graph.nodes
                  if node.op == "call_function" and node.target in _UNUSED_PRODUCTS and not node.users]
        for node in reversed(unused):
            submodule.graph.erase_node(node)
        if unused:
            submodule.recompile()
            removed += len(unused)
    return removed


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Example::

        >>> count_parameters(torch.nn.Linear(118, 64))
        7616
    """
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
