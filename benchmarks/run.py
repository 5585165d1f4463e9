#!/usr/bin/env python
"""Benchmarks of the tutorial code: graphs, training, inference, memory, notebooks.

    .venv/bin/python benchmarks/run.py                 # what `make bench` runs (~8 min on 2 cores)
    .venv/bin/python benchmarks/run.py --notebooks     # + the FAST notebook series (copies, in a temp folder)
    .venv/bin/python benchmarks/run.py --compile       # + torch.compile (minutes of compilation)
    .venv/bin/python benchmarks/run.py --long          # longer slices, 120 s race, more race variants

Writes ``benchmarks/results.json`` (every sample) and ``benchmarks/results.md`` (tables, targets, levers).

Method: the machine is shared with other jobs, so absolute times are noisy. Every comparison runs its variants
*in the same process, interleaved* — each variant gets a time slice in turn (A B C … A B C …, the starting
variant rotating every round) — and reports the median over rounds; ratios between variants are the numbers to
trust. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

OUT_DIR = ROOT / "benchmarks"
GiB = 2**30

# targets (2 CPU cores): ratios measured in one run
TARGETS = dict(train_speedup_vs_original=30.0, full_training_minutes=5.0, peak_ram_gb=2.0,
               inference_speedup_vs_original=10.0, graph_speedup_vs_ase=10.0, race_margin_spreads=2.0)
# the original tutorial's architecture (ModelConfig defaults; the headline compares training paths on it)
ORIGINAL_ARCHITECTURE = dict(em_dim=64, mul=32, lmax=1, layers=2, r_max=4.0)
# fp32 FLOPs per cycle and core with AVX2: 2 FMA units × 8 lanes × 2 FLOPs (multiply + add)
AVX2_FP32_FLOPS_PER_CYCLE = 32
# the original tutorial's configuration: ModelConfig defaults, batch 1, float64
ORIGINAL = dict(dtype="float64", batch_size=1)
TINY_MODEL = dict(em_dim=8, mul=4, lmax=1, layers=1, radial_neurons=16, num_basis=6)


# ------------------------------------------------------------------------------------------------ helpers
def _median(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return float(statistics.median(values)) if values else float("nan")


def _dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "float64": torch.float64}[name]


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


@contextlib.contextmanager
def e3nn_options(**options):
    """Build e3nn modules with other code-generation options (e3nn.set_optimization_defaults: jit_mode='script'
    for TorchScript, specialized_code / optimize_einsums False for e3nn's generic, unfused einsums)."""
    if not options:
        yield
        return
    import e3nn
    old = dict(e3nn.get_optimization_defaults())
    e3nn.set_optimization_defaults(**options)
    try:
        yield
    finally:
        e3nn.set_optimization_defaults(**{k: old[k] for k in options})


def interleave(runners: dict, rounds: int, slice_s: float, warmup_s: float = 0.5) -> dict:
    """Run every runner(slice_s) → dict of counts (must contain 'seconds') in turn, `rounds` times.

    The order rotates each round so that no variant always follows the same neighbour. Returns
    {name: [dict per round]}; a runner that raises is dropped with its error in {name: {"error": ...}}.
    """
    names = list(runners)
    samples: dict = {name: [] for name in names}
    errors: dict = {}
    for name in names:  # warm-up (first-call allocations, lazy imports, e3nn codegen)
        try:
            runners[name](warmup_s)
        except Exception as exc:  # noqa: BLE001 - a failing variant must not stop the benchmark
            errors[name] = f"{type(exc).__name__}: {exc}"
    live = [n for n in names if n not in errors]
    for r in range(rounds):
        k = r % max(len(live), 1)
        for name in live[k:] + live[:k]:
            try:
                samples[name].append(runners[name](slice_s))
            except Exception as exc:  # noqa: BLE001
                errors[name] = f"{type(exc).__name__}: {exc}"
        live = [n for n in live if n not in errors]
    out = {name: samples[name] for name in names if name not in errors}
    out.update({name: {"error": err} for name, err in errors.items()})
    return out


def _rate(samples: list, key: str) -> dict:
    rates = [s[key] / s["seconds"] for s in samples if s["seconds"] > 0]
    return dict(median=_median(rates), samples=[round(x, 2) for x in rates])


def loadavg() -> list:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# ------------------------------------------------------------------------------------------------ machine
def machine_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    import psutil

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in ("torch", "e3nn", "torch_geometric", "vesin", "ase", "numpy", "pymatgen", "psutil"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    versions["python"] = platform.python_version()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return dict(
        cpu_model=model, logical_cores=os.cpu_count(), usable_cores=affinity,
        physical_cores=psutil.cpu_count(logical=False), ram_gib=round(psutil.virtual_memory().total / GiB, 1),
        torch_threads_default=torch.get_num_threads(), torch_interop_threads=torch.get_num_interop_threads(),
        torch_parallel=("OpenMP" if "OpenMP" in torch.__config__.parallel_info() else "other"),
        env={k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")},
        platform=platform.platform(), versions=versions, git_commit=commit, git_dirty=dirty,
        loadavg_start=loadavg(), other_busy_processes=_busy_processes())


def _busy_processes(threshold_pct: float = 20.0) -> int:
    """How many other processes use ≥ threshold % CPU right now (sampled over 0.5 s)."""
    import psutil

    me = os.getpid()
    procs = [p for p in psutil.process_iter() if p.pid != me]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.cpu_percent(None)
    time.sleep(0.5)
    busy = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            busy += p.cpu_percent(None) >= threshold_pct
    return busy


# ------------------------------------------------------------------------------------------------ inputs
def _tiny_crystals():
    from ase.build import bulk
    grid = np.linspace(0, 1000, 51)
    crystals = [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.43), bulk("Cu", "fcc", a=3.61),
                bulk("MgO", "rocksalt", a=4.21), bulk("ZnO", "wurtzite", a=3.25, c=5.21), bulk("Al", "fcc", a=4.05),
                bulk("GaAs", "zincblende", a=5.65), bulk("Fe", "bcc", a=2.87)]
    dos = []
    for k in range(len(crystals)):
        g = np.exp(-0.5 * ((grid - 150 - 60 * k) / 60.0) ** 2)
        dos.append(g / g.max())
    return crystals, dos


def shipped_configuration() -> dict:
    """Model and training configuration, training time and dataset of one network of checkpoints/default (its
    model.json; for the shipped ensemble, that of its first member: every member has the same configuration)."""
    from utils.checkpoint import ENSEMBLE_FILE, is_ensemble
    from utils.train import DEFAULT_CHECKPOINT

    folder = DEFAULT_CHECKPOINT
    if is_ensemble(folder):
        folder = folder / json.loads((folder / ENSEMBLE_FILE).read_text())["members"][0]["path"]
    meta = json.loads((folder / "model.json").read_text())
    model_config = {k: v for k, v in meta["model_config"].items() if k != "num_neighbors"}
    seconds = meta.get("history", {}).get("seconds") or [None]
    return dict(model_config=model_config, train_config=meta.get("train_config", {}), train_seconds=seconds[-1],
                dataset=meta.get("dataset", {}).get("version"), checkpoint=str(DEFAULT_CHECKPOINT.relative_to(ROOT)))


def load_inputs(tiny: bool = False) -> dict:
    """Structures (ase Atoms), float32/float64 graphs of the train/valid split, dataset facts."""
    from utils.graphs import structure_to_graph
    from utils.train import graphs_from_dataset

    if tiny:
        atoms, dos = _tiny_crystals()
        g32 = [structure_to_graph(a, dos=d) for a, d in zip(atoms, dos)]
        g64 = [structure_to_graph(a, dos=d, dtype=torch.float64) for a, d in zip(atoms, dos)]
        split = dict(train=list(range(6)), valid=[6, 7], test=[])
        shipped = dict(model_config=dict(TINY_MODEL), train_config=dict(epochs=2), train_seconds=None,
                       dataset=None, checkpoint=None)
        return dict(tiny=True, dataset=None, atoms=atoms, model_base=dict(TINY_MODEL), shipped=shipped,
                    train32=[g32[i] for i in split["train"]], valid32=[g32[i] for i in split["valid"]],
                    train64=[g64[i] for i in split["train"]], valid64=[g64[i] for i in split["valid"]],
                    all32=g32, facts=dict(source="synthetic (tiny)", n_materials=len(atoms),
                                          split={k: len(v) for k, v in split.items()}))
    from utils.data import load_dataset
    ds = load_dataset()
    idx = {name: ds.split(name) for name in ("train", "valid", "test")}
    graphs = {name: graphs_from_dataset(ds, ix, 4.0) for name, ix in idx.items()}
    graphs64 = {name: graphs_from_dataset(ds, idx[name], 4.0, dtype=torch.float64) for name in ("train", "valid")}
    n_atoms = np.array([int(n) for n in ds.arrays["n_atoms"]])
    n_edges = np.array([g.edge_index.shape[1] for gs in graphs.values() for g in gs])
    return dict(tiny=False, dataset=ds, atoms=[m.to_ase() for m in ds], model_base={}, shipped=shipped_configuration(),
                train32=graphs["train"], valid32=graphs["valid"], train64=graphs64["train"],
                valid64=graphs64["valid"], all32=graphs["train"] + graphs["valid"] + graphs["test"],
                facts=dict(source="embedded", version=ds.version, sha256=ds.sha256[:12], n_materials=len(ds),
                           split=ds.split_sizes(), atoms_per_structure=dict(
                               mean=round(float(n_atoms.mean()), 2), max=int(n_atoms.max())),
                           edges_per_structure_mean=round(float(n_edges.mean()), 1)))


# --------------------------------------------------------------------------------------- graph construction
def ase_neighbour_pairs(positions, cell, r_max):
    """utils.graphs._neighbour_pairs with ase's neighbour list instead of vesin's: same checks of r_max, same
    post-processing (edge vectors, lengths, the r_max test, the order), so only the neighbour search differs."""
    from ase.neighborlist import primitive_neighbor_list
    from utils.graphs import GraphError, _finish_edges

    if not (np.isfinite(r_max) and r_max > 0):
        raise GraphError(f"r_max must be a positive number of Å, got {r_max}.")
    # ase: D = positions[j] - positions[i] + S @ cell; i receives (dst), j sends (src)
    receiver, sender, shift = primitive_neighbor_list("ijS", (True, True, True), cell, positions,
                                                      float(r_max) * (1 + 1e-9) + 1e-9)
    return _finish_edges(positions, cell, r_max, np.asarray(sender, dtype=np.int64),
                         np.asarray(receiver, dtype=np.int64), np.asarray(shift, dtype=np.int64).reshape(-1, 3))


def ase_periodic_edges(positions, cell, r_max):
    """Same contract and output as utils.graphs.periodic_edges, with ase's neighbour list instead of vesin's."""
    from utils.graphs import _check_geometry

    positions = np.asarray(positions, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    _check_geometry(positions, cell)
    return ase_neighbour_pairs(positions, cell, r_max)[:4]


def ase_structure_to_graph(structure, r_max: float = 4.0, **kwargs):
    """utils.graphs.structure_to_graph with ase's neighbour list: same checks, same Data, same edges."""
    import utils.graphs as graphs_mod

    with mock.patch.object(graphs_mod, "_neighbour_pairs", ase_neighbour_pairs):
        return graphs_mod.structure_to_graph(structure, r_max=r_max, **kwargs)


def same_edges(atoms_list, r_max: float = 4.0) -> bool:
    from utils.graphs import structure_to_graph
    for atoms in atoms_list:
        a, b = structure_to_graph(atoms, r_max=r_max), ase_structure_to_graph(atoms, r_max=r_max)
        if not (torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_shift, b.edge_shift)
                and torch.allclose(a.edge_vec, b.edge_vec, atol=1e-5)):
            return False
    return True


def bench_graphs(inputs: dict, rounds: int, slice_s: float) -> dict:
    """structures/s: neighbour list only, structure → graph (vesin vs ase), dataset material → graph."""
    from utils.graphs import periodic_edges, structure_to_graph
    from utils.train import graphs_from_dataset

    atoms = inputs["atoms"]
    arrays = [(a.positions.copy(), a.cell.array.copy()) for a in atoms]
    ds = inputs["dataset"]

    def loop(fn, items):
        position = [0]  # each slice continues where the last one stopped, so every structure gets its turn

        def run(seconds):
            n, t0 = 0, time.perf_counter()
            while True:
                for _ in range(16):
                    fn(items[position[0] % len(items)])
                    position[0] += 1
                n += 16
                if time.perf_counter() - t0 >= seconds:
                    return dict(structures=n, seconds=time.perf_counter() - t0)
        return run

    runners = {
        "neighbour_list_vesin": loop(lambda pc: periodic_edges(pc[0], pc[1], 4.0), arrays),
        "neighbour_list_ase": loop(lambda pc: ase_periodic_edges(pc[0], pc[1], 4.0), arrays),
        "structure_to_graph_vesin": loop(lambda a: structure_to_graph(a, r_max=4.0), atoms),
        "structure_to_graph_ase": loop(lambda a: ase_structure_to_graph(a, r_max=4.0), atoms),
    }
    if ds is not None:
        idx = list(range(len(ds)))
        runners["dataset_to_graph_pymatgen"] = loop(lambda i: graphs_from_dataset(ds, [i], 4.0), idx)
        runners["dataset_to_graph_ase"] = loop(
            lambda i: structure_to_graph(ds[i].to_ase(), r_max=4.0, dos=ds[i].dos), idx)
    samples = interleave(runners, rounds, slice_s, warmup_s=min(slice_s, 0.3))
    out = {name: (_rate(s, "structures") if isinstance(s, list) else s) for name, s in samples.items()}
    out["edges_identical_vesin_vs_ase"] = same_edges(atoms)
    out["n_structures"] = len(atoms)
    out["description"] = dict(
        neighbour_list_vesin="utils.graphs.periodic_edges (vesin), positions/cell given",
        neighbour_list_ase="the same contract with ase.neighborlist.primitive_neighbor_list",
        structure_to_graph_vesin="utils.graphs.structure_to_graph(ase Atoms): checks, encodings, edges, Data",
        structure_to_graph_ase="the same function with the neighbour list swapped for ase's",
        dataset_to_graph_pymatgen="utils.train.graphs_from_dataset, one material: builds a pymatgen Structure first",
        dataset_to_graph_ase="dataset material → Material.to_ase() → structure_to_graph (no pymatgen)")
    return out


# ------------------------------------------------------- the original tutorial's per-atom tensor products
# utils.model evaluates the node-attribute tensor products sc, lin1, lin2 once per distinct attribute row
# (AttributeTensorProduct). The original tutorial evaluated e3nn's FullyConnectedTensorProduct on every atom;
# the `original` variants patch that evaluation back in (same parameters, same outputs up to round-off).
def _per_atom_forward(self, x, attr, attr_index=None):
    from e3nn import o3
    if attr_index is None:
        return o3.FullyConnectedTensorProduct.forward(self, x, attr)
    index = attr_index if isinstance(attr_index, torch.Tensor) else attr_index.atom_row  # or an AttributeIndex
    return o3.FullyConnectedTensorProduct.forward(self, x, attr[index])


def _index_only(cls, index, k, size=8):
    """AttributeIndex.from_index without the chunked layout, which the per-atom products do not use."""
    return cls(index, None, None, size)


def _every_length(edge_length):
    """PeriodicNetwork.distinct_lengths as the original evaluated the radial MLPs: once per edge."""
    return edge_length, None


@contextlib.contextmanager
def per_atom_tensor_products():
    """Evaluate the node-attribute tensor products per atom and the radial MLPs per edge, as the original tutorial's
    network did (utils.model: once per distinct attribute row and once per distinct edge length; same outputs)."""
    from utils.model import AttributeIndex, AttributeTensorProduct, PeriodicNetwork

    with mock.patch.object(AttributeTensorProduct, "forward", _per_atom_forward), \
            mock.patch.object(AttributeIndex, "from_index", classmethod(_index_only)), \
            mock.patch.object(PeriodicNetwork, "distinct_lengths", staticmethod(_every_length)):
        yield


def attribute_tp_check(inputs: dict) -> dict:
    """Max |Δ| of outputs and gradients, per-distinct-row (utils.model) vs per-atom (e3nn), default batch, float32."""
    from torch_geometric.loader import DataLoader

    from utils.model import ModelConfig, PeriodicNetwork
    from utils.train import average_num_neighbors

    torch.manual_seed(0)
    model = PeriodicNetwork(ModelConfig(**inputs["model_base"], num_neighbors=average_num_neighbors(inputs["train32"])))
    batch = next(iter(DataLoader(inputs["train32"], batch_size=16)))

    def run():
        model.zero_grad()
        out = model(batch)
        torch.nn.functional.mse_loss(out, batch.y).backward()
        return out.detach(), [p.grad.detach().clone() for p in model.parameters()]

    new, g_new = run()
    with per_atom_tensor_products():
        ref, g_ref = run()
    return dict(max_abs_output_diff=float((ref - new).abs().max()),
                max_rel_grad_diff=max(float((a - b).abs().max() / (a.abs().max() + 1e-12)) for a, b in zip(g_ref, g_new)),
                atoms_in_batch=int(batch.num_nodes), distinct_attr_rows=int(torch.unique(batch.node_attr, dim=0).shape[0]))


# ------------------------------------------------------------------------------------- cuEquivariance (GPU)
class _CueqEdgeProduct(torch.nn.Module):
    """cuEquivariance's channel-wise tensor product standing in for a Convolution's e3nn "uvu" product `tp`."""

    def __init__(self, tp, module):
        super().__init__()
        self.cue_tp = module
        self.weight_numel = tp.weight_numel

    def forward(self, x, edge_attr, weight):
        return self.cue_tp(x, edge_attr, weight)


def use_cuequivariance(model, device) -> dict:
    """Swap each Convolution's edge tensor product for cuequivariance_torch.ChannelWiseTensorProduct (GPU only).

    Every swap is checked against e3nn on random inputs (same weights); a missing package, a CPU device, a
    construction error or a mismatch leaves e3nn's product in place. Returns what happened."""
    if torch.device(device).type != "cuda":
        return dict(used=False, reason="not a CUDA device: e3nn kept")
    try:
        import cuequivariance as cue
        import cuequivariance_torch as cuet
    except ImportError as exc:
        return dict(used=False, reason=f"cuequivariance_torch not installed ({exc}): e3nn kept")
    from utils.model import Convolution

    swapped, failures = 0, []
    for name, conv in model.named_modules():
        if not isinstance(conv, Convolution):
            continue
        tp = conv.tp
        try:
            module = cuet.ChannelWiseTensorProduct(
                cue.Irreps("O3", str(tp.irreps_in1)), cue.Irreps("O3", str(tp.irreps_in2)),
                filter_irreps_out=[cue.O3(ir.l, ir.p) for _, ir in tp.irreps_out], layout=cue.mul_ir,
                shared_weights=False, internal_weights=False, device=device,
                dtype=next(model.parameters()).dtype)
            if str(module.irreps_out) != str(cue.Irreps("O3", str(tp.irreps_out))):
                raise ValueError(f"output irreps {module.irreps_out} ≠ e3nn's {tp.irreps_out}")
            if module.weight_numel != tp.weight_numel:
                raise ValueError(f"{module.weight_numel} weights ≠ e3nn's {tp.weight_numel}")
            x = tp.irreps_in1.randn(37, -1, device=device)
            y = tp.irreps_in2.randn(37, -1, device=device)
            w = torch.randn(37, tp.weight_numel, device=device)
            diff = float((module(x, y, w) - tp(x, y, w)).abs().max())
            if not diff < 1e-4:
                raise ValueError(f"differs from e3nn by {diff:.1e}")
            conv.tp = _CueqEdgeProduct(tp, module)
            swapped += 1
        except Exception as exc:  # noqa: BLE001 - any failure: keep e3nn for this layer
            failures.append(f"{name}: {type(exc).__name__}: {exc}"[:300])
    return dict(used=swapped > 0, swapped=swapped, failures=failures,
                reason=None if swapped else "no layer could be swapped: e3nn kept")


# ------------------------------------------------------------------------------------------------ training
@dataclasses.dataclass
class Variant:
    name: str
    label: str
    dtype: str = "float32"
    batch_size: int | None = None  # None: TrainConfig default
    threads: int | None = None  # None: the benchmark's --threads
    model: dict = dataclasses.field(default_factory=dict)  # ModelConfig overrides
    optimizer: str = "project"  # 'project': utils.train's optimizer; 'adamw': plain torch.optim.AdamW
    e3nn: dict = dataclasses.field(default_factory=dict)  # e3nn code-generation options for the model's modules
    lr: float | None = None
    per_atom_tp: bool = False  # the original's evaluation (patched in): attribute products per atom, radial MLPs per edge
    shipped: bool = False  # model and training configuration of checkpoints/default
    cueq: bool = False  # cuEquivariance edge tensor products (GPU only; falls back to e3nn)


def _project_optimizer(model, cfg):
    import utils.train as train_mod
    maker = getattr(train_mod, "_adamw", None)
    if maker is not None:
        return maker(model.parameters(), cfg)
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


class Trainer:
    """One variant's model, optimizer, scheduler and data; trains in slices (throughput) or whole epochs (race)."""

    def __init__(self, variant: Variant, inputs: dict, threads: int, seed: int = 0, device: str = "cpu"):
        from torch_geometric.loader import DataLoader

        from utils.model import ModelConfig, PeriodicNetwork
        from utils.train import TrainConfig, average_num_neighbors

        self.variant = variant
        self.dtype = _dtype(variant.dtype)
        self.threads = variant.threads or threads
        self.device = torch.device(device)
        f64 = self.dtype is torch.float64
        self.train_graphs = inputs["train64"] if f64 else inputs["train32"]
        self.valid_graphs = inputs["valid64"] if f64 else inputs["valid32"]
        defaults = TrainConfig(**inputs["shipped"]["train_config"]) if variant.shipped else TrainConfig()
        self.cfg = dataclasses.replace(defaults, batch_size=variant.batch_size or defaults.batch_size,
                                       lr=variant.lr or defaults.lr, seed=seed)
        base = inputs["shipped"]["model_config"] if variant.shipped else inputs["model_base"]
        config = ModelConfig(**{**base, **variant.model}, num_neighbors=average_num_neighbors(inputs["train32"]))
        self.config = config
        with default_dtype(self.dtype), e3nn_options(**variant.e3nn):
            torch.manual_seed(seed)
            self.model = PeriodicNetwork(config).to(self.dtype).to(self.device)
        self.cueq = use_cuequivariance(self.model, self.device) if variant.cueq else None
        self.n_params = sum(p.numel() for p in self.model.parameters())
        if variant.optimizer == "project":
            self.opt = _project_optimizer(self.model, self.cfg)
        else:
            self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=self.cfg.gamma)
        self.loader = DataLoader(self.train_graphs, batch_size=self.cfg.batch_size, shuffle=True,
                                 generator=torch.Generator().manual_seed(seed))
        self.valid_loader = DataLoader(self.valid_graphs, batch_size=64, shuffle=False)
        self._batches = iter(())
        self._race_batches, self._race_loss = None, [0.0, 0]
        self.seen = 0
        self.elapsed = 0.0
        self.history: list = []
        self.best = math.inf

    @contextlib.contextmanager
    def context(self):
        old_threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with default_dtype(self.dtype), (per_atom_tensor_products() if self.variant.per_atom_tp
                                             else contextlib.nullcontext()):
                yield
        finally:
            torch.set_num_threads(old_threads)

    def _step(self, batch) -> float:
        self.seen += batch.num_graphs
        batch = batch.to(self.device)
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(self.model(batch), batch.y)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def run_for(self, seconds: float) -> dict:
        """Train for about `seconds` (whole steps, cycling through epochs); counts structures and atoms."""
        n = atoms = steps = 0
        with self.context():
            t0 = time.perf_counter()
            while True:
                batch = next(self._batches, None)
                if batch is None:
                    self._batches = iter(self.loader)
                    continue
                self._step(batch)
                n += batch.num_graphs
                atoms += batch.num_nodes
                steps += 1
                if time.perf_counter() - t0 >= seconds:
                    break
            return dict(structures=n, atoms=atoms, steps=steps, seconds=time.perf_counter() - t0)

    @torch.no_grad()
    def valid_mse(self) -> float:
        self.model.eval()
        total, count = 0.0, 0
        for batch in self.valid_loader:
            batch = batch.to(self.device)
            total += float(torch.nn.functional.mse_loss(self.model(batch), batch.y, reduction="sum")) / batch.y.shape[1]
            count += batch.num_graphs
        return total / max(count, 1)

    def race_slice(self, seconds: float) -> None:
        """Train for about `seconds` of this trainer's clock, stopping at the end of an epoch; an epoch ends as in
        utils.train (lr decay, validation, best kept). Validation time counts on the clock, as in utils.train."""
        with self.context():
            t0 = time.perf_counter()
            if self._race_batches is None:
                self._race_batches, self._race_loss = iter(self.loader), [0.0, 0]
            while True:
                batch = next(self._race_batches, None)
                if batch is None:
                    self.sched.step()
                    self._validate_into_history(*self._race_loss)
                    self._race_batches = None
                    break
                self._race_loss[0] += self._step(batch) * batch.num_graphs
                self._race_loss[1] += batch.num_graphs
                if time.perf_counter() - t0 >= seconds:
                    break
            self.elapsed += time.perf_counter() - t0

    def race_finish(self) -> None:
        """At the end of the budget, validate the weights of an unfinished epoch too (its time counts)."""
        if self._race_batches is not None and self._race_loss[1]:
            with self.context():
                t0 = time.perf_counter()
                self._validate_into_history(*self._race_loss)
                self.elapsed += time.perf_counter() - t0
            self._race_batches = None

    def _validate_into_history(self, loss_sum: float, count: int) -> None:
        valid = self.valid_mse()
        self.best = min(self.best, valid)
        self.history.append(dict(epoch=len(self.history), seconds=round(self.elapsed, 3),
                                 train_mse=loss_sum / max(count, 1), valid_mse=valid, best_valid_mse=self.best))

    def epoch(self) -> dict:
        """One epoch as utils.train.train runs it (steps, lr decay, validation); its time adds to `elapsed`."""
        with self.context():
            t0 = time.perf_counter()
            total = count = 0
            for batch in self.loader:
                total += self._step(batch) * batch.num_graphs
                count += batch.num_graphs
            self.sched.step()
            valid = self.valid_mse()
            self.elapsed += time.perf_counter() - t0
        self.best = min(self.best, valid)
        row = dict(epoch=len(self.history), seconds=round(self.elapsed, 3), train_mse=total / max(count, 1),
                   valid_mse=valid, best_valid_mse=self.best)
        self.history.append(row)
        return row


ORIGINAL_VARIANT = Variant("original", "original tutorial: batch 1, float64, plain AdamW, e3nn tensor products per "
                                       "atom, radial MLPs per edge", dtype="float64", batch_size=1, optimizer="adamw", per_atom_tp=True)
DEFAULT_VARIANT = Variant("default", "project: TrainConfig defaults (batch 16, float32, fused AdamW), tensor "
                                     "products per distinct element, radial MLPs per distinct edge length")
B32_VARIANT = Variant("b32", "project path at batch 32", batch_size=32)
B64_VARIANT = Variant("b64", "project path at batch 64", batch_size=64)
RACE_VARIANTS = dict(original=ORIGINAL_VARIANT, default=DEFAULT_VARIANT, b32=B32_VARIANT, b64=B64_VARIANT)
SHIPPED_VARIANT = Variant("shipped", "shipped model: checkpoints/default's ModelConfig and TrainConfig", shipped=True)


def training_variants(threads: int, long: bool = False, device: str = "cpu") -> list:
    other = 2 if threads == 1 else 1
    variants = [
        ORIGINAL_VARIANT,
        DEFAULT_VARIANT,
        Variant("original_new_tp", "original (batch 1, float64, plain AdamW) with the per-element tensor products and "
                                   "per-length radial MLPs: the model change alone", dtype="float64", batch_size=1,
                optimizer="adamw"),
        Variant("f32_b1", "original in float32: the dtype alone", batch_size=1, optimizer="adamw", per_atom_tp=True),
        Variant("f64_b16", "original at batch 16: the batch alone", dtype="float64", batch_size=16,
                optimizer="adamw", per_atom_tp=True),
        Variant("default_per_atom", "project default with per-atom tensor products and per-edge radial MLPs",
                per_atom_tp=True),
        B32_VARIANT,
        B64_VARIANT,
        Variant("b64_per_atom", "project path at batch 64 with per-atom tensor products and per-edge radial MLPs",
                batch_size=64, per_atom_tp=True),
        Variant(f"threads{other}", f"default with torch.set_num_threads({other})", threads=other),
        Variant("adamw_unfused", "default with the plain (unfused) torch AdamW", optimizer="adamw"),
        Variant("e3nn_unfused", "default, e3nn without its specialized code and opt_einsum-fused contractions "
                                "(specialized_code=False, optimize_einsums=False)",
                e3nn=dict(specialized_code=False, optimize_einsums=False)),
        Variant("e3nn_script", "default, e3nn modules built with jit_mode='script' (TorchScript)",
                e3nn=dict(jit_mode="script")),
        Variant("em32", "lean: em_dim 32 (else defaults), batch 16", model=dict(em_dim=32)),
        Variant("em32_b64", "lean: em_dim 32, batch 64", model=dict(em_dim=32), batch_size=64),
    ]
    if torch.device(device).type == "cuda":
        variants.append(Variant("cueq", "default with cuEquivariance edge tensor products", cueq=True))
        variants.append(Variant("cueq_b64", "batch 64 with cuEquivariance edge tensor products", cueq=True,
                                batch_size=64))
    if long:
        variants.append(Variant("em32_mul16", "lean: em_dim 32, mul 16, batch 16", model=dict(em_dim=32, mul=16)))
    return variants


def paired_interleave(base: str, runners: dict, rounds: int, slice_s: float, warmup_s: float = 0.5) -> dict:
    """Every other runner against `base`, in back-to-back pairs (base, X) or (X, base), alternating, the order
    of the X rotating each round. Returns {"samples": {name: [...]}, "ratios": {name: [X/base per pair]},
    "errors": {name: msg}}: each ratio compares two slices taken seconds apart, under the same load."""
    names = [n for n in runners if n != base]
    samples: dict = {n: [] for n in runners}
    ratios: dict = {n: [] for n in names}
    errors: dict = {}
    for name in [base] + names:
        try:
            runners[name](warmup_s)
        except Exception as exc:  # noqa: BLE001 - a failing variant must not stop the benchmark
            errors[name] = f"{type(exc).__name__}: {exc}"
    if base in errors:
        return dict(samples=samples, ratios=ratios, errors=errors)
    live = [n for n in names if n not in errors]
    for r in range(rounds):
        k = r % max(len(live), 1)
        for i, name in enumerate(live[k:] + live[:k]):
            order = (base, name) if (r + i) % 2 == 0 else (name, base)
            got = {}
            try:
                for n in order:
                    got[n] = runners[n](slice_s)
            except Exception as exc:  # noqa: BLE001
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            samples[base].append(got[base])
            samples[name].append(got[name])
            ratios[name].append((got[name]["structures"] / got[name]["seconds"])
                                / (got[base]["structures"] / got[base]["seconds"]))
        live = [n for n in live if n not in errors]
    return dict(samples=samples, ratios=ratios, errors=errors)


def bench_training(inputs: dict, variants: list, threads: int, rounds: int, slice_s: float,
                   device: str = "cpu") -> dict:
    """Lever table: each variant paired with the project default (see paired_interleave); × default is the
    median of the paired ratios, × original = (× default of the variant) / (× default of the original)."""
    trainers, out = {}, {}
    for v in variants:
        try:
            trainers[v.name] = Trainer(v, inputs, threads, device=device)
        except Exception as exc:  # noqa: BLE001
            out[v.name] = dict(label=v.label, error=f"{type(exc).__name__}: {exc}")
    if "default" not in trainers:
        return out
    res = paired_interleave("default", {name: t.run_for for name, t in trainers.items()}, rounds, slice_s,
                            warmup_s=min(1.0, slice_s))
    for name, t in trainers.items():
        v = t.variant
        row = dict(label=v.label, dtype=v.dtype, batch_size=t.cfg.batch_size, threads=t.threads, model=v.model,
                   optimizer=v.optimizer, e3nn=v.e3nn, per_atom_tp=v.per_atom_tp, n_params=t.n_params)
        if t.cueq is not None:
            row["cueq"] = t.cueq
        s = res["samples"][name]
        if name in res["errors"] or not s:
            row["error"] = res["errors"].get(name, "no samples")
        else:
            row["structures_per_s"] = _rate(s, "structures")
            row["atoms_per_s"] = _rate(s, "atoms")
            row["ms_per_step"] = _median([1e3 * x["seconds"] / x["steps"] for x in s])
            if name == "default":
                row["speedup_vs_default"] = 1.0
            else:
                row["speedup_vs_default"] = _median(res["ratios"][name])
                row["paired_ratios"] = [round(x, 3) for x in res["ratios"][name]]
        out[name] = row
    orig = out.get("original", {}).get("speedup_vs_default")
    for row in out.values():
        if row.get("speedup_vs_default") and orig:
            row["speedup_vs_original"] = row["speedup_vs_default"] / orig
    return out


def bench_headline(inputs: dict, threads: int, rounds: int, slice_s: float, device: str = "cpu") -> dict:
    """`train_speedup_vs_original`: the original tutorial's training path vs the project's (TrainConfig defaults) on
    the original architecture, interleaved (the project path at batch 64 and the shipped model's configuration
    alongside); each round's ratio compares slices taken seconds apart, the headline is their median."""
    variants = [ORIGINAL_VARIANT, DEFAULT_VARIANT, B32_VARIANT, B64_VARIANT, SHIPPED_VARIANT]
    trainers = {v.name: Trainer(v, inputs, threads, device=device) for v in variants}
    architecture = {k: getattr(trainers["default"].config, k) for k in ORIGINAL_ARCHITECTURE}
    samples = interleave({name: t.run_for for name, t in trainers.items()}, rounds, slice_s,
                         warmup_s=min(1.0, slice_s))
    out = {}
    for name, t in trainers.items():
        s = samples[name]
        if isinstance(s, dict):
            out[name] = dict(label=t.variant.label, error=s["error"])
            continue
        out[name] = dict(label=t.variant.label, dtype=t.variant.dtype, batch_size=t.cfg.batch_size,
                         threads=t.threads, n_params=t.n_params, model=t.config.to_dict(),
                         structures_per_s=_rate(s, "structures"), atoms_per_s=_rate(s, "atoms"),
                         ms_per_step=_median([1e3 * x["seconds"] / x["steps"] for x in s]))
    if "error" in out.get("original", {}) or "error" in out.get("default", {}):
        return dict(error=out.get("original", {}).get("error") or out["default"]["error"], variants=out)

    def ratios(name):
        return [(d["structures"] / d["seconds"]) / (o["structures"] / o["seconds"])
                for d, o in zip(samples[name], samples["original"])] if isinstance(samples[name], list) else []

    per_round = {name: [round(x, 2) for x in ratios(name)] for name in trainers if name != "original"}
    res = dict(variants=out, per_round_ratio=per_round["default"], per_round_ratios=per_round,
               train_speedup_vs_original=_median(ratios("default")),
               train_speedup_vs_original_b32=_median(ratios("b32")),
               train_speedup_vs_original_b64=_median(ratios("b64")),
               shipped_speedup_vs_original=_median(ratios("shipped")),
               ratio_of_medians=out["default"]["structures_per_s"]["median"]
               / out["original"]["structures_per_s"]["median"], rounds=rounds, slice_s=slice_s, device=str(device),
               architecture=architecture,
               original_architecture=bool(not inputs["tiny"] and architecture == ORIGINAL_ARCHITECTURE))
    return res


def edge_feature_share(inputs: dict, threads: int, reps: int = 30) -> dict:
    """How much of a default training step the per-edge inputs (spherical harmonics, cutoff, radial basis) cost:
    the upper bound of what caching them in the data layer could save."""
    from e3nn.math import soft_one_hot_linspace
    from torch_geometric.loader import DataLoader

    from utils.model import smooth_cutoff

    t = Trainer(Variant("default", "default"), inputs, threads)
    batch = next(iter(DataLoader(t.train_graphs, batch_size=t.cfg.batch_size, shuffle=False)))
    cfg = t.model.config

    def edges():
        vec = batch.edge_vec
        length = vec.norm(dim=1)
        attr = t.model.spherical_harmonics(vec) * smooth_cutoff(length / cfg.r_max)[:, None]
        emb = soft_one_hot_linspace(length, 0.0, cfg.r_max, cfg.num_basis, basis="gaussian", cutoff=False)
        return attr, emb.mul(cfg.num_basis**0.5)

    edge_ms, step_ms, collate_ms = [], [], []
    loader = DataLoader(t.train_graphs, batch_size=t.cfg.batch_size, shuffle=True)
    with t.context():
        t._step(batch)
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps):
                edges()
            edge_ms.append(1e3 * (time.perf_counter() - t0) / reps)
            t0 = time.perf_counter()
            for _ in range(3):
                t._step(batch)
            step_ms.append(1e3 * (time.perf_counter() - t0) / 3)
            t0 = time.perf_counter()
            nb = 0
            for _ in loader:
                nb += 1
            collate_ms.append(1e3 * (time.perf_counter() - t0) / max(nb, 1))
    e, s, c = _median(edge_ms), _median(step_ms), _median(collate_ms)
    return dict(batch_size=t.cfg.batch_size, edges_in_batch=int(batch.edge_index.shape[1]),
                atoms_in_batch=int(batch.num_nodes), edge_features_ms=e, train_step_ms=s,
                edge_share_pct=100 * e / s, collate_ms_per_batch=c, collate_share_pct=100 * c / s)


def module_breakdown(inputs: dict, threads: int, reps: int = 5) -> dict:
    """Forward-pass time by kind of module for a default batch (hooks with perf_counter), in %."""
    from torch_geometric.loader import DataLoader

    t = Trainer(Variant("default", "default"), inputs, threads)
    batch = next(iter(DataLoader(t.train_graphs, batch_size=t.cfg.batch_size, shuffle=False)))
    kinds = dict(sc="self-connection sc (FCTP x ⊗ node_attr)", lin1="lin1 (FCTP x ⊗ node_attr)",
                 lin2="lin2 (FCTP messages ⊗ node_attr)", tp="edge tensor product tp (uvu)",
                 fc="radial MLP fc", gate="Gate")
    acc = {k: 0.0 for k in kinds}
    starts: dict = {}
    handles = []
    for name, module in t.model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf in kinds:
            handles.append(module.register_forward_pre_hook(
                lambda m, a, key=name: starts.__setitem__(key, time.perf_counter())))
            handles.append(module.register_forward_hook(
                lambda m, a, o, key=name, kind=leaf: acc.__setitem__(kind, acc[kind] + time.perf_counter()
                                                                     - starts[key])))
    with t.context(), torch.no_grad():
        t.model.eval()
        t.model(batch)
        for k in acc:
            acc[k] = 0.0
        t0 = time.perf_counter()
        for _ in range(reps):
            t.model(batch)
        total = time.perf_counter() - t0
    for h in handles:
        h.remove()
    shares = {kinds[k]: round(100 * v / total, 1) for k, v in acc.items()}
    shares["everything else (embedding, edge inputs, scatter, pooling)"] = round(100 - sum(shares.values()), 1)
    params = {}
    for name, p in t.model.named_parameters():
        leaf = name.split(".")[-2] if "." in name else name
        params[leaf] = params.get(leaf, 0) + p.numel()
    return dict(forward_ms=1e3 * total / reps, share_pct=shares, params_by_module=params, n_params=t.n_params)


# ------------------------------------------------------------------------------------------ equal wall time
def race(inputs: dict, variants: list, threads: int, seconds: float, seeds: int = 3, slice_s: float = 5.0,
         device: str = "cpu") -> dict:
    """Each variant × seed trains like utils.train (epochs, lr decay, validation each epoch, best weights kept) for
    `seconds` of its own wall time; slices of all runs interleaved, the run with the least time so far going next
    (so background load hits all alike). Reports the best validation MSE per seed, its mean and spread."""
    runs = {(v.name, seed): Trainer(v, inputs, threads, seed=seed, device=device) for v in variants
            for seed in range(seeds)}
    while True:
        pending = [t for t in runs.values() if t.elapsed < seconds]
        if not pending:
            break
        t = min(pending, key=lambda t: t.elapsed)
        t.race_slice(min(slice_s, seconds - t.elapsed + 1e-3))
    for t in runs.values():
        t.race_finish()
    out = {}
    for v in variants:
        mine = [runs[(v.name, seed)] for seed in range(seeds)]
        best = [t.best for t in mine]
        mean = float(np.mean(best))
        std = float(np.std(best, ddof=1)) if seeds > 1 else float("nan")
        out[v.name] = dict(label=v.label, batch_size=mine[0].cfg.batch_size, dtype=v.dtype,
                           seconds=[round(t.elapsed, 1) for t in mine], epochs=[len(t.history) for t in mine],
                           structures_seen=[t.seen for t in mine],
                           best_valid_mse=best, best_valid_mse_mean=mean, best_valid_mse_std=std,
                           best_valid_mse_range=[float(min(best)), float(max(best))],
                           curves=[[{k: (round(x, 5) if isinstance(x, float) else x) for k, x in row.items()}
                                    for row in t.history] for t in mine])
    res = dict(seconds_each=seconds, seeds=seeds, n_valid=len(inputs["valid32"]), n_train=len(inputs["train32"]),
               variants=out)
    if "original" in out and "default" in out:
        o, d = out["original"], out["default"]
        spread = max(o["best_valid_mse_std"], d["best_valid_mse_std"])
        res["margin"] = o["best_valid_mse_mean"] - d["best_valid_mse_mean"]
        res["spread"] = spread
        res["margin_in_spreads"] = res["margin"] / spread if spread and spread > 0 else float("nan")
    return res


# ------------------------------------------------------------------------------------------------ inference
def bench_inference(inputs: dict, threads: int, rounds: int, slice_s: float, min_structures: int = 180) -> dict:
    from utils.model import ModelConfig, PeriodicNetwork
    from utils.train import average_num_neighbors, predict

    graphs = list(inputs["all32"])
    graphs = graphs * max(1, math.ceil(min_structures / len(graphs)))
    torch.manual_seed(0)
    model = PeriodicNetwork(ModelConfig(**inputs["model_base"], num_neighbors=average_num_neighbors(inputs["train32"])))
    model.eval()
    other = 2 if threads == 1 else 1

    def runner(batch_size, n_threads, net=None):
        net = net if net is not None else model
        chunk = max(2 * batch_size, 16)  # predict() calls of a few batches, so that a slice stays short
        chunks = [graphs[k:k + chunk] for k in range(0, len(graphs), chunk)]
        position = [0]

        def run(seconds):
            old = torch.get_num_threads()
            torch.set_num_threads(n_threads)
            try:
                n = atoms = 0
                t0 = time.perf_counter()
                while True:
                    part = chunks[position[0] % len(chunks)]
                    position[0] += 1
                    predict(net, part, batch_size=batch_size)
                    n += len(part)
                    atoms += sum(g.num_nodes for g in part)
                    if time.perf_counter() - t0 >= seconds:
                        return dict(structures=n, atoms=atoms, seconds=time.perf_counter() - t0)
            finally:
                torch.set_num_threads(old)
        return run

    torch.manual_seed(0)
    lean = PeriodicNetwork(ModelConfig(**{**inputs["model_base"], "em_dim": 32},
                                       num_neighbors=average_num_neighbors(inputs["train32"]))).eval()
    runners = {f"b64_threads{threads}": runner(64, threads), f"b64_threads{other}": runner(64, other),
               f"b16_threads{threads}": runner(16, threads), f"b1_threads{threads}": runner(1, threads),
               f"b64_em32_threads{threads}": runner(64, threads, lean)}
    samples = interleave(runners, rounds, slice_s, warmup_s=0.3)
    out = {}
    for name, s in samples.items():
        out[name] = s if isinstance(s, dict) else dict(structures_per_s=_rate(s, "structures"),
                                                        atoms_per_s=_rate(s, "atoms"))
    out["headline"] = f"b64_threads{threads}"
    out["n_structures"] = len(graphs)
    out["how"] = "utils.train.predict (eval, no_grad, torch_geometric DataLoader), float32, ModelConfig defaults"
    return out


class _OnDevice(torch.nn.Module):
    """Runs a model on `device` for callers that pass CPU batches (utils.predict.predict_structures)."""

    def __init__(self, model, device):
        super().__init__()
        self.model, self.device, self.config = model, torch.device(device), model.config

    def forward(self, batch, **kwargs):
        out = self.model(batch.to(self.device), **kwargs)
        return tuple(o.cpu() for o in out) if isinstance(out, tuple) else out.cpu()


def inference_models(inputs: dict, device: str = "cpu"):
    """(project model, its metadata, original-path float64 copy): the shipped checkpoint (a random tiny model in
    tiny mode), and the same weights in float64 for the original tutorial's path."""
    from utils.model import ModelConfig, PeriodicNetwork
    from utils.train import average_num_neighbors, load_checkpoint

    if inputs["tiny"]:
        torch.manual_seed(0)
        model = PeriodicNetwork(ModelConfig(**inputs["model_base"],
                                            num_neighbors=average_num_neighbors(inputs["train32"]))).eval()
        meta = None
    else:
        model, meta = load_checkpoint(ROOT / inputs["shipped"]["checkpoint"], dataset=inputs["dataset"])
    with default_dtype(torch.float64):
        model64 = copy.deepcopy(model).double().eval()
    return model.to(device), meta, model64.to(device)


def bench_inference_e2e(inputs: dict, threads: int, rounds: int, slice_s: float, device: str = "cpu",
                        chunk: int = 64) -> dict:
    """Structures → DoS end to end, graph construction included, nothing cached:
    `project`: utils.predict.predict_structures (vesin graphs, batches of its default size, float32, per-element
    tensor products; also per-atom partial DoS, C_V and peaks); `project_dos_only`: structure_to_graph +
    utils.train.predict (batch 64) — the DoS alone; `original`: the original tutorial's path — ase's neighbour list,
    float64, batch 1, per-atom tensor products. Interleaved; the ratio of each round is the median's input."""
    from utils.graphs import structure_to_graph
    from utils.predict import predict_structures
    from utils.train import predict

    model, meta, model64 = inference_models(inputs, device)
    net = model if torch.device(device).type == "cpu" else _OnDevice(model, device)
    atoms = list(inputs["atoms"])
    r_max = model.config.r_max
    chunks = [atoms[k:k + chunk] for k in range(0, len(atoms), chunk)]

    def runner(fn):
        position = [0]

        def run(seconds):
            n = n_atoms = 0
            t0 = time.perf_counter()
            while True:
                part = chunks[position[0] % len(chunks)]
                position[0] += 1
                fn(part)
                n += len(part)
                n_atoms += sum(len(a) for a in part)
                if time.perf_counter() - t0 >= seconds:
                    return dict(structures=n, atoms=n_atoms, seconds=time.perf_counter() - t0)
        return run

    def project(part):
        predict_structures(part, model=net, meta=meta)

    def project_dos_only(part):
        predict(model, [structure_to_graph(a, r_max=r_max).to(device) for a in part], batch_size=64)

    @torch.no_grad()
    def original(part):
        with per_atom_tensor_products(), default_dtype(torch.float64):
            for a in part:
                model64(ase_structure_to_graph(a, r_max=r_max, dtype=torch.float64).to(device))

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        samples = interleave({"project": runner(project), "project_dos_only": runner(project_dos_only),
                              "original": runner(original)}, rounds, slice_s, warmup_s=min(slice_s, 1.0))
    finally:
        torch.set_num_threads(old)
    out = {}
    for name, smp in samples.items():
        out[name] = smp if isinstance(smp, dict) else dict(structures_per_s=_rate(smp, "structures"),
                                                            atoms_per_s=_rate(smp, "atoms"))
    for name in ("project", "project_dos_only"):
        if isinstance(samples.get(name), list) and isinstance(samples.get("original"), list):
            per_round = [(a["structures"] / a["seconds"]) / (o["structures"] / o["seconds"])
                         for a, o in zip(samples[name], samples["original"])]
            out[name]["per_round_ratio"] = [round(x, 2) for x in per_round]
            out[name]["speedup_vs_original"] = _median(per_round)
    out.update(n_structures=len(atoms), device=str(device), dataset=inputs["facts"].get("version", "synthetic"),
               atoms_per_structure=round(sum(len(a) for a in atoms) / len(atoms), 2),
               model=("shipped checkpoint" if not inputs["tiny"] else "tiny random model"),
               how=" ".join(bench_inference_e2e.__doc__.split("\n", 1)[1].split()))
    return out


# -------------------------------------------------------------------------------------------------- FLOPs
def cpu_peak(cores: int) -> dict:
    """fp32 peak of `cores` cores with AVX2 FMA: cores × clock × 32 FLOPs/cycle. Clock: the highest 'cpu MHz' of
    /proc/cpuinfo (a VM reports its nominal clock there; turbo may run faster, so the fraction is an upper bound)."""
    mhz, source = None, None
    try:
        values = [float(line.split(":", 1)[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("cpu MHz")]
        if values:
            mhz, source = max(values), "/proc/cpuinfo 'cpu MHz'"
    except (OSError, ValueError):
        pass
    if mhz is None:
        try:
            out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
            m = re.search(r"CPU max MHz:\s*([\d.]+)", out) or re.search(r"CPU MHz:\s*([\d.]+)", out)
            if m:
                mhz, source = float(m.group(1)), "lscpu"
        except (OSError, subprocess.SubprocessError):
            pass
    if mhz is None:
        return dict(error="no clock found in /proc/cpuinfo or lscpu")
    return dict(cores=cores, clock_ghz=round(mhz / 1e3, 3), clock_source=source,
                flops_per_cycle_per_core=AVX2_FP32_FLOPS_PER_CYCLE,
                peak_gflops=cores * mhz / 1e3 * AVX2_FP32_FLOPS_PER_CYCLE)


def flop_count(inputs: dict, headline: dict, threads: int) -> dict:
    """FLOPs of one training step (forward + backward; torch.utils.flop_counter counts matrix products, 2 per
    multiply-add, not element-wise ops) of the original and the project path, on batches of the train split, and
    the fraction of the CPU's fp32 peak they reach at the throughput measured in the headline."""
    from torch.utils.flop_counter import FlopCounterMode

    out: dict = {}
    for variant in (ORIGINAL_VARIANT, DEFAULT_VARIANT, B64_VARIANT):
        t = Trainer(variant, inputs, threads)
        flops, structures = [], 0
        with t.context():
            for k, batch in enumerate(t.loader):
                if k == 8:
                    break
                counter = FlopCounterMode(display=False)
                with counter:
                    t._step(batch)
                flops.append(counter.get_total_flops())
                structures += batch.num_graphs
        per_structure = sum(flops) / max(structures, 1)
        row = dict(batch_size=t.cfg.batch_size, dtype=variant.dtype, steps_counted=len(flops),
                   flops_per_step=float(np.mean(flops)), flops_per_structure=per_structure)
        rate = headline.get("variants", {}).get(variant.name, {}).get("structures_per_s", {}).get("median")
        if rate:
            row["gflops_per_s"] = per_structure * rate / 1e9
        out[variant.name] = row
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    peak = cpu_peak(min(usable, 2))
    out["peak"] = peak
    if "peak_gflops" in peak:
        for name in ("original", "default", "b64"):
            if "gflops_per_s" in out.get(name, {}):
                out[name]["fraction_of_peak"] = out[name]["gflops_per_s"] / peak["peak_gflops"]
                out[name]["fraction_of_thread_peak"] = out[name]["gflops_per_s"] / (
                    peak["peak_gflops"] / peak["cores"] * min(threads, peak["cores"]))
    out["note"] = ("float64 runs at half the fp32 peak on AVX2, so the original's fraction is against a peak it "
                   "cannot reach; the counter skips element-wise ops (activations, gathers, scatters, optimizer)")
    return out


def full_training_inprocess(inputs: dict, threads: int, device: str, epochs: int | None = None) -> dict:
    """The shipped model's training as utils.train runs it (its TrainConfig: epochs, batch, lr schedule, validation
    every epoch), in this process on `device` — for a GPU, where `python -m utils.train` has no device option."""
    t = Trainer(SHIPPED_VARIANT, inputs, threads, device=device)
    n_epochs = epochs or t.cfg.epochs
    t0 = time.perf_counter()
    for _ in range(n_epochs):
        t.epoch()
    wall = time.perf_counter() - t0
    return dict(device=str(device), epochs=n_epochs, wall_s=wall, minutes=wall / 60, best_valid_mse=t.best,
                batch_size=t.cfg.batch_size, note="in-process (no checkpoint writes); graphs prepared beforehand")


# ------------------------------------------------------------------------------------- subprocess + memory
def _portable_cmd(cmd) -> list[str]:
    """The command as it is stored in the results: `python` for this interpreter, paths inside the repository
    relative to it, temporary folders as <tmp>/… (the results file names no machine's paths)."""
    import tempfile
    out = []
    for c in map(str, cmd):
        if c == sys.executable:
            c = "python"
        elif Path(c).is_absolute() and Path(c).is_relative_to(ROOT):
            c = str(Path(c).relative_to(ROOT))
        elif Path(c).is_absolute() and Path(c).is_relative_to(tempfile.gettempdir()):
            c = "<tmp>/" + "/".join(Path(c).relative_to(tempfile.gettempdir()).parts[1:])
        out.append(c)
    return out


def run_with_peak_rss(cmd: list, env: dict | None = None, timeout_s: float = 600, cwd: Path | None = None,
                      interval_s: float = 0.05) -> dict:
    """Run `cmd`; peak resident memory of its process tree (psutil, every `interval_s`) and of the process itself
    (kernel high-water mark from wait4). Returns rc, wall seconds, peaks in bytes, the output's tail."""
    import psutil

    log = tempfile.TemporaryFile(mode="w+")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
    ps = psutil.Process(proc.pid)
    peak_tree, maxrss, rc, timed_out = 0, 0, None, False
    while True:
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == proc.pid:
            rc = os.waitstatus_to_exitcode(status)
            proc.returncode = rc
            maxrss = usage.ru_maxrss * 1024  # Linux: KiB
            break
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            peak_tree = max(peak_tree, rss)
        except psutil.Error:
            pass
        if time.perf_counter() - t0 > timeout_s:
            timed_out = True
            proc.kill()  # our own child, by its id
        time.sleep(interval_s)
    wall = time.perf_counter() - t0
    log.seek(0)
    tail = log.read()[-3000:]
    log.close()
    return dict(cmd=_portable_cmd(cmd), rc=rc, timed_out=timed_out, wall_s=wall,
                peak_rss_polled_bytes=peak_tree, peak_rss_kernel_bytes=maxrss,
                peak_rss_gb=max(peak_tree, maxrss) / 1e9, output_tail=tail)


def write_scaled_dataset(dataset, n_materials: int, path: Path) -> dict:
    """utils.train --data JSON with the embedded materials repeated up to `n_materials` (ids suffixed), split
    78/9/13 % like the original tutorial; returns the split sizes."""
    items = []
    n = len(dataset)
    for k in range(n_materials):
        m = dataset[k % n]
        items.append(dict(id=f"{m.id}#{k // n}", structure=dict(cell=np.asarray(m.cell).tolist(),
                                                                numbers=[int(z) for z in m.numbers],
                                                                frac_coords=np.asarray(m.frac_coords).tolist()),
                          freq_cm1=np.asarray(dataset.freq_cm1).tolist(), dos=np.asarray(m.dos).tolist()))
    n_train, n_valid = round(0.78 * n_materials), round(0.09 * n_materials)
    for k, item in enumerate(items):
        item["split"] = "train" if k < n_train else ("valid" if k < n_train + n_valid else "test")
    path.write_text(json.dumps(dict(materials=items)))
    return dict(train=n_train, valid=n_valid, test=n_materials - n_train - n_valid)


def _cli_threads_args(threads: int) -> list:
    """`--threads N` where `python -m utils.train` has that option (added after the first benchmark runs)."""
    try:
        has = '"--threads"' in (ROOT / "utils" / "train.py").read_text()
    except OSError:
        has = False
    return ["--threads", str(threads)] if has else []


def _train_env(threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TQDM_DISABLE="1",
               PYTHONWARNINGS="ignore", MPLBACKEND="Agg")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _read_history(out: Path) -> dict:
    meta_path = out / "model.json"
    if not meta_path.exists():
        return {}
    meta = json.loads(meta_path.read_text())
    hist = meta.get("history", {})
    sec = hist.get("seconds", [])
    epoch_s = [b - a for a, b in zip([0.0] + sec[:-1], sec)]
    return dict(epochs=len(sec), train_seconds=sec[-1] if sec else None, epoch_seconds=epoch_s,
                graph_seconds=meta.get("graph_seconds"), valid_mse=meta.get("metrics", {}).get("valid", {}).get("mse"),
                split=meta.get("dataset", {}).get("split_sizes"), train_config=meta.get("train_config"))


def bench_full_training(inputs: dict, threads: int, tmp: Path, scale_materials: int = 0, scale_epochs: int = 1,
                        real_epochs: int | None = None, max_minutes: float = 30.0, timeout_s: float = 2400.0) -> dict:
    """`python -m utils.train` in a subprocess with the shipped model's TrainConfig (epochs, batch, lr, seed) on the
    embedded dataset: wall time and peak RSS of a full training; optionally (b) the embedded materials repeated to
    `scale_materials`, `scale_epochs` epochs → extrapolated full training at that size."""
    from utils.train import TrainConfig

    py = sys.executable
    env = _train_env(threads)
    cli_threads = _cli_threads_args(threads)
    cfg = TrainConfig(**inputs["shipped"]["train_config"])
    epochs = real_epochs or cfg.epochs
    res: dict = dict(threads=threads, env=f"OMP_NUM_THREADS={threads}" + (f" and {' '.join(cli_threads)}"
                                                                          if cli_threads else ""),
                     default_epochs=cfg.epochs, train_config=cfg.to_dict())
    real = tmp / "real"
    cmd = [py, "-m", "utils.train", "--out", str(real), "--epochs", str(epochs), "--batch-size", str(cfg.batch_size),
           "--lr", str(cfg.lr), "--seed", str(cfg.seed), "--max-minutes", str(max_minutes)] + cli_threads
    if inputs["tiny"]:
        res["embedded"] = dict(skipped="tiny mode")
    else:
        r = run_with_peak_rss(cmd, env=env, timeout_s=timeout_s, cwd=ROOT)
        r.update(_read_history(real))
        r["complete"] = bool(r.get("rc") == 0 and r.get("epochs") == epochs)
        res["embedded"] = r
    if scale_materials and inputs["dataset"] is not None:
        data_json = tmp / "scaled.json"
        sizes = write_scaled_dataset(inputs["dataset"], scale_materials, data_json)
        out = tmp / "scaled"
        r = run_with_peak_rss([py, "-m", "utils.train", "--data", str(data_json), "--out", str(out),
                               "--epochs", str(scale_epochs), "--allow-duplicates"] + cli_threads,  # repeats on purpose
                              env=env, timeout_s=timeout_s, cwd=ROOT)
        r.update(_read_history(out))
        r["materials"] = scale_materials
        r["split"] = sizes
        if r.get("epoch_seconds"):
            epoch_s = _median(r["epoch_seconds"])
            setup = r["wall_s"] - sum(r["epoch_seconds"])  # imports, loading, graphs, model, final metrics
            r["epoch_s"] = epoch_s
            r["setup_and_eval_s"] = setup
            r["estimated_full_training_minutes"] = (setup + res["default_epochs"] * epoch_s) / 60
        res["scaled"] = r
    return res


def checkpoint_overhead(inputs: dict, tmp: Path, reps: int = 3) -> dict:
    """Seconds per epoch that utils.train spends writing files: state.pt (weights + AdamW state) every epoch,
    the checkpoint (model.pt + sha256 + model.json) whenever validation improves."""
    import utils.train as train_mod
    from utils.model import ModelConfig, PeriodicNetwork

    model = PeriodicNetwork(ModelConfig(**inputs["model_base"]))
    cfg = train_mod.TrainConfig()
    opt = _project_optimizer(model, cfg)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    history = dict(epoch=list(range(60)), train_loss=[0.1] * 60, valid_loss=[0.1] * 60, lr=[1e-3] * 60,
                   seconds=[1.0] * 60)
    state_s, ckpt_s = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        train_mod.atomic_torch_save(dict(model=model.state_dict(), optimizer=opt.state_dict(), history=history),
                                    tmp / "state.pt")
        state_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        train_mod.save_checkpoint(tmp / "ckpt", model, history=history, train_config=cfg)
        ckpt_s.append(time.perf_counter() - t0)
    return dict(state_pt_s=_median(state_s), checkpoint_s=_median(ckpt_s),
                state_pt_mb=(tmp / "state.pt").stat().st_size / 1e6)


# ----------------------------------------------------------------------------------------- torch.compile
def compile_worker(threads: int, rounds: int, slice_s: float, tiny: bool) -> dict:
    """Eager vs torch.compile(dynamic=True) training of the default model, interleaved (run in a subprocess)."""
    inputs = load_inputs(tiny)
    eager = Trainer(Variant("default", "default"), inputs, threads)
    comp = Trainer(Variant("compiled", "torch.compile(model, dynamic=True)"), inputs, threads)
    comp.model.load_state_dict(eager.model.state_dict())
    comp.opt = _project_optimizer(comp.model, comp.cfg)
    compiled = torch.compile(comp.model, dynamic=True)
    plain_model = comp.model
    t0 = time.perf_counter()
    with comp.context():
        comp.model = compiled
        for _ in range(2):  # a full batch and the smaller last one: the shapes seen in training
            for batch in comp.loader:
                comp._step(batch)
    compile_s = time.perf_counter() - t0
    from torch_geometric.loader import DataLoader
    batch = next(iter(DataLoader(inputs["valid32"], batch_size=64)))
    with torch.no_grad():
        plain_model.eval()
        compiled.eval()
        diff = float((compiled(batch) - plain_model(batch)).abs().max())
    samples = interleave({"eager": eager.run_for, "compiled": comp.run_for}, rounds, slice_s, warmup_s=0.5)
    out = dict(compile_and_first_epochs_s=compile_s, max_abs_diff_vs_eager=diff)
    try:
        from torch._dynamo.utils import counters
        out["dynamo_unique_graphs"] = int(counters["stats"]["unique_graphs"])
    except Exception:  # noqa: BLE001 - private counters, informational only
        pass
    for name, s in samples.items():
        out[name] = s if isinstance(s, dict) else dict(structures_per_s=_rate(s, "structures"))
    e = out.get("eager", {}).get("structures_per_s", {}).get("median")
    c = out.get("compiled", {}).get("structures_per_s", {}).get("median")
    if e and c:
        out["speedup"] = c / e
        out["break_even_structures"] = compile_s / max(1 / e - 1 / c, 1e-12) if c > e else None
    return out


def bench_compile(threads: int, rounds: int, slice_s: float, timeout_s: float, tiny: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--compile-worker", "--threads", str(threads),
           "--rounds", str(rounds), "--slice", str(slice_s)] + (["--tiny"] if tiny else [])
    r = run_with_peak_rss(cmd, env=_train_env(threads), timeout_s=timeout_s, cwd=ROOT)
    lines = [ln for ln in r["output_tail"].splitlines() if ln.startswith("COMPILE_RESULT ")]
    if r["rc"] == 0 and lines:
        out = json.loads(lines[-1][len("COMPILE_RESULT "):])
        out["wall_s"] = r["wall_s"]
        return out
    reason = "timed out" if r["timed_out"] else f"exit code {r['rc']}"
    return dict(error=f"torch.compile run failed ({reason}); the benchmark fell back to eager",
                output_tail=r["output_tail"][-800:], wall_s=r["wall_s"])


# ------------------------------------------------------------------------------------------------ notebooks
_ROW = re.compile(r"^\|\s*([^|*]+?\.ipynb)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*(\w+)\s*\|$")
_TOTAL = re.compile(r"^\|\s*\*\*total\*\*\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|\s*(\w+)\s*\|$")


def parse_notebook_table(text: str) -> dict:
    rows = []
    total = None
    for line in text.splitlines():
        line = line.strip()
        m = _ROW.match(line)
        if m:
            rows.append(dict(notebook=m.group(1), seconds=float(m.group(2)), peak_gib=float(m.group(3)),
                             status=m.group(4)))
        m = _TOTAL.match(line)
        if m:
            total = dict(seconds=float(m.group(1)), peak_gib=float(m.group(2)), status=m.group(3))
    return dict(rows=rows, total=total)


_FIGURE_REDIRECT = """\
import os
_folder = os.environ.get("BENCH_FIGURES_DIR")
if _folder:
    try:
        import utils.plot as _plot
        _save = _plot.save_figure
        def save_figure(fig, name, folder=None):
            return _save(fig, name, folder or _folder)
        _plot.save_figure = save_figure
    except Exception:
        pass
"""


def bench_notebooks(tmp: Path, timeout_s: float, pattern: str = "[0-9]*.ipynb") -> dict:
    """FAST=1 scripts/run_notebooks.py on *copies* of notebooks/<pattern> (run_notebooks writes in place)."""
    sources = sorted((ROOT / "notebooks").glob(pattern))
    if not sources:
        return dict(skipped=f"no notebooks/{pattern}")
    work = tmp / "nbrun"
    (work / "notebooks").mkdir(parents=True)
    (work / "tests").symlink_to(ROOT / "tests")  # notebooks read ../tests/fixtures
    copies = []
    for src in sources:
        shutil.copy2(src, work / "notebooks" / src.name)
        copies.append(str(work / "notebooks" / src.name))
    # the kernels save figures through utils.plot.save_figure into the repository's figures/; a sitecustomize
    # on the kernels' path sends them to the temp folder instead, so FAST-mode figures never replace real ones
    (work / "site").mkdir()
    (work / "site" / "sitecustomize.py").write_text(_FIGURE_REDIRECT)
    figures = work / "figures"
    env = dict(os.environ, FAST="1", MPLBACKEND="Agg", TQDM_DISABLE="1", PYTHONWARNINGS="ignore",
               PYDEVD_DISABLE_FILE_VALIDATION="1", BENCH_FIGURES_DIR=str(figures),
               PYTHONPATH=os.pathsep.join([str(work / "site"), str(ROOT)] + (
                   [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    r = run_with_peak_rss([sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), *copies], env=env,
                          timeout_s=timeout_s, cwd=ROOT)
    parsed = parse_notebook_table(r["output_tail"])
    n_figures = len(list(figures.glob("*.png"))) if figures.exists() else 0
    return dict(wall_s=r["wall_s"], rc=r["rc"], timed_out=r["timed_out"], **parsed,
                note=f"figures redirected to the temp folder ({n_figures} written), figures/ untouched",
                output_tail=None if parsed["total"] else r["output_tail"][-1500:])


# ------------------------------------------------------------------------------------ targets, advice, md
def evaluate(results: dict) -> list:
    rows = []
    hl = results.get("headline", {})
    sp = hl.get("train_speedup_vs_original")
    arch = "original architecture" if hl.get("original_architecture") else "NOT the original architecture"
    rows.append(dict(target="training speed-up vs the original tutorial (same threads, project TrainConfig defaults)",
                     goal=f"≥ {TARGETS['train_speedup_vs_original']:.0f}×",
                     measured=f"{sp:.1f}×" if sp else "n/a", ok=bool(sp and sp >= TARGETS["train_speedup_vs_original"]
                                                                   and hl.get("original_architecture")),
                     note=(f"{arch} {hl.get('architecture')}; per-round ratios {hl.get('per_round_ratio')}; project "
                           f"path at batch 32: {_fmt(hl.get('train_speedup_vs_original_b32'))}×, at batch 64: "
                           f"{_fmt(hl.get('train_speedup_vs_original_b64'))}×; shipped model's "
                           f"configuration: {_fmt(hl.get('shipped_speedup_vs_original'))}×")))
    r = results.get("race", {})
    if r.get("variants"):
        o, d = r["variants"].get("original", {}), r["variants"].get("default", {})
        ok = bool(r.get("margin_in_spreads") is not None and np.isfinite(r.get("margin_in_spreads", float("nan")))
                  and r["margin_in_spreads"] > TARGETS["race_margin_spreads"])
        rows.append(dict(target=f"equal-time race ({r['seconds_each']:.0f} s each, {r['seeds']} seeds)",
                         goal="project's valid MSE better by > 2 × seed spread",
                         measured=(f"original {o.get('best_valid_mse_mean', float('nan')):.4f} ± "
                                   f"{o.get('best_valid_mse_std', float('nan')):.4f}, project "
                                   f"{d.get('best_valid_mse_mean', float('nan')):.4f} ± "
                                   f"{d.get('best_valid_mse_std', float('nan')):.4f}"),
                         ok=ok, note=(f"margin {_fmt(r.get('margin'), '.4f')} = {_fmt(r.get('margin_in_spreads'))} "
                                      f"spreads (spread: the larger sample std over seeds); validation set "
                                      f"{r['n_valid']} structures")))
    else:
        rows.append(dict(target="equal-time race", goal="project's valid MSE better by > 2 × seed spread",
                         measured="not run", ok=False, note="--race-seconds 0 or not measured"))
    e2e = results.get("inference_e2e", {})
    isp = e2e.get("project", {}).get("speedup_vs_original")
    rows.append(dict(target="end-to-end inference vs the original path (batch 1, float64)",
                     goal=f"≥ {TARGETS['inference_speedup_vs_original']:.0f}×", measured=f"{isp:.1f}×" if isp else "n/a",
                     ok=bool(isp and isp >= TARGETS["inference_speedup_vs_original"]),
                     note=(f"utils.predict.predict_structures: "
                           f"{_fmt(e2e.get('project', {}).get('structures_per_s', {}).get('median'), ',.0f')} "
                           f"structures/s, {_fmt(e2e.get('project', {}).get('atoms_per_s', {}).get('median'), ',.0f')}"
                           f" atoms/s on {e2e.get('dataset')} ({e2e.get('n_structures')} structures)")))
    g = results.get("graphs", {})
    sv, sa = g.get("structure_to_graph_vesin", {}).get("median"), g.get("structure_to_graph_ase", {}).get("median")
    nv, na = g.get("neighbour_list_vesin", {}).get("median"), g.get("neighbour_list_ase", {}).get("median")
    gsp = sv / sa if sv and sa else None
    rows.append(dict(target="graph construction vs ase's neighbour list (structure → graph)",
                     goal=f"≥ {TARGETS['graph_speedup_vs_ase']:.0f}×", measured=f"{gsp:.1f}×" if gsp else "n/a",
                     ok=bool(gsp and gsp >= TARGETS["graph_speedup_vs_ase"]),
                     note=(f"{_fmt(sv, ',.0f')} vs {_fmt(sa, ',.0f')} structures/s; the neighbour lists alone: "
                           f"{_fmt(nv / na if nv and na else None)}×")))
    ft = results.get("full_training", {})
    emb = ft.get("embedded", {})
    minutes = emb.get("wall_s") / 60 if emb.get("wall_s") and emb.get("complete") else None
    n_threads = ft.get("threads", results.get("threads"))
    rows.append(dict(target=f"full training of the shipped model ({n_threads} torch thread{'' if n_threads == 1 else 's'}, "
                            "python -m utils.train)", goal=f"≤ {TARGETS['full_training_minutes']:.0f} min",
                     measured=f"{minutes:.1f} min" if minutes else "not run",
                     ok=bool(minutes and minutes <= TARGETS["full_training_minutes"]),
                     note=_full_training_note(ft)))
    peak = emb.get("peak_rss_gb")
    rows.append(dict(target="peak RAM of that training run", goal=f"≤ {TARGETS['peak_ram_gb']:.0f} GB",
                     measured=f"{peak:.2f} GB" if peak else "not run",
                     ok=bool(peak and peak <= TARGETS["peak_ram_gb"]), note="RSS of the utils.train process tree"))
    return rows


def _full_training_note(ft: dict) -> str:
    emb = ft.get("embedded", {})
    if not emb or "skipped" in emb:
        return "not measured in this run (--no-train-run)"
    est = ""
    if emb.get("epoch_seconds") and not emb.get("complete"):
        est = (f"; incomplete ({emb.get('epochs')} epochs): {ft['default_epochs']} epochs × "
               f"{_median(emb['epoch_seconds']):.1f} s ≈ {ft['default_epochs'] * _median(emb['epoch_seconds']) / 60:.1f} min")
    return (f"{emb.get('epochs')} epochs, batch {ft.get('train_config', {}).get('batch_size')}, split "
            f"{emb.get('split')}, valid MSE {_fmt(emb.get('valid_mse'), '.4f')}{est}")


def recommend(results: dict) -> dict:
    """Epoch budget for a full training on 500 and 1,200 materials within 15 min, per variant: training steps at
    the A/B default rate × the variant's paired ratio, validation at the inference rate, plus the per-epoch
    overhead (checkpoint writes, loader) and set-up measured in the scaled utils.train run (§5)."""
    tr = results.get("training", {})
    inf = results.get("inference", {})
    inf_rate = inf.get(inf.get("headline", ""), {}).get("structures_per_s", {}).get("median") or float("nan")
    hl = results.get("headline", {}).get("variants", {}).get("default", {})
    rate_default = hl.get("structures_per_s", {}).get("median") or tr.get("default", {}).get(
        "structures_per_s", {}).get("median")
    sc = results.get("full_training", {}).get("scaled", {})
    io = results.get("full_training", {}).get("checkpoint_io", {})
    # files written per epoch (state.pt always, the checkpoint at most once), measured directly
    overhead = (io.get("state_pt_s") or 0.0) + (io.get("checkpoint_s") or 0.0) if io else None
    setup = sc.get("setup_and_eval_s")
    rows = []
    if not rate_default or not math.isfinite(inf_rate):
        return dict(rows=rows, per_epoch_overhead_s=overhead, setup_s_at_scale=setup)
    for n in (500, 1200):
        n_train, n_valid = round(0.78 * n), round(0.09 * n)
        setup_n = max(10.0, setup * n / sc["materials"]) if setup else 30.0
        for name in ("default", "b32", "b64", "em32", "em32_b64"):
            ratio = tr.get(name, {}).get("speedup_vs_default")
            if not ratio:
                continue
            epoch_s = n_train / (rate_default * ratio) + n_valid / inf_rate + (overhead or 0.0)
            rows.append(dict(materials=n, variant=name, batch_size=tr[name]["batch_size"], epoch_s=round(epoch_s, 1),
                             max_epochs_in_15_min=int((900 - setup_n) / epoch_s),
                             minutes_for_60_epochs=round((setup_n + 60 * epoch_s) / 60, 1)))
    return dict(rows=rows, per_epoch_overhead_s=overhead, setup_s_at_scale=setup, default_rate=rate_default)


def _fmt(x, spec=".1f", none="–"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return none
    return format(x, spec)


def write_markdown(results: dict, path: Path) -> None:
    m = results["machine"]
    L = []
    a = L.append
    a("# Benchmarks\n")
    a(f"Generated by `{results['command']}` on {results['started']} ({results['total_minutes']:.1f} min), "
      f"commit {m['git_commit']}{' + local changes' if m['git_dirty'] else ''}. Raw numbers: `results.json`.\n")
    a("**Read the ratios, not the absolute times.** The machine is shared with background jobs (load average "
      f"{m['loadavg_start']} at the start, {results.get('loadavg_end')} at the end on {m['usable_cores']} cores; "
      f"{m['other_busy_processes']} other processes above 20 % CPU). Every comparison interleaves its variants "
      "in one process (time slices, rotating order) and reports medians over rounds.\n")
    a("## Machine\n")
    a("| | |\n|---|---|")
    a(f"| CPU | {m['cpu_model']} |")
    a(f"| cores (usable / logical / physical) | {m['usable_cores']} / {m['logical_cores']} / {m['physical_cores']} |")
    a(f"| RAM | {m['ram_gib']} GiB |")
    a(f"| torch threads (default / benchmark) | {m['torch_threads_default']} / {results['threads']} "
      f"({m['torch_parallel']}; OMP_NUM_THREADS={m['env']['OMP_NUM_THREADS']}) |")
    a("| versions | " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + " |")
    f = results["inputs"]
    a(f"| data | {f.get('source')} {f.get('version', '')} ({f.get('sha256', '')}): {f.get('n_materials')} materials, "
      f"split {f.get('split')}, atoms/structure {f.get('atoms_per_structure')}, "
      f"edges/structure {f.get('edges_per_structure_mean')} (r_max 4 Å) |\n")

    a("## Targets\n")
    a("| target | goal | measured | status | note |\n|---|---|---|---|---|")
    for row in results["targets"]:
        a(f"| {row['target']} | {row['goal']} | {row['measured']} | {'met' if row['ok'] else '**missed**'} | "
          f"{row['note']} |")
    a("")
    for line in results.get("missed_explanations", []):
        a(f"- {line}")
    a("")

    g = results.get("graphs")
    if g:
        a("## 1. Graph construction (structures/s, median of interleaved rounds)\n")
        a(f"{g['n_structures']} structures; vesin and ase give identical edges: {g['edges_identical_vesin_vs_ase']}.\n")
        a("| path | structures/s | what |\n|---|---:|---|")
        for k, d in g["description"].items():
            if k in g:
                v = g[k]
                a(f"| {k} | {_fmt(v.get('median'), ',.0f') if 'median' in v else v.get('error')} | {d} |")
        nv, na = g.get("neighbour_list_vesin", {}).get("median"), g.get("neighbour_list_ase", {}).get("median")
        sv, sa = g.get("structure_to_graph_vesin", {}).get("median"), g.get("structure_to_graph_ase", {}).get("median")
        if nv and na and sv and sa:
            a(f"\nvesin vs ase: neighbour list alone {nv / na:.1f}× faster, whole structure → graph {sv / sa:.2f}×.\n")

    hl = results.get("headline")
    if hl and "error" not in hl:
        a("## 2. Training throughput\n")
        a(f"### Headline: the original tutorial's training path vs the project's, same architecture "
          f"({hl['rounds']} interleaved rounds × {hl['slice_s']} s, device {hl.get('device', 'cpu')})\n")
        a(f"Architecture of both: {hl.get('architecture')} "
          f"({'the original tutorial' + chr(39) + 's' if hl.get('original_architecture') else 'not the original'}). "
          "The original path evaluates e3nn's node-attribute tensor products on every atom, in float64, one "
          "structure per step, with plain AdamW; the project path is utils.train's (TrainConfig defaults, float32, "
          "fused AdamW) with utils.model's per-element tensor products.\n")
        a("| configuration | dtype | batch | threads | params | structures/s | atoms/s | ms/step | × original |")
        a("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        ratio = {"original": 1.0, "default": hl.get("train_speedup_vs_original"),
                 "b64": hl.get("train_speedup_vs_original_b64"), "shipped": hl.get("shipped_speedup_vs_original")}
        for name, v in hl["variants"].items():
            if "error" in v:
                a(f"| {name} | failed: {v['error'][:80]} | | | | | | | |")
                continue
            a(f"| **{name}**: {v['label']} | {v['dtype']} | {v['batch_size']} | {v['threads']} | {v['n_params']:,} | "
              f"{_fmt(v['structures_per_s']['median'])} | {_fmt(v['atoms_per_s']['median'], ',.0f')} | "
              f"{_fmt(v['ms_per_step'])} | {_fmt(ratio.get(name))} |")
        a(f"\n**`train_speedup_vs_original` = {hl['train_speedup_vs_original']:.1f}×** (median of the per-round "
          f"ratios {hl['per_round_ratio']}; ratio of the medians {hl['ratio_of_medians']:.1f}×). Batch 64: "
          f"{_fmt(hl.get('train_speedup_vs_original_b64'))}× (rounds {hl['per_round_ratios'].get('b64')}). "
          f"The shipped model ({results['inputs'].get('shipped_model')}) trains at "
          f"{_fmt(hl['variants'].get('shipped', {}).get('structures_per_s', {}).get('median'))} structures/s = "
          f"{_fmt(hl.get('shipped_speedup_vs_original'))}× the original.\n")
    elif hl:
        a(f"## 2. Training throughput\n\nheadline A/B failed: {hl['error']}\n")
    fl = results.get("flops")
    if fl:
        pk = fl.get("peak", {})
        a("### FLOPs of a training step and fraction of the CPU's peak\n")
        if "peak_gflops" in pk:
            a(f"Assumed peak: {pk['cores']} cores × {pk['clock_ghz']} GHz ({pk['clock_source']}) × "
              f"{pk['flops_per_cycle_per_core']} fp32 FLOPs/cycle (AVX2: 2 FMA units × 8 lanes × 2) = "
              f"**{pk['peak_gflops']:.0f} GFLOP/s**. {fl['note']}.\n")
        a("| path | batch | dtype | GFLOP/step | MFLOP/structure | GFLOP/s achieved | of 2-core peak | of the threads' peak |")
        a("|---|---:|---|---:|---:|---:|---:|---:|")
        for name in ("original", "default", "b64"):
            v = fl.get(name)
            if v:
                a(f"| {name} | {v['batch_size']} | {v['dtype']} | {v['flops_per_step'] / 1e9:.3f} | "
                  f"{v['flops_per_structure'] / 1e6:.1f} | {_fmt(v.get('gflops_per_s'), '.2f')} | "
                  f"{_fmt(100 * v['fraction_of_peak'] if 'fraction_of_peak' in v else None, '.1f')} % | "
                  f"{_fmt(100 * v['fraction_of_thread_peak'] if 'fraction_of_thread_peak' in v else None, '.1f')} % |")
        a("")
    t = results.get("training")
    if t:
        a("### Levers (each variant paired with the default, same process)\n")
        a(f"Train split ({results['inputs']['split'].get('train')} structures, shuffled, cycled); one step = "
          "zero_grad, forward, MSE, backward, optimizer step (utils.train's loop body). "
          f"{results['settings']['lever_rounds']} rounds; in each, every variant runs a "
          f"{results['settings'].get('lever_slice_s', results['settings']['slice_s']):.2g} s slice right before "
          "or after a slice of the default (alternating); **× default** is the median of these paired ratios, "
          "**× original** = (× default of the variant) / (× default of the original); structures/s are medians "
          "of the variant's own slices, so they move with the load between rounds. A slice ends after the step "
          "that crosses its time. `threads` = torch.set_num_threads during the variant's slices.\n")
        a("| variant | dtype | batch | threads | params | structures/s | atoms/s | ms/step | × original | × default |")
        a("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, row in t.items():
            if "error" in row:
                a(f"| {name} | | | | | failed: {row['error'][:80]} | | | | |")
                continue
            a(f"| **{name}**: {row['label']} | {row['dtype']} | {row['batch_size']} | {row['threads']} | "
              f"{row['n_params']:,} | {_fmt(row['structures_per_s']['median'])} | "
              f"{_fmt(row['atoms_per_s']['median'], ',.0f')} | {_fmt(row['ms_per_step'])} | "
              f"{_fmt(row.get('speedup_vs_original'))} | {_fmt(row.get('speedup_vs_default'), '.2f')} |")
        a("")
        es = results.get("edge_features")
        if es:
            a(f"Per-edge inputs (spherical harmonics, cutoff, Gaussian basis) of a batch of {es['batch_size']} "
              f"({es['edges_in_batch']} edges): {es['edge_features_ms']:.2f} ms of a {es['train_step_ms']:.0f} ms "
              f"training step = **{es['edge_share_pct']:.1f} %**, the most that caching them in the data layer could "
              f"save. Collating a batch (torch_geometric DataLoader): {es['collate_ms_per_batch']:.1f} ms "
              f"= {es['collate_share_pct']:.1f} % of a step.\n")
        mb = results.get("module_breakdown")
        if mb:
            a(f"Forward pass of a default batch ({mb['forward_ms']:.0f} ms, no grad) by module: "
              + ", ".join(f"{k} {v} %" for k, v in mb["share_pct"].items()) + ". Parameters: "
              + ", ".join(f"{k} {v:,}" for k, v in mb["params_by_module"].items()) + ".\n")

    c = results.get("compile")
    if c:
        a("### torch.compile\n")
        if "error" in c:
            a(f"{c['error']}.\n")
        else:
            a(f"torch.compile(model, dynamic=True), default config: compilation + first epochs "
              f"{c['compile_and_first_epochs_s']:.0f} s, then {_fmt(c.get('speedup'), '.2f')}× eager "
              f"({_fmt(c.get('compiled', {}).get('structures_per_s', {}).get('median'))} vs "
              f"{_fmt(c.get('eager', {}).get('structures_per_s', {}).get('median'))} structures/s, interleaved); "
              f"max |Δ output| {c['max_abs_diff_vs_eager']:.1e}; pays off after "
              f"{_fmt(c.get('break_even_structures'), ',.0f')} structures (whole subprocess "
              f"{c.get('wall_s', float('nan')):.0f} s; inductor's on-disk cache makes later compilations faster).\n")

    r = results.get("race")
    if r:
        a(f"## 3. Validation MSE after equal wall time ({r['seconds_each']:.0f} s each, {r['seeds']} seeds)\n")
        a(f"Each variant × seed trains like utils.train (TrainConfig lr and decay, ExponentialLR per epoch, "
          f"validation after every epoch, best weights kept) on the {r['n_train']} training structures for the same "
          f"wall time; slices of all runs interleaved, each clock counting only its own work (validation "
          f"included). Validation set: {r['n_valid']} structures. Seed = model initialisation and shuffling.\n")
        a("| variant | batch | epochs (per seed) | structures seen | best valid MSE per seed | mean ± std |")
        a("|---|---:|---|---|---|---|")
        for name, v in r["variants"].items():
            a(f"| **{name}**: {v['label']} | {v['batch_size']} | {v['epochs']} | {v['structures_seen']} | "
              f"{', '.join(f'{x:.4f}' for x in v['best_valid_mse'])} | "
              f"{v['best_valid_mse_mean']:.4f} ± {_fmt(v['best_valid_mse_std'], '.4f')} |")
        if r.get("margin") is not None:
            a(f"\nMargin (original − project) {r['margin']:.4f} = {_fmt(r.get('margin_in_spreads'))} × the larger "
              f"seed spread ({_fmt(r.get('spread'), '.4f')}).\n")
        a("")

    e = results.get("inference_e2e")
    if e:
        a(f"## 4. Inference from structures, end to end ({e['dataset']}, {e['n_structures']} structures, "
          f"{e['atoms_per_structure']} atoms each on average, {e['model']}, device {e['device']})\n")
        a(f"{e['how']}\n")
        a("| path | structures/s | atoms/s | × original | per-round ratios |\n|---|---:|---:|---:|---|")
        for name in ("project", "project_dos_only", "original"):
            v = e.get(name, {})
            if "error" in v:
                a(f"| {name} | failed: {v['error'][:80]} | | | |")
            elif v:
                a(f"| {name} | {_fmt(v['structures_per_s']['median'], ',.1f')} | "
                  f"{_fmt(v['atoms_per_s']['median'], ',.0f')} | {_fmt(v.get('speedup_vs_original', 1.0))} | "
                  f"{v.get('per_round_ratio', '')} |")
        a("")
    i = results.get("inference")
    if i:
        a("### Batched inference from prepared graphs (model only)\n")
        a(f"{i['how']}; {i['n_structures']} structures (all splits, repeated), called in chunks of two batches.\n")
        a("| batch, threads | structures/s | atoms/s |\n|---|---:|---:|")
        for name, v in i.items():
            if isinstance(v, dict) and "structures_per_s" in v:
                a(f"| {name}{' (headline)' if name == i['headline'] else ''} | "
                  f"{_fmt(v['structures_per_s']['median'], ',.0f')} | {_fmt(v['atoms_per_s']['median'], ',.0f')} |")
        a("")

    ft = results.get("full_training")
    if ft:
        a("## 5. Full training runs and peak memory (`python -m utils.train` subprocesses)\n")
        a(f"Threads: `{ft['env']}`. Peak RSS: process tree polled every 50 ms "
          "(psutil) and the kernel's high-water mark (wait4); the larger is reported.\n")
        a("| run | wall | epochs | epoch s (median) | graphs s | peak RSS | valid MSE |\n|---|---:|---:|---:|---:|---:|---:|")
        for key, title in (("embedded", f"embedded dataset, the shipped model's TrainConfig {ft.get('train_config')}"),
                           ("scaled", f"embedded materials repeated to {ft.get('scaled', {}).get('materials')} "
                                      f"(split {ft.get('scaled', {}).get('split')})")):
            v = ft.get(key)
            if not v or "skipped" in v:
                continue
            if v.get("rc") != 0 and not v.get("epoch_seconds"):
                a(f"| {title} | failed (rc {v.get('rc')}, timed out {v.get('timed_out')}) | | | | | |")
                continue
            a(f"| {title} | {v['wall_s']:.0f} s{' (stopped: timeout)' if v.get('timed_out') else ''} | {v.get('epochs')} | {_fmt(_median(v.get('epoch_seconds') or []), '.2f')} | "
              f"{_fmt(v.get('graph_seconds'), '.1f')} | {v['peak_rss_gb']:.2f} GB | {_fmt(v.get('valid_mse'), '.4f')} |")
        sc = ft.get("scaled", {})
        if sc.get("estimated_full_training_minutes"):
            a(f"\nFull default training at {sc['materials']} materials ({ft['default_epochs']} epochs): "
              f"{sc['setup_and_eval_s']:.0f} s set-up and final evaluation + {ft['default_epochs']} × "
              f"{sc['epoch_s']:.1f} s ≈ **{sc['estimated_full_training_minutes']:.1f} min**. The repeated materials "
              f"have this dataset's size distribution (mean {results['inputs'].get('atoms_per_structure', {}).get('mean')}"
              " atoms); epoch time scales with atoms per structure.\n")

    ip = results.get("full_training_inprocess")
    if ip:
        a(f"\nIn-process full training of the shipped model's configuration on {ip['device']}: {ip['epochs']} epochs "
          f"in {ip['wall_s']:.0f} s ({ip['minutes']:.1f} min), best valid MSE {ip['best_valid_mse']:.4f} "
          f"({ip['note']}).\n")
    cq = results.get("cueq")
    if cq:
        a(f"\ncuEquivariance: {cq}\n")

    rec = results.get("recommendation")
    if rec and rec["rows"]:
        a("## 6. Epoch budget for 500–1,200 materials in 15 minutes\n")
        a(f"Training steps at the A/B rate of the default ({_fmt(rec.get('default_rate'))} structures/s, "
          f"{results['threads']} thread) × each variant's paired ratio, validation at the inference rate, plus the "
          f"per-epoch file writes of utils.train ({_fmt(rec['per_epoch_overhead_s'], '.2f')} s, measured: state.pt "
          "every epoch + the checkpoint when validation improves) and the set-up measured in §5. Structures of this dataset's size; scale by atoms per structure.\n")
        a("| materials | variant | batch | s/epoch | max epochs in 15 min | min for 60 epochs |\n"
          "|---:|---|---:|---:|---:|---:|")
        for row in rec["rows"]:
            a(f"| {row['materials']} | {row['variant']} | {row['batch_size']} | {row['epoch_s']} | "
              f"{row['max_epochs_in_15_min']} | {row['minutes_for_60_epochs']} |")
        a("")

    nb = results.get("notebooks")
    a("## 7. Notebook series (FAST=1)\n")
    if not nb:
        a("Not run (`--notebooks` to include it).\n")
    elif "skipped" in nb:
        a(f"Skipped: {nb['skipped']}.\n")
    else:
        when = (f" Run separately by `bench_notebooks` at {nb['started']} (load {nb.get('loadavg_start')} → "
                f"{nb.get('loadavg_end')}), added to this file." if nb.get("started") else "")
        a(f"`FAST=1 scripts/run_notebooks.py` on copies of notebooks/[0-9]*.ipynb: wall {nb['wall_s']:.0f} s, "
          f"exit code {nb['rc']}; {nb.get('note', '')}.{when}\n")
        a("| notebook | seconds | peak kernel memory (GiB) | status |\n|---|---:|---:|---|")
        for row in nb["rows"]:
            a(f"| {row['notebook']} | {row['seconds']:.0f} | {row['peak_gib']:.2f} | {row['status']} |")
        if nb.get("total"):
            tt = nb["total"]
            a(f"| **total** | {tt['seconds']:.0f} | {tt['peak_gib']:.2f} | {tt['status']} |")
        a("")

    a("## Levers\n")
    for line in results.get("levers", []):
        a(f"- {line}")
    a("")
    path.write_text("\n".join(L) + "\n")


def levers(results: dict) -> list:
    """One sentence per lever, from the numbers of this run."""
    t = results.get("training", {})

    def sp(name, ref="default"):
        key = "speedup_vs_default" if ref == "default" else "speedup_vs_original"
        return t.get(name, {}).get(key)

    out = []
    o, f32b1, f64b16 = t.get("original", {}), t.get("f32_b1", {}), t.get("f64_b16", {})
    if o.get("structures_per_s") and f32b1.get("structures_per_s") and f64b16.get("structures_per_s"):
        out.append(f"float32 alone (batch 1): {f32b1['speedup_vs_original']:.1f}× the original; batch 16 alone "
                   f"(float64): {f64b16['speedup_vs_original']:.1f}×; both (project default): "
                   f"{_fmt(sp('default', 'original'))}× in this table, "
                   f"{_fmt(results.get('headline', {}).get('train_speedup_vs_original'))}× in the A/B. "
                   "**Kept** (project default).")
    for name in ("b32", "b64"):
        if sp(name):
            out.append(f"batch {t[name]['batch_size']}: {sp(name):.2f}× the default's throughput "
                       f"({_fmt(sp(name, 'original'))}× the original). Fewer optimizer steps per epoch: needs a larger lr "
                       "or more epochs; on a 36-structure training set batch 64 is one step per epoch.")
    thr = next((k for k in t if k.startswith("threads")), None)
    if thr and sp(thr):
        ft = results.get("full_training", {})
        e1, e2 = ft.get("embedded", {}), ft.get("embedded_default_threads", {})
        cli = ""
        if e1.get("epoch_seconds") and e2.get("epoch_seconds"):
            cli = (f" The CLI by default (TrainConfig.threads=None → {e2.get('threads')} threads) took "
                   f"{_median(e2['epoch_seconds']):.1f} s per epoch on the embedded set vs "
                   f"{_median(e1['epoch_seconds']):.2f} s with OMP_NUM_THREADS=1 (§5, sequential runs).")
        out.append(f"torch.set_num_threads({t[thr]['threads']}) instead of {results['threads']}: {sp(thr):.2f}× the "
                   f"throughput. With background load, OpenMP's spinning threads wait for a descheduled partner: "
                   f"one thread (or OMP_WAIT_POLICY=PASSIVE) is the robust choice on a shared 2-core machine.{cli}")
    if sp("adamw_unfused"):
        out.append(f"fused AdamW (utils.train now asks for `fused=True`): default with the plain AdamW = "
                   f"{sp('adamw_unfused'):.2f}× the default's throughput, i.e. fused = {1 / sp('adamw_unfused'):.2f}× "
                   f"plain at batch 16 (the update of {t['default']['n_params']:,} parameters is a fixed cost per "
                   "step: 3.9 vs 11.4 ms in a micro-benchmark, README). **Applied.**")
    for name, what in (("e3nn_unfused", "e3nn without its specialized code paths and opt_einsum-fused "
                                        "contractions"), ("e3nn_script", "e3nn's TorchScript code generation "
                                                                         "(jit_mode='script', deprecated with torch ≥ 2.10)")):
        if sp(name):
            out.append(f"{what}: {sp(name):.2f}× the default (e3nn's defaults — specialized code, fused einsums, no "
                       "TorchScript — are what the project path uses).")
    if sp("default_per_atom") and sp("b64_per_atom"):
        out.append(f"per-element evaluation of the node-attribute tensor products (utils.model.AttributeTensorProduct): "
                   f"the default with e3nn's per-atom evaluation runs at {sp('default_per_atom'):.2f}× the default "
                   f"(i.e. the change gives {1 / sp('default_per_atom'):.2f}× at batch 16), batch 64: "
                   f"{sp('b64') / sp('b64_per_atom'):.2f}×; at batch 1 (float64) "
                   f"{_fmt(sp('original_new_tp', 'original'), '.2f')}×. **Applied** (one code path).")
    chk = results.get("attribute_tp_check")
    if chk:
        out.append(f"check of that change in this run: a batch of {chk['atoms_in_batch']} atoms with "
                   f"{chk['distinct_attr_rows']} distinct attribute rows, max |Δ output| {chk['max_abs_output_diff']:.1e},"
                   f" max relative Δ gradient {chk['max_rel_grad_diff']:.1e} vs e3nn's per-atom evaluation.")
    for name in ("em32", "em32_b64", "em32_mul16"):
        if sp(name):
            out.append(f"{t[name]['label']}: {t[name]['n_params']:,} parameters, {sp(name):.2f}× the default's "
                       f"throughput ({_fmt(sp(name, 'original'))}× the original); a different architecture, not "
                       "counted in the headline. ModelConfig defaults unchanged.")
    for name in ("cueq", "cueq_b64"):
        row = t.get(name, {})
        if row.get("cueq"):
            out.append(f"{row['label']}: {row['cueq']}" + (f"; {sp(name):.2f}× the default" if sp(name) else ""))
    es = results.get("edge_features")
    if es:
        out.append(f"caching per-edge spherical harmonics / radial basis: at most {es['edge_share_pct']:.1f} % of a step "
                   "— not worth a data-layer change (the node-wise tensor products with the em_dim-wide node attributes "
                   "dominate).")
    if es:
        out.append(f"fewer Python-level loops: batch collation is {es['collate_share_pct']:.1f} % of a step; "
                   "per-structure overhead is what batching already removes (batch 1 → 16).")
    c = results.get("compile")
    if c and "error" not in c:
        out.append(f"torch.compile (`--compile`): {_fmt(c.get('speedup'), '.2f')}× eager after "
                   f"{c['compile_and_first_epochs_s']:.0f} s of compilation; opt-in, not in the default path.")
    elif c:
        out.append(f"torch.compile: {c['error']}.")
    else:
        out.append("torch.compile: not measured in this run (`--compile`); see benchmarks/README.md.")
    return out


def missed_explanations(results: dict) -> list:
    lines = []
    for row in results["targets"]:
        if row["ok"]:
            continue
        name = row["target"]
        if name.startswith("train_speedup"):
            hl, fl = results.get("headline", {}), results.get("flops", {})
            t = results.get("training", {})
            frac = fl.get("default", {}).get("fraction_of_thread_peak")
            lines.append(
                f"Training throughput: {_fmt(hl.get('train_speedup_vs_original'))}× at batch 16, "
                f"{_fmt(hl.get('train_speedup_vs_original_b32'))}× at batch 32 and "
                f"{_fmt(hl.get('train_speedup_vs_original_b64'))}× at batch 64 on the original architecture. What "
                "stands in the way: both paths run about the same number of tensor operations per step (~2,000 "
                "forward, backward and optimizer calls with the original's plain AdamW, ~1,900 with the project's), "
                "and at these sizes each costs tens of microseconds of dispatch and memory traffic, so a batch-16 step "
                "takes about as long as the original's batch-1 step and the ratio grows with the batch. The matrix "
                f"products are {_fmt(fl.get('default', {}).get('flops_per_structure', 0) / 1e6, '.0f')} MFLOP per "
                "structure at batch 16 (mostly the per-element contraction of the 64-wide node attributes with the "
                "2.4 M tensor-product weights, once per distinct element of the batch) and the step reaches "
                f"{_fmt(100 * frac if frac else None, '.1f')} % of the threads' fp32 peak. Batch and schedule are "
                "TrainConfig defaults, to be chosen with the race (§3, `--race-variants original,default,b64`) and the "
                "dataset's hyper-parameter search; torch.compile (`--compile`) fuses operations at the cost of minutes "
                "of compilation. The ratio also moves with the background load of the shared machine (per-round "
                "ratios in §2)"
                + (", and with 2 torch threads on busy cores the per-round ratios scatter widely: both paths wait "
                   "on OpenMP barriers (§4: one thread ran inference faster than two in the same run)."
                   if results.get("threads") == 2 else "."))
        elif name.startswith("equal-time race"):
            r = results.get("race", {})
            if not r.get("variants"):
                lines.append("Equal-time race: not run in this run.")
            else:
                lines.append(
                    f"Equal-time race: run for {r['seconds_each']:.0f} s per variant and seed"
                    + (" — shorter than the shipped model's training budget "
                       f"({_fmt(results.get('inputs', {}).get('shipped_train_seconds'), '.0f')} s), so this run shows "
                       "early training only; `make bench` runs the full budget"
                       if results.get("settings", {}).get("race_short") else "")
                    + f". Margin {_fmt(r.get('margin'), '.4f')} = {_fmt(r.get('margin_in_spreads'))} spreads.")
        elif name.startswith("end-to-end inference"):
            e = results.get("inference_e2e", {})
            lines.append(
                "End-to-end inference: predict_structures also computes per-atom partial DoS, C_V and peaks for every "
                "structure in Python (the original path predicts the DoS only); the DoS alone (structure_to_graph + "
                f"batched model) runs at {_fmt(e.get('project_dos_only', {}).get('speedup_vs_original'))}× the "
                "original. Graph construction (Python-level checks, encodings, Data objects, ~1 ms per structure) "
                "bounds both.")
        elif name.startswith("graph construction"):
            g = results.get("graphs", {})
            lines.append(
                f"Graph construction: the neighbour list itself is not the bottleneck (vesin alone: "
                f"{_fmt(g.get('neighbour_list_vesin', {}).get('median'), ',.0f')} structures/s, ase's "
                f"{_fmt(g.get('neighbour_list_ase', {}).get('median'), ',.0f')}); what both paths share bounds the "
                "ratio: the checks of the structure, the one-hot encodings, the tensor conversions and the "
                "torch_geometric Data constructor (~10 fields), a few hundred microseconds per structure.")
        elif name.startswith("full training"):
            lines.append(f"Full training: {row['measured']}; {row['note']}.")
        elif name.startswith("peak RAM"):
            lines.append(f"Peak RAM: {row['measured']}.")
    return lines


def readme_section(results: dict) -> str:
    """The README's '## Performance' section, written from results.json (numbers of one run, stated as such)."""
    m, hl, e2e, g, fl = (results["machine"], results.get("headline", {}), results.get("inference_e2e", {}),
                         results.get("graphs", {}), results.get("flops", {}))
    L = ["## Performance", ""]
    L.append(f"`make bench` measures side by side in one process and writes [benchmarks/results.md]"
             f"(benchmarks/results.md); `bash benchmarks/gpu.sh` records the same table on a GPU. The numbers below "
             f"are ratios from one run (`{results['command']}`, {results['started']}) on {m['usable_cores']} shared "
             f"cores of an {m['cpu_model']} with torch threads = {results['threads']} while other jobs ran (load "
             f"average {m['loadavg_start'][0] if m['loadavg_start'] else '?'} → "
             f"{(results.get('loadavg_end') or ['?'])[0]}); absolute rates move with that load, ratios much less.")
    L.append("")
    if hl.get("train_speedup_vs_original"):
        v = hl["variants"]
        L.append(f"- **Training, same architecture** (em_dim 64, mul 32, l_max 1, 2 layers, r_max 4 Å): the project's "
                 f"path (batch {v['default']['batch_size']}, float32, fused AdamW, tensor products once per element, "
                 f"radial MLPs once per distinct edge length) trains **{hl['train_speedup_vs_original']:.1f}×** as many "
                 f"structures per second as the original tutorial's (batch 1, float64, plain AdamW, tensor products "
                 f"per atom, radial MLPs per edge); at batch 32 {_fmt(hl.get('train_speedup_vs_original_b32'))}×, at "
                 f"batch 64 {_fmt(hl.get('train_speedup_vs_original_b64'))}× (target ≥ 30×). The shipped model "
                 f"({v.get('shipped', {}).get('n_params', 0):,} parameters) trains at "
                 f"{_fmt(v.get('shipped', {}).get('structures_per_s', {}).get('median'))} structures/s.")
    if fl.get("default", {}).get("fraction_of_peak") is not None:
        pk = fl["peak"]
        L.append(f"- **Hardware limit**: a batch-{fl['default']['batch_size']} training step is "
                 f"{fl['default']['flops_per_step'] / 1e9:.2f} GFLOP of matrix products; at the rate measured for that "
                 f"configuration ({_fmt(hl.get('variants', {}).get('default', {}).get('structures_per_s', {}).get('median'))} "
                 f"structures/s, {results['threads']} torch thread{'' if results['threads'] == 1 else 's'}) that is "
                 f"{fl['default']['gflops_per_s']:.1f} GFLOP/s, {100 * fl['default']['fraction_of_peak']:.1f} % of the "
                 f"{pk['cores']}-core fp32 peak ({pk['peak_gflops']:.0f} GFLOP/s = {pk['cores']} × "
                 f"{pk['clock_ghz']} GHz × 32 FLOPs/cycle, AVX2 FMA)"
                 + (f", {100 * fl['default']['fraction_of_thread_peak']:.1f} % of the peak of the "
                    + ("one thread it ran on" if results["threads"] == 1 else f"{results['threads']} threads it ran on")
                    if fl['default'].get('fraction_of_thread_peak') else "")
                 + ". Training runs far from the hardware limit: "
                 "small matrices, gathers and scatters are bound by memory and Python overhead.")
    inf = results.get("inference", {})
    one, two = (inf.get(f"b64_threads{k}", {}).get("structures_per_s", {}).get("median") for k in (1, 2))
    if results["threads"] == 2 and one and two:
        L.append(f"- **Threads on a shared machine**: in the same run, batched inference with 1 torch thread ran "
                 f"{one / two:.1f}× as fast as with 2 ({one:,.0f} vs {two:,.0f} structures/s): with the cores busy, "
                 "a second OpenMP thread waits for its partner at every barrier. The absolute rates and the "
                 "fraction of peak above are those of 2 contended threads; the ratios compare paths under the same "
                 "conditions, slice by slice.")
    if e2e.get("project", {}).get("speedup_vs_original"):
        pr = e2e["project"]
        L.append(f"- **Inference from structures** (graphs built, nothing cached, `utils.predict`, dataset "
                 f"{e2e['dataset']}): {pr['structures_per_s']['median']:,.0f} structures/s, "
                 f"{pr['atoms_per_s']['median']:,.0f} atoms/s = **{pr['speedup_vs_original']:.1f}×** the original "
                 f"path (ase neighbour list, float64, batch 1); the DoS alone "
                 f"{_fmt(e2e.get('project_dos_only', {}).get('speedup_vs_original'))}× (the ≥ 10× target is for the "
                 "end-to-end path).")
    sv, sa = g.get("structure_to_graph_vesin", {}).get("median"), g.get("structure_to_graph_ase", {}).get("median")
    nv, na = g.get("neighbour_list_vesin", {}).get("median"), g.get("neighbour_list_ase", {}).get("median")
    if sv and sa:
        L.append(f"- **Graph construction**: {sv:,.0f} structures/s, {sv / sa:.1f}× the same function with ase's "
                 f"neighbour list (the neighbour lists alone: {_fmt(nv / na if nv and na else None)}×; target ≥ 10×).")
    r = results.get("race")
    if r and r.get("variants"):
        o, d = r["variants"]["original"], r["variants"]["default"]
        L.append(f"- **Equal-time race** ({r['seconds_each']:.0f} s each, {r['seeds']} seeds): best validation MSE "
                 f"original {o['best_valid_mse_mean']:.4f} ± {o['best_valid_mse_std']:.4f}, project "
                 f"{d['best_valid_mse_mean']:.4f} ± {d['best_valid_mse_std']:.4f}.")
    else:
        L.append("- **Equal-time race** for the shipped model's training budget with 3 seeds, **full training time** "
                 "and **peak RAM**: measured by a full `make bench` (about an hour), not by this run.")
    missed = [f"{row['target']}: {row['measured']} (goal {row['goal']})" for row in results.get("targets", [])
              if not row["ok"] and row["measured"] not in ("not run", "n/a")]
    if missed:
        L.append(f"- Targets missed in this run: {'; '.join(missed)}. What stands in the way is in "
                 "[benchmarks/results.md](benchmarks/results.md) (Targets).")
    L.append("- One torch thread is the default (`utils.setup()`, `TrainConfig.threads`): on a busy 2-core machine "
             "a second OpenMP thread can make training many times slower (lever table in benchmarks/results.md).")
    return "\n".join(L) + "\n"


def update_readme(results: dict, readme: Path) -> None:
    """Replace the README's '## Performance' section (up to the next '## ' heading) with readme_section()."""
    text = readme.read_text()
    start = text.index("\n## Performance\n") + 1
    end = text.index("\n## ", start + 1) + 1
    readme.write_text(text[:start] + readme_section(results) + "\n" + text[end:])


# ------------------------------------------------------------------------------------------------ main
PARTS = ("graphs", "headline", "training", "flops", "inference", "race", "full_training")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results.md / results.json go")
    p.add_argument("--threads", type=int, default=1, help="torch threads for the benchmarks (the lever compares "
                                                          "the other value)")
    p.add_argument("--device", default="cpu", help="torch device for training and inference (e.g. cuda)")
    p.add_argument("--parts", default=",".join(PARTS),
                   help=f"comma-separated parts to run (default all: {','.join(PARTS)})")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per comparison (default 5)")
    p.add_argument("--slice", type=float, default=None, help="seconds per variant per round (default 2)")
    p.add_argument("--race-seconds", type=float, default=None,
                   help="training wall time per variant and seed (default: the shipped model's training time, "
                        "from checkpoints/default's first network)")
    p.add_argument("--race-seeds", type=int, default=3, help="seeds per race variant (default 3)")
    p.add_argument("--race-variants", default="original,default",
                   help="race entrants, from original,default,b32,b64 (the first two are the target's; the batch "
                        "sizes are candidates for the training default)")
    p.add_argument("--scale-materials", type=int, default=0, help="also train on the embedded materials repeated "
                                                                  "to this many (1 epoch, extrapolated)")
    p.add_argument("--notebooks", action="store_true", help="also run the FAST notebook series (copies)")
    p.add_argument("--notebooks-glob", default="[0-9]*.ipynb", help="which notebooks/ files --notebooks runs")
    p.add_argument("--compile", action="store_true", help="also measure torch.compile (minutes of compilation)")
    p.add_argument("--cueq", action="store_true", help="on a CUDA device, also try cuEquivariance edge tensor "
                                                       "products (falls back to e3nn when not installed)")
    p.add_argument("--long", action="store_true", help="longer slices and rounds, one more lever")
    p.add_argument("--quick", action="store_true", help="short slices, 20 s race (development)")
    p.add_argument("--tiny", action="store_true", help="synthetic crystals, tiny model, sub-second slices (tests)")
    p.add_argument("--no-train-run", action="store_true", help="skip the utils.train subprocess run")
    p.add_argument("--render-only", action="store_true",
                   help="re-evaluate targets/levers and rewrite results.md from an existing results.json")
    p.add_argument("--update-readme", action="store_true",
                   help="rewrite the README's Performance section from results.json (with --render-only or a run)")
    p.add_argument("--compile-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    parts = {x.strip() for x in args.parts.split(",") if x.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        p.error(f"unknown --parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    race_variants = [x.strip() for x in args.race_variants.split(",") if x.strip()]
    if not set(race_variants) <= set(RACE_VARIANTS) or not {"original", "default"} <= set(race_variants):
        p.error(f"--race-variants {args.race_variants!r}: choose from {','.join(RACE_VARIANTS)}, with original and "
                "default among them")

    if args.render_only:
        results = json.loads((args.out_dir / "results.json").read_text())
        results["targets"] = evaluate(results)
        results["missed_explanations"] = missed_explanations(results)
        results["levers"] = levers(results)
        (args.out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
        write_markdown(results, args.out_dir / "results.md")
        if args.update_readme:
            update_readme(results, ROOT / "README.md")
        return 0

    if args.compile_worker:
        torch.set_num_threads(args.threads)
        res = compile_worker(args.threads, args.rounds or 4, args.slice or 2.0, args.tiny)
        print("COMPILE_RESULT " + json.dumps(res), flush=True)
        return 0

    if args.tiny:
        rounds, slice_s, race_s = 2, 0.05, 0.5
    elif args.quick:
        rounds, slice_s, race_s = 3, 1.0, 20.0
    elif args.long:
        rounds, slice_s, race_s = 8, 3.0, None
    else:
        rounds, slice_s, race_s = 5, 2.0, None
    rounds = args.rounds or rounds
    headline_rounds = max(rounds, 8) if not args.tiny else rounds
    lever_rounds = max(rounds - 1, 2) if not args.tiny else rounds
    slice_s = args.slice or slice_s

    default_threads = torch.get_num_threads()
    t_start = time.perf_counter()
    started = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    torch.set_num_threads(args.threads)
    command = "benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results: dict = dict(command=command.strip(), started=started, threads=args.threads, device=args.device,
                         parts=sorted(parts), targets_goal=TARGETS)

    def stage(name):
        print(f"[{time.perf_counter() - t_start:6.0f} s] {name} (load {loadavg()})", flush=True)

    stage("machine")
    results["machine"] = machine_info()
    results["machine"]["torch_threads_default"] = default_threads
    if torch.device(args.device).type == "cuda":
        results["machine"]["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
    stage("inputs")
    inputs = load_inputs(args.tiny)
    shipped = inputs["shipped"]
    results["inputs"] = dict(inputs["facts"], shipped_model=shipped["checkpoint"],
                             shipped_train_seconds=shipped["train_seconds"])
    race_s = args.race_seconds if args.race_seconds is not None else (race_s or shipped["train_seconds"] or 60.0)
    results["settings"] = dict(rounds=rounds, headline_rounds=headline_rounds, lever_rounds=lever_rounds,
                               slice_s=slice_s, lever_slice_s=max(0.6 * slice_s, 0.05), race_seconds=race_s,
                               race_seeds=args.race_seeds, tiny=args.tiny,
                               race_short=bool(shipped["train_seconds"] and race_s < shipped["train_seconds"]))
    if "graphs" in parts:
        stage("graph construction")
        results["graphs"] = bench_graphs(inputs, rounds, max(slice_s / 4, 0.05))
    if "headline" in parts or "flops" in parts:
        stage("training throughput: original vs project (same architecture)")
        results["headline"] = bench_headline(inputs, args.threads, headline_rounds, slice_s, args.device)
    if "flops" in parts:
        stage("FLOPs of a training step")
        results["flops"] = flop_count(inputs, results["headline"], args.threads)
    if "training" in parts:
        stage("training throughput: levers")
        variants = training_variants(args.threads, args.long, args.device)
        if args.cueq and torch.device(args.device).type != "cuda":
            variants.append(Variant("cueq", "default with cuEquivariance edge tensor products", cueq=True))
        results["training"] = bench_training(inputs, variants, args.threads, lever_rounds, max(0.6 * slice_s, 0.05),
                                             args.device)
        results["edge_features"] = edge_feature_share(inputs, args.threads, reps=3 if args.tiny else 30)
        results["module_breakdown"] = module_breakdown(inputs, args.threads, reps=2 if args.tiny else 5)
        results["attribute_tp_check"] = attribute_tp_check(inputs)
    if args.compile:
        stage("torch.compile (subprocess)")
        results["compile"] = bench_compile(args.threads, 3 if args.tiny else 4, slice_s, 900.0, args.tiny)
    if "inference" in parts:
        stage("inference from structures, end to end")
        results["inference_e2e"] = bench_inference_e2e(inputs, args.threads, max(rounds, 3), max(slice_s, 0.05),
                                                       args.device, chunk=4 if args.tiny else 64)
        results["inference"] = bench_inference(inputs, args.threads, lever_rounds, max(slice_s / 2, 0.05),
                                               min_structures=16 if args.tiny else 180)
    if "race" in parts and race_s > 0:
        stage(f"equal wall time race ({race_s:.0f} s per variant and seed, {args.race_seeds} seeds)")
        results["race"] = race(inputs, [RACE_VARIANTS[name] for name in race_variants], args.threads, race_s,
                               args.race_seeds,
                               slice_s=max(slice_s, 0.05) * 2.5, device=args.device)
    with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
        tmp = Path(tmp)
        if "full_training" in parts and not args.no_train_run:
            if torch.device(args.device).type == "cpu":
                stage("full training subprocess (python -m utils.train)")
                io = checkpoint_overhead(inputs, tmp)
                results["full_training"] = bench_full_training(inputs, args.threads, tmp, args.scale_materials,
                                                               real_epochs=1 if args.tiny else None)
                results["full_training"]["checkpoint_io"] = io
                if args.scale_materials:
                    results["recommendation"] = recommend(results)
            else:
                stage(f"full training in process on {args.device}")
                results["full_training_inprocess"] = full_training_inprocess(inputs, args.threads, args.device,
                                                                             epochs=1 if args.tiny else None)
        if args.notebooks:
            stage("notebooks (FAST)")
            results["notebooks"] = bench_notebooks(tmp, timeout_s=3600.0, pattern=args.notebooks_glob)
    results["loadavg_end"] = loadavg()
    results["total_minutes"] = (time.perf_counter() - t_start) / 60
    results["targets"] = evaluate(results)
    results["missed_explanations"] = missed_explanations(results)
    results["levers"] = levers(results)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    write_markdown(results, args.out_dir / "results.md")
    if args.update_readme:
        update_readme(results, ROOT / "README.md")
    stage(f"done: {args.out_dir / 'results.md'}")
    for row in results["targets"]:
        print(f"  {'met   ' if row['ok'] else 'MISSED'} {row['target']}: {row['measured']} (goal {row['goal']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
