"""Tests of utils.model: invariances, equivariance of the convolution, per-atom outputs, batching."""

import json

import numpy as np
import pytest
import torch
from ase import Atoms
from e3nn import o3
from e3nn.util.test import assert_equivariant
from torch_geometric.loader import DataLoader

from utils.graphs import average_neighbors, structure_to_graph
from utils.model import Convolution, ModelConfig, PeriodicNetwork, count_parameters

CRYSTALS = ("NaCl", "ZnO", "triclinic")
TINY = dict(em_dim=16, mul=4, out_dim=51, radial_neurons=16)
TOLERANCE = 1e-5  # float32


def tiny_model(num_neighbors: float, seed: int = 0, **overrides) -> PeriodicNetwork:
    torch.manual_seed(seed)
    return PeriodicNetwork(ModelConfig(**TINY, num_neighbors=num_neighbors, **overrides)).eval()


@pytest.fixture(scope="module")
def graphs(build_crystal):
    return {name: structure_to_graph(build_crystal(name)) for name in CRYSTALS}


@pytest.fixture(scope="module")
def models(graphs):
    """An untrained model and one trained for a few Adam steps (non-trivial weights)."""
    z = average_neighbors(list(graphs.values()))
    untrained = tiny_model(z, seed=0)
    trained = tiny_model(z, seed=1).train()
    frequency = torch.linspace(0, 1, 51)
    targets = [torch.exp(-((frequency - center) / 0.1) ** 2) for center in (0.2, 0.5, 0.7)]  # max 1
    batch = next(iter(DataLoader([g.clone() for g in graphs.values()], batch_size=3)))
    optimizer = torch.optim.Adam(trained.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss = torch.nn.functional.mse_loss(trained(batch), torch.stack(targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], "training did not reduce the loss"
    return {"untrained": untrained, "trained": trained.eval()}


def predict(model, atoms) -> torch.Tensor:
    with torch.no_grad():
        return model(structure_to_graph(atoms))


def rotated(atoms, matrix):
    return Atoms(atoms.numbers, positions=atoms.positions @ matrix.T, cell=atoms.cell.array @ matrix.T, pbc=True)


def random_rotation(seed=0):
    torch.manual_seed(seed)
    matrix = o3.rand_matrix().double().numpy()  # det +1
    assert np.linalg.det(matrix) == pytest.approx(1.0)
    return matrix


TRANSFORMS = {
    "rotation": lambda atoms: rotated(atoms, random_rotation()),
    "inversion": lambda atoms: rotated(atoms, -np.eye(3)),  # positions and cell negated, det -1
    "rotoinversion": lambda atoms: rotated(atoms, -random_rotation(seed=3)),
    "translation": lambda atoms: _translated(atoms, [0.37, -1.21, 2.93]),
    "permutation": lambda atoms: atoms[np.random.default_rng(0).permutation(len(atoms))],
    "supercell_2x1x1": lambda atoms: atoms.repeat((2, 1, 1)),
    "supercell_2x2x2": lambda atoms: atoms.repeat((2, 2, 2)),
}


def _translated(atoms, offset_A):
    atoms = atoms.copy()
    atoms.translate(offset_A)
    atoms.wrap()  # changes the image shifts of the edges, not the crystal
    return atoms


@pytest.mark.parametrize("model_kind", ["untrained", "trained"])
@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("crystal", CRYSTALS)
def test_prediction_is_invariant(models, build_crystal, crystal, transform, model_kind):
    model = models[model_kind]
    atoms = build_crystal(crystal)
    reference = predict(model, atoms)
    transformed = predict(model, TRANSFORMS[transform](atoms))
    assert reference.shape == (1, 51) and reference.max().item() == pytest.approx(1.0)
    assert (transformed - reference).abs().max().item() <= TOLERANCE


def test_trained_predictions_differ_between_crystals(models, graphs):
    with torch.no_grad():
        nacl, zno = models["trained"](graphs["NaCl"]), models["trained"](graphs["ZnO"])
    assert (nacl - zno).abs().max() > 1e-3  # invariance tests are not trivially passed


def test_convolution_is_equivariant():
    torch.manual_seed(0)
    irreps_in = o3.Irreps("4x0e + 2x0o + 2x1o + 2x1e")
    irreps_attr = o3.Irreps("3x0e")
    irreps_edge = o3.Irreps.spherical_harmonics(2)
    irreps_out = o3.Irreps("3x0e + 2x0o + 2x1o + 2x1e + 1x2e")
    conv = Convolution(irreps_in, irreps_attr, irreps_edge, irreps_out, num_basis=5, radial_neurons=8, num_neighbors=3.0)
    n_nodes, n_edges = 5, 12
    args = [
        irreps_in.randn(n_nodes, -1),
        irreps_attr.randn(n_nodes, -1),
        torch.randint(n_nodes, (n_edges,)),
        torch.randint(n_nodes, (n_edges,)),
        irreps_edge.randn(n_edges, -1),
        torch.randn(n_edges, 5),
    ]
    irreps_args = [irreps_in, irreps_attr, None, None, irreps_edge, None]  # None: indices, lengths are invariant
    assert_equivariant(conv, args_in=args, irreps_in=irreps_args, irreps_out=[irreps_out])


def test_per_atom_outputs_average_to_total_and_give_partial_dos(models, build_crystal):
    atoms = build_crystal("ZnO").repeat((1, 1, 2))
    graph = structure_to_graph(atoms)
    with torch.no_grad():
        total, per_atom = models["trained"](graph, return_per_atom=True)
    assert per_atom.shape == (len(atoms), 51) and (per_atom >= 0).all()
    torch.testing.assert_close(per_atom.mean(dim=0, keepdim=True), total, atol=1e-6, rtol=1e-5)
    numbers = torch.as_tensor(atoms.numbers)
    partial = {z: per_atom[numbers == z].sum(dim=0) / len(atoms) for z in set(atoms.numbers.tolist())}
    torch.testing.assert_close(sum(partial.values()), total[0], atol=1e-6, rtol=1e-5)


def test_features_have_their_irreps_and_do_not_change_the_output(models, graphs):
    model = models["trained"]
    with torch.no_grad():
        plain = model(graphs["triclinic"])
        total, per_atom, features = model(graphs["triclinic"], return_per_atom=True, return_features=True)
    torch.testing.assert_close(plain, total, rtol=0, atol=0)
    assert [f.name for f in features] == ["embedding", "layer 1", "layer 2", "output"]
    for feature in features:
        assert feature.features.shape == (3, feature.irreps.dim)
    assert features[0].irreps == o3.Irreps("16x0e") and features[-1].irreps == o3.Irreps("51x0e")
    assert any(ir.l == 1 for _, ir in features[1].irreps)  # vectors appear in the hidden layers
    normalized = torch.relu(features[-1].features).mean(0)
    torch.testing.assert_close(normalized / normalized.max(), total[0])


def test_batched_predictions_equal_one_at_a_time(models, graphs):
    model = models["trained"]
    graph_list = [graphs[name] for name in CRYSTALS] * 2
    with torch.no_grad():
        single = [model(graph, return_per_atom=True) for graph in graph_list]
        batched = [model(batch, return_per_atom=True) for batch in DataLoader(graph_list, batch_size=4)]
    for part in (0, 1):  # crystal outputs, per-atom outputs
        torch.testing.assert_close(
            torch.cat([output[part] for output in batched]), torch.cat([output[part] for output in single]),
            atol=1e-6, rtol=1e-5,
        )


def test_all_zero_output_gives_zeros_not_nan(graphs):
    model = tiny_model(num_neighbors=15.0)
    with torch.no_grad():
        for parameter in model.output_conv.parameters():
            parameter.zero_()
        total, per_atom = model(graphs["NaCl"], return_per_atom=True)
    assert torch.isfinite(total).all() and (total == 0).all() and (per_atom == 0).all()


def test_gradients_are_finite(graphs):
    model = tiny_model(num_neighbors=15.0).train()
    loss = model(next(iter(DataLoader(list(graphs.values()), batch_size=3)))).square().mean()
    loss.backward()
    gradients = [p.grad for p in model.parameters() if p.grad is not None]
    assert gradients and all(torch.isfinite(g).all() for g in gradients)
    assert model.em.weight.grad.abs().sum() > 0


def test_onehot_ablation_ignores_masses(graphs):
    model = tiny_model(num_neighbors=15.0, node_input="onehot")
    graph = graphs["ZnO"].clone()
    with torch.no_grad():
        reference = model(graph)
        graph.x = graph.x * 3.0  # different "masses"
        assert torch.equal(model(graph), reference)


def test_input_graph_is_not_modified(models, graphs):
    graph = graphs["NaCl"].clone()
    x_before = graph.x.clone()
    with torch.no_grad():
        models["untrained"](graph)
    assert torch.equal(graph.x, x_before) and set(graph.keys()) == set(graphs["NaCl"].keys())


def test_config_round_trips_through_json():
    config = ModelConfig(mul=8, layers=3, num_neighbors=17.25, node_input="onehot")
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({"mull": 8})
    with pytest.raises(ValueError, match="node_input"):
        ModelConfig(node_input="mass-weighted")


def test_default_model_size():
    model = PeriodicNetwork(ModelConfig())
    assert 1_000_000 < count_parameters(model) < 5_000_000  # ~2.5 M, dominated by the 64x0e ⊗ 64x0e products
    assert model.irreps_hidden == o3.Irreps("32x0o + 32x0e + 32x1o + 32x1e")


# ---------------------------------------------------- node-attribute tensor products, once per distinct attribute
def per_atom_tensor_product(tp, x, attr, attr_index=None):
    """Reference: e3nn's FullyConnectedTensorProduct evaluated on every atom (the original tutorial's path)."""
    index = getattr(attr_index, "atom_row", attr_index)  # the network passes an AttributeIndex (rows + layout)
    return o3.FullyConnectedTensorProduct.forward(tp, x, attr if index is None else attr[index])


@pytest.mark.parametrize("irreps_in, irreps_attr, irreps_out", [
    ("4x0e + 2x0o + 2x1o + 3x1e + 1x2e", "3x0e", "3x0e + 2x1o + 2x1e + 2x2e"),
    ("5x0e + 2x1o + 1x1o", "2x0e + 3x0e", "2x0e + 4x1o + 3x2e"),  # repeated irreps, two attribute blocks
])
def test_attribute_tensor_product_matches_e3nn(irreps_in, irreps_attr, irreps_out):
    from utils.model import AttributeTensorProduct

    torch.manual_seed(0)
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            tp = AttributeTensorProduct(irreps_in, irreps_attr, irreps_out)
        finally:
            torch.set_default_dtype(torch.float32)
    x = o3.Irreps(irreps_in).randn(7, -1, dtype=torch.float64).requires_grad_()
    rows = torch.randn(3, o3.Irreps(irreps_attr).dim, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([2, 0, 0, 1, 2, 2, 0])
    results = []
    for evaluate in (tp.forward, lambda *a: per_atom_tensor_product(tp, *a)):
        out = evaluate(x, rows, index)
        grads = torch.autograd.grad(out.sin().sum(), [x, rows, tp.weight])
        results.append((out, *grads))
    for new, reference in zip(*results):
        torch.testing.assert_close(new, reference, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(tp(x, rows[index]), results[1][0], atol=1e-12, rtol=1e-10)  # one row per atom
    assert set(tp.state_dict()) == {"weight", "output_mask"}  # the state dict of e3nn's module


def test_attribute_tensor_product_rejects_non_scalar_attributes():
    from utils.model import AttributeTensorProduct

    with pytest.raises(ValueError, match="scalars"):
        AttributeTensorProduct("2x1o", "1x0o", "2x1e")


def test_network_equals_the_per_atom_evaluation(build_crystal, monkeypatch):
    """The whole network (outputs and every parameter's gradient) as with e3nn's per-atom tensor products."""
    from utils.model import AttributeTensorProduct

    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            model = tiny_model(num_neighbors=15.0, seed=2).double().train()
        finally:
            torch.set_default_dtype(torch.float32)
    data = [structure_to_graph(atoms, dtype=torch.float64) for atoms in (
        build_crystal("ZnO").repeat((1, 1, 2)), build_crystal("triclinic"), build_crystal("NaCl"))]
    batch = next(iter(DataLoader(data, batch_size=3)))
    assert torch.unique(batch.node_attr, dim=0).shape[0] < batch.num_nodes  # atoms share attribute rows

    def run():
        model.zero_grad()
        out = model(batch)
        out.square().sum().backward()
        return out.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}

    new_out, new_grads = run()
    monkeypatch.setattr(AttributeTensorProduct, "forward", per_atom_tensor_product)
    ref_out, ref_grads = run()
    torch.testing.assert_close(new_out, ref_out, atol=1e-12, rtol=1e-10)
    for name in ref_grads:
        torch.testing.assert_close(new_grads[name], ref_grads[name], atol=1e-11, rtol=1e-9, msg=name)


# ------------------------------------------------------------------------- evaluation shortcuts, same network
def test_radial_networks_once_per_distinct_length_equal_once_per_edge(graphs, monkeypatch):
    """The radial MLPs run once per distinct edge length; evaluated once per edge they give the same network."""
    model = tiny_model(num_neighbors=15.0, seed=3)
    batch = next(iter(DataLoader(list(graphs.values()), batch_size=len(graphs))))
    lengths, index = PeriodicNetwork.distinct_lengths(batch.edge_vec.norm(dim=1))
    assert index is not None and len(lengths) < batch.edge_index.shape[1] / 4  # symmetric crystals: few lengths
    with torch.no_grad():
        shared = model(batch)
        monkeypatch.setattr(PeriodicNetwork, "distinct_lengths", staticmethod(lambda length: (length, None)))
        per_edge = model(batch)
    torch.testing.assert_close(shared, per_edge, atol=1e-6, rtol=1e-5)


def test_remove_dead_code_keeps_every_output():
    from utils.model import remove_dead_code

    torch.manual_seed(0)
    tp = o3.FullyConnectedTensorProduct("4x0e + 2x1o + 1x1e", "1x0e + 1x1o", "3x0e + 2x1o + 2x1e")
    x, y = tp.irreps_in1.randn(5, -1), tp.irreps_in2.randn(5, -1)
    before = tp(x, y)
    assert remove_dead_code(tp) > 0 and remove_dead_code(tp) == 0  # unused products found once, then none left
    torch.testing.assert_close(tp(x, y), before, atol=0, rtol=0)


@pytest.mark.slow
def test_torch_compile_gives_the_eager_output(graphs):
    """torch.compile (opt-in, benchmarks/run.py --compile) traces the network; same DoS as eager."""
    model = tiny_model(num_neighbors=15.0, seed=4)
    batch = next(iter(DataLoader(list(graphs.values()), batch_size=len(graphs))))
    compiled = torch.compile(model, dynamic=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(batch), model(batch), atol=1e-5, rtol=1e-4)
