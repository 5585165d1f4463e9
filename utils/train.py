"""Training loop of the phonon-DoS network (its metrics live in utils.spectra, its checkpoints in utils.checkpoint).

    python -m utils.train                                      # a new run folder runs/<date>-<time> (`make train`)
    python -m utils.train --data my.json --out my_run          # train on your own data (format: utils.data)
    python -m utils.train --seeds 0 1 2 --out my_ensemble      # an ensemble: one network per seed, averaged
    python -m utils.train --seeds 0 1 2 --out checkpoints/default --force   # maintainers: the shipped ensemble
    python -m utils.train --rescore runs/<run>                  # recompute a checkpoint's metrics, weights untouched

Nothing is overwritten unless asked: without ``--out`` every run gets a new folder under ``runs/`` (printed);
a folder that holds a finished run, an interrupted run (``state.pt``) or a run in progress (``.lock``) is
refused, and ``--force`` is needed to replace a finished checkpoint (``checkpoints/default`` included).
``--resume`` continues only an interrupted run, and only on the same data. ``--seeds`` trains the members of an
ensemble one after the other into ``seed<s>/`` sub-folders and is resumable as a whole: run it again and finished
members trained with the same settings and data are kept, an interrupted one continues.

Mini-batches through torch-geometric's ``DataLoader``, float32, AdamW with exponential learning-rate decay,
the best-validation weights kept, resumable (``--resume``), tqdm progress (silenced by ``TQDM_DISABLE=1``).

Checkpoints (``save_checkpoint``, ``load_checkpoint``) are written and read by ``utils.checkpoint`` and re-exported
here.

Example:
    >>> model, meta = load_checkpoint("checkpoints/default")          # doctest: +SKIP
    >>> meta["metrics"]["test"]["mse"]                                 # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from . import distributed as _dist
from ._env import progress_disabled
from .checkpoint import (DEFAULT_CHECKPOINT, ENCODING, ENSEMBLE_FILE, FORMAT_VERSION,  # noqa: F401  (re-exported:
                         CheckpointError, atomic_torch_save, load_checkpoint,  # utils.train.load_checkpoint)
                         meta_sha256, save_checkpoint, save_ensemble)
from .graphs import structure_to_graph
from .model import EnsembleNetwork, ModelConfig, PeriodicNetwork
from .spectra import dos_metrics, wasserstein_cm1  # noqa: F401  (re-exported: utils.train.dos_metrics)

ROOT = Path(__file__).resolve().parents[1]
RUNS_DIR = ROOT / "runs"          # default output of a training run: a new folder per run (git-ignored)
LOCK_NAME = ".lock"               # present while a training run owns its output folder


class TrainingError(ValueError):
    """A training run that cannot start or went wrong (output folder in use, no validation data, divergence)."""


class TrainingDiverged(TrainingError, FloatingPointError):
    """The training loss became NaN or infinite (the message names the epoch and the learning rate)."""


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings (one object, stored in the checkpoint).

    lr: AdamW learning rate; gamma: per-epoch exponential decay; max_minutes: wall-time budget (None = none);
    patience: early stopping — stop once the validation loss has not improved for this many epochs (None = run
    all ``epochs``); the weights of the best validation loss are kept either way. On v1 the validation loss was
    flat from epoch ~15 and best at epoch 37 of 100, so 20 epochs of patience lose nothing there and save ~40 %;
    threads: torch intra-op threads during training (None = torch's default).
    """
    epochs: int = 100
    batch_size: int = 16
    lr: float = 5e-3
    weight_decay: float = 0.05
    gamma: float = 0.97
    seed: int = 0
    max_minutes: float | None = None
    patience: int | None = 20
    # 1 thread: with a second thread, OpenMP spins waiting for a descheduled partner on a shared 2-core
    # machine (Binder, Colab, a laptop doing other work) — measured 68× slower under load (benchmarks/).
    threads: int | None = 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------------- data


def graphs_from_dataset(dataset, indices, r_max: float, dtype=torch.float32) -> list:
    """torch_geometric ``Data`` for materials ``indices`` of a ``utils.data`` dataset, DoS as ``y``."""
    from .graphs import GraphError

    graphs = []
    for i in indices:
        m = dataset[int(i)]
        try:
            graphs.append(structure_to_graph(m.structure, r_max=r_max, dos=m.dos, dtype=dtype, material_id=m.id,
                                             formula=m.formula))
        except GraphError as exc:
            raise GraphError(f"material {m.id!r} ({m.formula}): {exc}") from None
    return graphs


def average_num_neighbors(graphs) -> float:
    """z: mean number of neighbours per atom over `graphs` (the 1/√z convolution normalization)."""
    from .graphs import average_neighbors
    return float(average_neighbors(graphs))


def split_graphs(dataset, model_config: ModelConfig, indices: dict | None = None,
                 dtype=torch.float32) -> tuple[dict[str, list], ModelConfig]:
    """Graphs of each split of a ``utils.data`` dataset, and ``model_config`` fitted to them.

    The one place that turns a dataset into training input (used by :func:`fit_default`, the baselines and the
    claims): graphs per split with :func:`graphs_from_dataset` (cutoff ``model_config.r_max``), then a copy of
    ``model_config`` with ``num_neighbors`` = z of the *training* graphs (:func:`average_num_neighbors`, the
    1/√z normalization; the network must not see validation or test data) and ``out_dim`` = the dataset's grid points.

    Args:
        indices: ``{split name: material indices}`` with a ``"train"`` entry; default: the dataset's
            train/valid/test split (``dataset.split(name)``).
    Returns:
        ``({split name: [Data, …]}, fitted ModelConfig)``; ``model_config`` itself is left unchanged.
    """
    if indices is None:
        indices = {name: dataset.split(name) for name in ("train", "valid", "test")}
    graphs = {name: graphs_from_dataset(dataset, ix, model_config.r_max, dtype) for name, ix in indices.items()}
    fitted = dataclasses.replace(model_config, num_neighbors=average_num_neighbors(graphs["train"]),
                                 out_dim=len(dataset.freq_cm1))
    return graphs, fitted


# ------------------------------------------------------------------------------------------------ prediction
# (the metrics, wasserstein_cm1 and dos_metrics, are defined in utils.spectra and re-exported above)


@torch.no_grad()
def predict(model, graphs, batch_size: int = 64) -> np.ndarray:
    """Predicted DoS, (n_graphs, n_grid) numpy, in the order of `graphs`."""
    from torch_geometric.loader import DataLoader

    model.eval()
    out = [model(batch).cpu() for batch in DataLoader(graphs, batch_size=batch_size, shuffle=False)]
    return torch.cat(out).numpy() if out else np.zeros((0, model.config.out_dim))


# ------------------------------------------------------------------------------------------------- training


def _progress(iterable, **kw):
    from tqdm.auto import tqdm
    return tqdm(iterable, disable=progress_disabled(), **kw)


def _adamw(params, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with torch's fused kernel where available: the same update, about 3x faster per step on CPU for the
    default model's 2.5 M parameters (benchmarks/results.md); the plain implementation otherwise."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):   # a torch or device without the fused kernel
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def train(model, train_graphs, valid_graphs, cfg: TrainConfig, checkpoint_dir: str | Path | None = None,
          resume: bool = False, extra_meta: dict | None = None) -> dict:
    """Train `model` in place; return the history (per-epoch losses, learning rates, seconds).

    Keeps the weights of the best validation loss (restored at the end). With `checkpoint_dir`, writes the
    best checkpoint as it goes plus ``state.pt`` (optimizer etc.) so `resume=True` continues an interrupted run.
    ``state.pt`` holds tensors and plain containers only and is read with ``torch.load(weights_only=True)``;
    it records the dataset's sha256 (``extra_meta["dataset"]["sha256"]``), and resuming on other data is refused.

    Raises:
        TrainingError: no validation graphs (the best-validation weights would be meaningless), or the loss
            became NaN/inf (names the epoch and the learning rate).
        CheckpointError: ``state.pt`` is unreadable, not a plain tensor file, or from a run on other data.

    Taught in notebook 03 §9.
    """
    from torch_geometric.loader import DataLoader

    if not len(valid_graphs):
        raise TrainingError("no validation materials: training keeps the weights of the best validation loss, so it "
                            "needs at least one. Mark some materials \"split\": \"valid\" (or leave \"split\" out "
                            "and let the loader choose one).")
    if not len(train_graphs):
        raise TrainingError("no training materials: mark some materials \"split\": \"train\".")
    data_sha = ((extra_meta or {}).get("dataset") or {}).get("sha256")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    ctx = _dist.current()   # several processes under torchrun (utils.distributed); otherwise one, as always
    loader = (_dist.train_loader(train_graphs, cfg.batch_size, cfg.seed, ctx) if ctx.active else
              DataLoader(train_graphs, batch_size=cfg.batch_size, shuffle=True, generator=gen))
    valid_loader = DataLoader(_dist.shard(valid_graphs, ctx), batch_size=64, shuffle=False)
    net = _dist.wrap(model, ctx)   # DistributedDataParallel under torchrun, the model itself otherwise
    opt = _adamw(model.parameters(), cfg)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.gamma)
    history = dict(epoch=[], train_loss=[], valid_loss=[], lr=[], seconds=[])
    best = dict(loss=math.inf, state=None, epoch=-1)
    start_epoch = 0
    state_path = Path(checkpoint_dir) / "state.pt" if checkpoint_dir else None
    if resume and state_path is not None and state_path.exists():
        st = read_state(state_path)
        if data_sha is not None and st.get("dataset_sha256") not in (None, data_sha):
            raise CheckpointError(f"{state_path}: this run was trained on data with sha256 "
                                  f"{str(st.get('dataset_sha256'))[:12]}…, not on the given data "
                                  f"({data_sha[:12]}…); resume with the same --data/--version, or start a new run.")
        try:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            sched.load_state_dict(st["scheduler"])
            gen.set_state(st["generator"])
            history, best, start_epoch = st["history"], st["best"], st["epoch"] + 1
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{state_path}: cannot resume from it ({type(exc).__name__}: "
                                  f"{str(exc)[:200]}); it belongs to another model or is damaged. Start a new run.") from None
    t_start = time.perf_counter() - (history["seconds"][-1] if history["seconds"] else 0.0)
    bar = _progress(range(start_epoch, cfg.epochs), desc="epochs", unit="ep")
    for epoch in bar:
        _dist.set_epoch(loader, epoch)
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            batch = batch.to(ctx.device)
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(net(batch), batch.y)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"training diverged: the loss became {loss.item()} at epoch {epoch} with learning "
                                    f"rate {opt.param_groups[0]['lr']:g}; lower the learning rate (--lr, default "
                                    f"{TrainConfig.lr:g}).")
            loss.backward()
            opt.step()
            total += loss.item() * batch.num_graphs
            count += batch.num_graphs
        sched.step()
        total, count = _dist.sum_over_ranks(ctx, total, count)
        valid_loss = _dist.mean_over_ranks(ctx, _mean_loss(model, valid_loader), len(valid_loader.dataset))
        history["epoch"].append(epoch)
        history["train_loss"].append(total / max(count, 1))
        history["valid_loss"].append(valid_loss)
        history["lr"].append(opt.param_groups[0]["lr"])
        history["seconds"].append(time.perf_counter() - t_start)
        if valid_loss < best["loss"]:
            best = dict(loss=valid_loss, state={k: v.detach().clone() for k, v in model.state_dict().items()},
                        epoch=epoch)
            history["best_epoch"] = epoch
            if checkpoint_dir and ctx.is_writer:
                save_checkpoint(checkpoint_dir, model, history=history, train_config=cfg, extra=extra_meta)
        if state_path is not None and ctx.is_writer:
            atomic_torch_save(dict(model=model.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                                    generator=gen.get_state(), history=history, best=best, epoch=epoch,
                                    dataset_sha256=data_sha), state_path)
        bar.set_postfix(train=f"{history['train_loss'][-1]:.4f}", valid=f"{valid_loss:.4f}")
        if cfg.max_minutes and _dist.rank0_decides(ctx, history["seconds"][-1] > 60 * cfg.max_minutes):
            history["stopped"] = "max_minutes"
            break
        if cfg.patience and _dist.rank0_decides(ctx, epoch - best["epoch"] >= cfg.patience):
            history["stopped"] = "patience"
            break
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    return history


def read_state(path) -> dict:
    """The resumable state ``state.pt`` of an interrupted run, read with ``torch.load(weights_only=True)``:
    tensors and plain containers only, nothing is unpickled. Raises ``CheckpointError`` otherwise."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # torch's note on the pickle protocol of a foreign file
            st = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:              # noqa: BLE001 - UnpicklingError, EOFError, zip errors …
        raise CheckpointError(f"{path}: not a plain tensor file, refused without unpickling it "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]}). Delete it and start "
                              "a new run (without --resume).") from None
    if not isinstance(st, dict) or not {"model", "optimizer", "epoch", "history", "best"} <= set(st):
        raise CheckpointError(f"{path}: not the state of a training run of this code; delete it and start a new run.")
    return st


@torch.no_grad()
def _mean_loss(model, loader) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        batch = batch.to(next(model.parameters()).device)
        total += torch.nn.functional.mse_loss(model(batch), batch.y, reduction="sum").item() / batch.y.shape[1]
        count += batch.num_graphs
    return total / max(count, 1)


# ------------------------------------------------------------------------------------------- output folder


def new_run_dir(base: str | Path | None = None) -> Path:
    """Create and return a new, empty run folder ``<base>/<YYYYmmdd-HHMMSS>[-k]`` (never an existing one);
    base: default ``runs/`` of the project (``RUNS_DIR``)."""
    base = Path(base if base is not None else RUNS_DIR)
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(10_000):
        path = base / (stamp if k == 0 else f"{stamp}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise TrainingError(f"cannot create a new run folder in {base}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # someone else's process: alive
        return True
    return True


def _acquire_lock(out: Path) -> Path:
    """Create ``out/.lock`` exclusively (O_EXCL); a lock left by a process that no longer exists is taken over."""
    import socket

    lock = out / LOCK_NAME
    me = dict(pid=os.getpid(), host=socket.gethostname(), started=time.strftime("%Y-%m-%dT%H:%M:%S"))
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                other = json.loads(lock.read_text())
                pid, host = int(other["pid"]), str(other["host"])
            except (OSError, ValueError, KeyError, TypeError):
                other, pid, host = {}, None, None
            if pid is not None and host == me["host"] and not _pid_alive(pid):
                lock.unlink(missing_ok=True)         # stale: its process is gone
                continue
            raise TrainingError(
                f"{out} is in use by another training run (pid {pid}, host {host}, started {other.get('started')}); "
                f"wait for it to finish or choose another --out. If no such run exists, delete {lock}.") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return lock
    raise TrainingError(f"cannot lock {out}: delete {lock} if no training run uses this folder")


def _is_shipped(out: Path) -> bool:
    """Whether ``out`` is the shipped checkpoint folder or one of its member folders."""
    shipped = DEFAULT_CHECKPOINT.resolve()
    resolved = Path(out).resolve()
    return resolved == shipped or shipped in resolved.parents


def _shipped_refusal(out: Path) -> TrainingError:
    return TrainingError(f"{out} is the shipped checkpoint: training never replaces it by default. Leave out --out "
                         "(a new folder under runs/ is made), or replace it deliberately with `--seeds 0 1 2 --out "
                         "checkpoints/default --force` (`make train-default`).")


def _check_output(out: Path, resume: bool, force: bool) -> None:
    """Refuse to overwrite the shipped checkpoint or a finished run without ``force``; ``resume`` needs ``state.pt``."""
    if out.exists() and not out.is_dir():
        raise TrainingError(f"--out {out} is a file, not a folder")
    shipped = _is_shipped(out)
    has_model, has_state = (out / "model.json").exists(), (out / "state.pt").exists()
    if shipped and not force:
        raise _shipped_refusal(out)
    if (out / ENSEMBLE_FILE).exists():
        raise TrainingError(f"{out} holds an ensemble ({ENSEMBLE_FILE}): a single network is never written over it. "
                            "Choose another --out, or retrain the ensemble with --seeds.")
    if resume:
        if not has_state:
            what = "a finished run (nothing to resume)" if has_model else "no interrupted run (no state.pt)"
            raise TrainingError(f"--resume: {out} holds {what}. Start a new run without --resume "
                                "(and another --out, or --force to replace a finished one).")
        return
    if has_state and not force:
        raise TrainingError(f"{out} holds an interrupted run (state.pt): continue it with --resume, or start over "
                            "with --force.")
    if has_model and not force:
        raise TrainingError(f"{out} already holds a trained checkpoint: choose another --out (or leave it out for a "
                            "new folder under runs/), or replace it with --force.")


# -------------------------------------------------------------------------------------------- data checks


def graph_geometry(graph) -> tuple[float, float]:
    """(shortest interatomic distance in Å, volume per atom in Å³) of a graph from ``structure_to_graph``."""
    d_min = float(graph.edge_vec.norm(dim=1).min()) if graph.edge_vec.shape[0] else float("inf")
    volume = abs(float(torch.linalg.det(graph.lattice[0].double())))
    return d_min, volume / int(graph.n_atoms)


def geometry_ranges(graphs) -> dict:
    """Range of :func:`graph_geometry` over graphs (stored as ``train_geometry`` in a checkpoint's model.json)."""
    d, v = zip(*(graph_geometry(g) for g in graphs))
    return dict(min_distance_A=[round(min(d), 4), round(max(d), 4)],
                volume_per_atom_A3=[round(min(v), 4), round(max(v), 4)])


def duplicates_across_splits(dataset, splits: dict) -> list[tuple[str, str, str, str]]:
    """Materials that occur in two splits: same reduced formula and the same structure by pymatgen's
    ``StructureMatcher`` (primitive cell, default tolerances, no volume scaling).

    Returns [(id_a, split_a, id_b, split_b), …]; such twins leak test data into training.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    by_formula: dict[str, list[tuple[str, int]]] = {}
    for name, ix in splits.items():
        for i in ix:
            by_formula.setdefault(dataset[int(i)].formula, []).append((name, int(i)))
    matcher = StructureMatcher(scale=False)
    found = []
    for members in by_formula.values():
        if len({name for name, _ in members}) < 2:
            continue
        structures = {i: dataset[i].structure for _, i in members}
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                (sa, ia), (sb, ib) = members[a], members[b]
                if sa != sb and matcher.fit(structures[ia], structures[ib]):
                    found.append((dataset[ia].id, sa, dataset[ib].id, sb))
    return found


# ---------------------------------------------------------------------------------------------------- CLI


def fit_default(out=None, version=None, model_config: ModelConfig | None = None,
                train_config: TrainConfig | None = None, resume: bool = False, data_json: str | None = None,
                force: bool = False, allow_duplicates: bool = False) -> dict:
    """Train the series' default model on a dataset; write the checkpoint with test metrics. Returns them.

    out: checkpoint folder; None → a new folder under ``runs/`` (printed). The shipped ``checkpoints/default``
    and any folder with a finished run are replaced only with ``force=True``; a folder in use by another run
    (``.lock``) is refused; ``resume=True`` continues an interrupted run (``state.pt``) on the same data only.
    With ``data_json``, materials that occur in two splits are refused unless ``allow_duplicates``.

    Raises:
        TrainingError, CheckpointError, utils.data.DataError, utils.graphs.GraphError: with a message naming the
        folder, file or material and what to do.

    Taught in notebook 03 §9.
    """
    from . import data as data_mod

    if out is None:
        out = new_run_dir()
        print(f"checkpoint folder: {out}", flush=True)
    out = Path(out)
    _check_output(out, resume, force)
    dataset = data_mod.load_user_dataset(data_json) if data_json else data_mod.load_dataset(version)
    model_config = model_config or ModelConfig()
    train_config = train_config or TrainConfig()
    idx = {name: dataset.split(name) for name in ("train", "valid", "test")}
    for name in ("train", "valid"):
        if not len(idx[name]):
            raise TrainingError(
                f"{dataset.path or dataset.version}: no {name} material among {len(dataset)}. Training keeps the "
                f"weights of the best validation loss, so it needs both a train and a valid split: mark some "
                f"materials \"split\": \"{name}\", or leave \"split\" out everywhere to get an automatic split "
                "(needs at least 2 materials).")
    if data_json and not allow_duplicates:
        twins = duplicates_across_splits(dataset, idx)
        if twins:
            listed = "; ".join(f"{a} ({sa}) = {b} ({sb})" for a, sa, b, sb in twins[:5])
            raise TrainingError(f"{data_json}: {len(twins)} material(s) occur in two splits (same structure by "
                                f"pymatgen's StructureMatcher): {listed}{' …' if len(twins) > 5 else ''}. The "
                                "test metrics would count memorized materials: remove the twins or put each pair "
                                "in one split (--allow-duplicates to train anyway).")
    t0 = time.perf_counter()
    graphs, model_config = split_graphs(dataset, model_config, idx)   # num_neighbors, out_dim from the data
    graph_seconds = time.perf_counter() - t0
    torch.manual_seed(train_config.seed)
    model = PeriodicNetwork(model_config)
    train_elements = sorted({el for i in idx["train"] for el in dataset[int(i)].species})
    extra = dict(dataset=dict(version=dataset.version, sha256=dataset.sha256, n=len(dataset),
                              split_sizes={k: len(v) for k, v in idx.items()}),
                 freq_cm1=np.asarray(dataset.freq_cm1).tolist(), train_elements=train_elements,
                 train_geometry=geometry_ranges(graphs["train"]), graph_seconds=round(graph_seconds, 2))
    ctx = _dist.current()
    out.mkdir(parents=True, exist_ok=True)
    lock = _acquire_lock(out) if ctx.is_writer else None   # under torchrun, rank 0 owns the folder
    try:
        if ctx.is_writer:
            _check_output(out, resume, force)        # again, now that this run owns the folder
            if not resume:
                (out / "state.pt").unlink(missing_ok=True)     # --force: start over
        _dist.rank0_decides(ctx, True)               # the other ranks wait until the folder is ready
        history = train(model, graphs["train"], graphs["valid"], train_config, checkpoint_dir=out, resume=resume,
                        extra_meta=extra)
        if not ctx.is_writer:   # under torchrun, rank 0 alone evaluates and writes the checkpoint
            return {}
        model.cpu()
        metrics = split_metrics(model, graphs, dataset.freq_cm1)
        save_checkpoint(out, model, history=history, train_config=train_config, extra=extra, metrics=metrics)
        (out / "state.pt").unlink(missing_ok=True)
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)
    return metrics


def fit_ensemble(out=None, seeds=(0, 1, 2), version=None, train_config: TrainConfig | None = None,
                 data_json: str | None = None, force: bool = False, allow_duplicates: bool = False) -> dict:
    """Train one default network per seed into ``out/seed<s>/`` (:func:`fit_default`), then write ``ensemble.json``
    (:func:`utils.checkpoint.save_ensemble`) with the ensemble's metrics on every split. Returns them.

    Resumable as a whole: a member folder that holds a finished checkpoint with the same training settings
    (``train_config`` with its seed) and the same data (sha256) is kept; one with an interrupted run (``state.pt``)
    continues; anything else in a member folder is refused unless ``force``. The shipped ``checkpoints/default``
    and a folder that already holds an ensemble need ``force=True``.

    The ensemble's prediction is the mean of the members' (:class:`utils.model.EnsembleNetwork`); in the
    hyper-parameter search of notebook 03 the mean of 3 seeds validated 17–23 % better than one network.
    """
    from . import data as data_mod

    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if len(seeds) < 2:
        raise TrainingError(f"--seeds needs at least 2 different seeds for an ensemble (got {seeds}); for one network "
                            "use --seed")
    if out is None:
        out = new_run_dir()
        print(f"ensemble folder: {out}", flush=True)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TrainingError(f"--out {out} is a file, not a folder")
    if _is_shipped(out) and not force:
        raise _shipped_refusal(out)
    if (out / ENSEMBLE_FILE).exists() and not force:
        raise TrainingError(f"{out} already holds an ensemble: choose another --out, or retrain it with --force "
                            "(finished members trained with the same settings are kept).")
    if (out / "model.json").exists() or (out / "state.pt").exists():
        raise TrainingError(f"{out} holds a single network (model.json or state.pt): an ensemble's members go in "
                            "sub-folders of a folder of their own; choose another --out.")
    train_config = train_config or TrainConfig()
    dataset = data_mod.load_user_dataset(data_json) if data_json else data_mod.load_dataset(version)
    member_dirs = []
    for seed in seeds:
        member, config = out / f"seed{seed}", dataclasses.replace(train_config, seed=seed)
        member_dirs.append(member)
        done, interrupted = (member / "model.json").exists(), (member / "state.pt").exists()
        if done and not interrupted:
            meta = json.loads((member / "model.json").read_text())
            same = (meta.get("train_config") == config.to_dict()
                    and (meta.get("dataset") or {}).get("sha256") == dataset.sha256)
            if same:
                print(f"seed {seed}: {member} holds a finished member trained with these settings, kept", flush=True)
                continue
            if not force:
                raise TrainingError(f"{member} holds a network trained with other settings or data: retrain it with "
                                    "--force, or choose another --out.")
        print(f"seed {seed}: training {member}", flush=True)
        fit_default(member, version, train_config=config, resume=interrupted, data_json=data_json,
                    force=force or interrupted, allow_duplicates=allow_duplicates)
    if not _dist.current().is_writer:
        return {}
    networks = [load_checkpoint(m, dataset=dataset)[0] for m in member_dirs]
    ensemble = EnsembleNetwork(networks).eval()
    idx = {name: dataset.split(name) for name in ("train", "valid", "test")}
    graphs, _ = split_graphs(dataset, ensemble.config, idx)
    metrics = split_metrics(ensemble, graphs, dataset.freq_cm1)
    save_ensemble(out, member_dirs, metrics=metrics, extra=dict(seeds=seeds, train_config={
        k: v for k, v in train_config.to_dict().items() if k != "seed"}))
    return metrics


def split_metrics(model, graphs: dict, freq_cm1) -> dict:
    """``{split name: dos_metrics}`` of `model` on each non-empty split of ``graphs`` (labels are the graphs' ``y``)."""
    return {name: dos_metrics(freq_cm1, np.stack([g.y[0].numpy() for g in gs]), predict(model, gs))
            for name, gs in graphs.items() if gs}


def rescore_checkpoint(directory, force: bool = False) -> dict:
    """Recompute the train/valid/test metrics stored in a checkpoint's ``model.json``; the weights are not touched.

    For when a metric's definition was corrected (e.g. the ω = 0 point of C_V in ``utils.thermo``): the model is
    evaluated again on the dataset it was trained on (same version and sha256, checked by ``load_checkpoint``),
    ``metrics`` is replaced and ``meta_sha256`` recomputed; ``model.pt`` and everything else in ``model.json`` stay
    as they are. The shipped ``checkpoints/default`` is rewritten only with ``force=True``.

    Returns the new metrics. Raises ``TrainingError``/``CheckpointError`` naming the folder and what to do.
    """
    from . import data as data_mod
    from ._io import atomic_write_json

    directory = Path(directory)
    if _is_shipped(directory) and not force:
        raise TrainingError(f"{directory} is the shipped checkpoint: its metrics are rewritten only with --force "
                            "(maintainers).")
    if (directory / ENSEMBLE_FILE).exists():
        raise TrainingError(f"{directory} is an ensemble: rescore each member (--rescore {directory}/seed<s>), then "
                            f"re-assemble it with `--seeds … --out {directory} --force` (finished members are kept, "
                            "the ensemble's metrics are recomputed)")
    if not (directory / "model.json").exists():
        raise TrainingError(f"{directory} holds no finished checkpoint (no model.json) to rescore")
    meta = json.loads((directory / "model.json").read_text())
    version = (meta.get("dataset") or {}).get("version")
    if not version:
        raise TrainingError(f"{directory}/model.json names no embedded dataset version (a model trained on your own "
                            "data): evaluate it with utils.spectra.dos_metrics on that data instead")
    dataset = data_mod.load_dataset(version)
    model, meta = load_checkpoint(directory, dataset=dataset)      # checks weights, encoding, dataset sha256
    graphs, _ = split_graphs(dataset, model.config)                 # the model keeps its own z
    metrics = split_metrics(model, graphs, dataset.freq_cm1)
    meta = {k: v for k, v in meta.items() if k != "meta_sha256"}
    meta["metrics"] = metrics
    meta["meta_sha256"] = meta_sha256(meta)
    atomic_write_json(meta, directory / "model.json", sort_keys=True)
    return metrics


def latest_run(base: str | Path | None = None) -> Path:
    """The newest run folder under ``runs/`` that holds a finished checkpoint (for ``load_checkpoint``)."""
    base = Path(base if base is not None else RUNS_DIR)
    runs = sorted((p for p in Path(base).glob("*/model.json")), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise CheckpointError(f"no finished training run in {base}: run `make train` (python -m utils.train) first.")
    return runs[-1].parent


def _positive(text: str) -> float:
    import argparse
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def main(argv=None) -> int:
    import argparse

    from .data import DataError
    from .graphs import GraphError

    p = argparse.ArgumentParser(prog="python -m utils.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None,
                   help="checkpoint folder (default: a new folder runs/<YYYYmmdd-HHMMSS>, printed at the start)")
    p.add_argument("--force", action="store_true",
                   help="replace the checkpoint in --out (a finished or interrupted run, or the shipped "
                        "checkpoints/default)")
    p.add_argument("--data", default=None, help="your own data (JSON, see utils.data.load_user_dataset)")
    p.add_argument("--allow-duplicates", action="store_true",
                   help="train even if the same structure occurs in two splits of --data")
    p.add_argument("--version", default=None, help="embedded dataset version (default: latest)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="default: %(default)s")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help="default: %(default)s")
    p.add_argument("--lr", type=_positive, default=TrainConfig.lr, help="AdamW learning rate (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                   help="train an ensemble: one network per seed in --out/seed<s>/, averaged (resumable: run again "
                        "to continue; finished members are kept)")
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--patience", type=int, default=TrainConfig.patience,
                   help="early stopping: stop after this many epochs without a better validation loss; 0 = run all "
                        "epochs (default: %(default)s; the best weights are kept either way)")
    p.add_argument("--threads", type=int, default=TrainConfig.threads,
                   help="torch threads (default 1: robust on shared machines, see benchmarks/results.md)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run in --out (same data; a finished run is not restarted)")
    p.add_argument("--rescore", default=None, metavar="DIR",
                   help="recompute the metrics stored in checkpoint DIR (weights untouched; the shipped "
                        "checkpoint only with --force) and exit")
    args = p.parse_args(argv)
    if args.rescore:
        try:
            metrics = rescore_checkpoint(args.rescore, force=args.force)
        except (TrainingError, CheckpointError, DataError, GraphError, FileNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps({k: {m: round(v, 5) for m, v in d.items()} for k, d in metrics.items()}))
        return 0
    if args.resume and args.out is None:
        p.error("--resume needs --out: the folder of the interrupted run")
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      max_minutes=args.max_minutes, patience=args.patience or None, threads=args.threads)
    if args.seeds is not None and args.resume:
        p.error("--seeds resumes by itself (run the same command again); leave out --resume")
    ctx = _dist.init_from_env()   # torchrun: join the process group (utils.distributed); else a no-op
    try:
        if args.seeds is not None:
            metrics = fit_ensemble(args.out, args.seeds, args.version, train_config=cfg, data_json=args.data,
                                   force=args.force, allow_duplicates=args.allow_duplicates)
        else:
            metrics = fit_default(args.out, args.version, train_config=cfg, resume=args.resume, data_json=args.data,
                                  force=args.force, allow_duplicates=args.allow_duplicates)
    except (TrainingError, CheckpointError, DataError, GraphError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        _dist.shutdown()
    if ctx.is_writer:
        print(json.dumps({k: {m: round(v, 5) for m, v in d.items()} for k, d in metrics.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
