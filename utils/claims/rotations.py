"""Rotations of crystal graphs: uniform random rotations, rotated copies, rotation augmentation, and how much a
model's prediction changes under them (experiment 2 of notebook 07: an invariant model's spread is zero to float
precision, ≤ ``utils.claims.plan.ROTATION_TOL``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..train import predict

__all__ = ["random_rotations", "rotate_graph", "RandomRotation", "rotated_predictions", "rotation_spread"]


def random_rotations(n: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """n rotation matrices drawn uniformly from SO(3) (Haar measure, via unit quaternions), shape (n, 3, 3).

    Example::

        >>> R = random_rotations(4, torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> bool(torch.allclose(R @ R.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(4, 3, 3)))
        True
        >>> bool(torch.allclose(torch.linalg.det(R), torch.ones(4, dtype=torch.float64)))
        True
    """
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    rotation = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], dim=1).reshape(n, 3, 3)
    return rotation.to(dtype)


def rotate_graph(graph, rotation: torch.Tensor):
    """A copy of ``graph`` with every Cartesian vector rotated: ``edge_vec``, ``pos``, ``lattice`` (rows) → v Rᵀ.

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> g = structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))
        >>> r = rotate_graph(g, random_rotations(1, torch.Generator().manual_seed(0))[0])
        >>> bool(torch.allclose(r.edge_vec.norm(dim=1), g.edge_vec.norm(dim=1), atol=1e-5))
        True
    """
    out = graph.clone()
    rotation = rotation.to(graph.edge_vec.dtype)
    out.edge_vec = graph.edge_vec @ rotation.T  # (n_edges, 3)
    if getattr(graph, "pos", None) is not None:
        out.pos = graph.pos @ rotation.T  # (n, 3)
    if getattr(graph, "lattice", None) is not None:
        out.lattice = graph.lattice @ rotation.T  # (1, 3, 3) rows are lattice vectors
    return out


class RandomRotation(nn.Module):
    """Rotation augmentation: in training mode, rotate ``edge_vec`` of every crystal of a batch by its own
    random rotation (drawn from torch's global generator, so seeded by ``utils.train.train``) at every step;
    in eval mode the wrapped model sees the data unchanged.

    Example::

        >>> from utils.claims.models import NonEquivariantNetwork
        >>> model = RandomRotation(NonEquivariantNetwork(hidden=8))
        >>> model.config.hidden
        8
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def forward(self, data) -> torch.Tensor:
        if self.training:
            n_nodes = data.x.shape[0]
            batch = getattr(data, "batch", None)
            batch = data.x.new_zeros(n_nodes, dtype=torch.long) if batch is None else batch
            n_crystals = int(batch.max()) + 1 if n_nodes else 0
            rotations = random_rotations(n_crystals, dtype=data.edge_vec.dtype)  # (n_crystals, 3, 3)
            per_edge = rotations[batch[data.edge_index[1]]]  # (n_edges, 3, 3)
            data = data.clone()
            data.edge_vec = torch.einsum("eij,ej->ei", per_edge, data.edge_vec)  # R v, (n_edges, 3)
        return self.model(data)


@torch.no_grad()
def rotated_predictions(model: nn.Module, graphs: Sequence, n_rotations: int = 20, seed: int = 0,
                        batch_size: int = 64) -> np.ndarray:
    """Predictions for ``n_rotations`` random rotations (seeded) of each graph, shape (n_graphs, n_rotations,
    out_dim)."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for graph in graphs:
        rotations = random_rotations(n_rotations, generator, dtype=graph.edge_vec.dtype)  # (n_rot, 3, 3)
        out.append(predict(model, [rotate_graph(graph, r) for r in rotations], batch_size=batch_size))
    return np.stack(out) if out else np.zeros((0, n_rotations, model.config.out_dim))


def rotation_spread(model: nn.Module, graphs: Sequence, n_rotations: int = 20, seed: int = 0,
                    batch_size: int = 64) -> np.ndarray:
    """How much a model's prediction changes when each crystal is rotated, shape (n_graphs,), dimensionless.

    Each graph is rotated by ``n_rotations`` random rotations (:func:`random_rotations`, seeded); the
    spread of a crystal is the standard deviation (``ddof=0``) over the rotations, maximized over the grid
    (the DoS are max-normalized, so 1 is the scale of the output). An invariant model gives 0 up to float
    round-off (≈ 1e-7 in float32).

    Example::

        >>> from ase.build import bulk
        >>> from utils.graphs import structure_to_graph
        >>> from utils.model import PeriodicNetwork
        >>> _ = torch.manual_seed(0)
        >>> g = structure_to_graph(bulk("ZnO", "wurtzite", a=3.25, c=5.21))
        >>> float(rotation_spread(PeriodicNetwork(em_dim=8, mul=4, num_neighbors=12.0), [g])[0]) < 1e-5
        True

    Taught in notebook 07 §3.
    """
    pred = rotated_predictions(model, graphs, n_rotations, seed, batch_size).astype(np.float64)
    return pred.std(axis=1).max(axis=1)  # (n_graphs,)
