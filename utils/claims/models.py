"""The models the e3nn network is compared with (notebook 03 §12 and notebook 07): a second model family.

==========================  =================================================================================
:func:`mean_dos_baseline`   the mean training DoS, max-normalized: one prediction for every material
:class:`CompositionMLP`     an MLP on the mass-weighted fractional composition — no geometry at all
:class:`NonEquivariantNetwork`  message passing on raw Cartesian edge vectors — geometry, but not rotation
                            invariant (experiment 2 trains it with and without ``utils.claims.rotations``
                            augmentation)
==========================  =================================================================================

All take a torch-geometric graph or batch of :func:`utils.graphs.structure_to_graph` and return a non-negative
DoS with maximum 1 per crystal, the e3nn model's output constraint, so they train with :func:`utils.train.train`
and predict with :func:`utils.train.predict` like it.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import nn
from torch_geometric.utils import scatter

from ..model import NORMALIZATION_EPS, smooth_cutoff

__all__ = ["mean_dos_baseline", "CompositionConfig", "CompositionMLP", "NonEquivariantConfig",
           "NonEquivariantNetwork"]


def mean_dos_baseline(train_dos: np.ndarray, normalize: bool = True) -> np.ndarray:
    """The mean of the training spectra, divided by its maximum: one DoS predicted for every material.

    Args:
        train_dos: (n_train, n_grid) max-normalized training DoS.
        normalize: divide the mean by its maximum (default), so that the prediction obeys the same
            constraint as the networks' outputs (non-negative, maximum 1). ``False`` returns the plain
            mean, the constant with the lowest training MSE.
    Returns:
        (n_grid,) float64 array; ``np.tile(mean, (n, 1))`` predicts n materials.

    Example::

        >>> mean_dos_baseline(np.array([[0.0, 1.0], [1.0, 0.5]]))
        array([0.66666667, 1.        ])

    Taught in notebook 03 §12.
    """
    train_dos = np.asarray(train_dos, dtype=float)
    if train_dos.ndim != 2 or len(train_dos) == 0:
        raise ValueError(f"train_dos must be a non-empty (n_train, n_grid) array, got shape {train_dos.shape}.")
    mean = train_dos.mean(axis=0)  # (n_grid,)
    return mean / max(float(mean.max()), NORMALIZATION_EPS) if normalize else mean


# ---------------------------------------------------------------------------------- composition MLP
@dataclasses.dataclass
class CompositionConfig:
    """Hyper-parameters of :class:`CompositionMLP` (JSON-friendly via ``to_dict``).

    in_dim: elements (118); em_dim: width of the embedding (as the e3nn model's); hidden: widths of the
    hidden layers; out_dim: DoS grid points; weighting: ``"mass"`` (input Σ_Z c_Z m_Z e_Z, the mean of the
    e3nn model's node inputs ``x`` over the atoms) or ``"plain"`` (the fractional composition c_Z).
    """
    in_dim: int = 118
    em_dim: int = 64
    hidden: tuple[int, ...] = (128, 128)
    out_dim: int = 51
    weighting: str = "mass"

    def __post_init__(self) -> None:
        if self.weighting not in ("mass", "plain"):
            raise ValueError(f"weighting must be 'mass' or 'plain', got {self.weighting!r}.")
        self.hidden = tuple(int(h) for h in self.hidden)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["hidden"] = list(self.hidden)
        return values


class CompositionMLP(nn.Module):
    r"""Composition → DoS, blind to the structure: polymorphs of one formula get the same prediction.

    .. math::
        \hat g = \frac{\mathrm{ReLU}(\mathrm{MLP}(u))}{\max_\omega \mathrm{ReLU}(\mathrm{MLP}(u))}, \qquad
        u = \sum_Z c_Z\, m_Z\, \mathbf e_Z \ \ (\text{weighting="mass"}) \quad\text{or}\quad
        u = \sum_Z c_Z\, \mathbf e_Z \ \ (\text{"plain"}),

    with c_Z the fraction of atoms of element Z (the graph's ``composition``, (1, 118)), m_Z its mass (u)
    and e_Z the Z-th unit vector. The MLP starts like the e3nn model (``Linear(118, em_dim)`` + ReLU), then
    ``hidden`` SiLU layers; the output goes through the same ReLU and division by the maximum.

    Reads ``data.composition`` of a graph or batch (:func:`utils.graphs.structure_to_graph`), so it trains
    with :func:`utils.train.train` and predicts with :func:`utils.train.predict` like the e3nn model.

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> model = CompositionMLP(CompositionConfig(hidden=(32,)))
        >>> model(structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))).shape
        torch.Size([1, 51])

    Taught in notebook 03 §12 (again in 07 §4).
    """

    def __init__(self, config: CompositionConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        self.config = config = dataclasses.replace(config or CompositionConfig(), **overrides)
        from ase.data import atomic_masses

        masses = torch.as_tensor(atomic_masses[1:config.in_dim + 1], dtype=torch.get_default_dtype())  # (118,) u
        self.register_buffer("weights", masses if config.weighting == "mass" else torch.ones_like(masses))
        widths = [config.em_dim, *config.hidden]
        layers: list[nn.Module] = [nn.Linear(config.in_dim, config.em_dim), nn.ReLU()]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.SiLU()]
        layers.append(nn.Linear(widths[-1], config.out_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(self, data) -> torch.Tensor:
        """(n_crystals, out_dim) non-negative DoS with maximum 1 per crystal."""
        u = data.composition * self.weights  # (n_crystals, 118)
        dos = torch.relu(self.mlp(u))  # (n_crystals, out_dim)
        return dos / dos.max(dim=1, keepdim=True).values.clamp_min(NORMALIZATION_EPS)


# ----------------------------------------------------------------------------- non-equivariant network
@dataclasses.dataclass
class NonEquivariantConfig:
    """Hyper-parameters of :class:`NonEquivariantNetwork` (JSON-friendly via ``to_dict``).

    hidden: width of the node features and of both MLPs; layers: message-passing steps; r_max: cutoff (Å,
    as the graphs'); num_neighbors: z (summed messages are divided by √z, as in the e3nn model);
    node_input: ``"mass"`` (the graph's ``x``) or ``"onehot"`` (``node_attr``).
    """
    in_dim: int = 118
    hidden: int = 64
    layers: int = 2
    out_dim: int = 51
    r_max: float = 4.0
    num_neighbors: float = 1.0
    node_input: str = "mass"

    def __post_init__(self) -> None:
        if self.node_input not in ("mass", "onehot"):
            raise ValueError(f"node_input must be 'mass' or 'onehot', got {self.node_input!r}.")
        if not self.num_neighbors > 0:
            raise ValueError(f"num_neighbors must be > 0, got {self.num_neighbors}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class NonEquivariantNetwork(nn.Module):
    r"""Message passing on the raw Cartesian edge vectors: *not* rotation invariant.

    .. math::
        m_{ij} = c(|r_{ij}|/r_\text{max})\,\mathrm{MLP}_m\big([h_j, h_i, \mathrm{MLP}_e(\vec r_{ij})]\big),\qquad
        h_i \leftarrow h_i + \mathrm{MLP}_u\Big(\Big[h_i, \tfrac{1}{\sqrt z}\textstyle\sum_j m_{ij}\Big]\Big)

    with h⁰ = ReLU(Linear(x)) (the mass-weighted one-hot, as the e3nn model), c the smooth cutoff of
    :func:`utils.model.smooth_cutoff`, r⃗_ij the graph's ``edge_vec`` and MLP_e an edge encoder of its three
    raw Cartesian components in Å (3 → hidden → hidden, SiLU); LayerNorm after the embedding and each update. (At
    initialization such a network is already nearly invariant on high-symmetry crystals: a smooth function
    summed over a symmetric neighbour shell loses its low-l, direction-dependent parts. How much it depends
    on the orientation after training is what experiment 2 measures.) Output: Linear → ReLU per atom,
    summed over each crystal's atoms, divided by the crystal's maximum — the e3nn model's output head. The
    three Cartesian components enter an ordinary MLP, so a rotated crystal gets a different prediction unless
    the weights learn otherwise (e.g. from rotation augmentation, :class:`RandomRotation`).

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> model = NonEquivariantNetwork(hidden=16, num_neighbors=18.0)
        >>> model(structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))).shape   # (n_crystals, out_dim)
        torch.Size([1, 51])

    Taught in notebook 07 §3.
    """

    def __init__(self, config: NonEquivariantConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        self.config = config = dataclasses.replace(config or NonEquivariantConfig(), **overrides)
        h = config.hidden
        self.embed = nn.Linear(config.in_dim, h)
        self.edge_mlp = nn.Sequential(nn.Linear(3, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU())
        self.message = nn.ModuleList(
            nn.Sequential(nn.Linear(3 * h, h), nn.SiLU(), nn.Linear(h, h)) for _ in range(config.layers))
        self.update = nn.ModuleList(
            nn.Sequential(nn.Linear(2 * h, h), nn.SiLU(), nn.Linear(h, h)) for _ in range(config.layers))
        self.norm = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.layers + 1))
        self.out = nn.Linear(h, config.out_dim)

    def forward(self, data) -> torch.Tensor:
        """(n_crystals, out_dim) non-negative DoS with maximum 1 per crystal."""
        node_input = data.x if self.config.node_input == "mass" else data.node_attr  # (n, 118)
        h = self.norm[0](torch.relu(self.embed(node_input)))  # (n, hidden)
        n = h.shape[0]
        batch = getattr(data, "batch", None)
        batch = h.new_zeros(n, dtype=torch.long) if batch is None else batch  # (n,)
        src, dst = data.edge_index  # (n_edges,)
        vec = data.edge_vec  # (n_edges, 3), Å
        cutoff = smooth_cutoff(vec.norm(dim=1) / self.config.r_max)[:, None]  # (n_edges, 1)
        edge = self.edge_mlp(vec)  # (n_edges, hidden) from the 3 Cartesian components (Å)
        for message, update, norm in zip(self.message, self.update, self.norm[1:]):
            m = cutoff * message(torch.cat([h[src], h[dst], edge], dim=1))  # (n_edges, hidden)
            agg = scatter(m, dst, dim=0, dim_size=n, reduce="sum") / self.config.num_neighbors ** 0.5
            h = norm(h + update(torch.cat([h, agg], dim=1)))  # (n, hidden)
        per_atom = torch.relu(self.out(h))  # (n, out_dim)
        n_crystals = int(batch.max()) + 1 if n else 0
        dos = scatter(per_atom, batch, dim=0, dim_size=n_crystals, reduce="sum")  # (n_crystals, out_dim)
        return dos / dos.max(dim=1, keepdim=True).values.clamp_min(NORMALIZATION_EPS)

