"""Training loop, evaluation metrics and checkpoints for the phonon-DoS network.

    python -m utils.train --out checkpoints/default           # what `make train` runs
    python -m utils.train --data my.json --out checkpoints/my  # train on your own data (format: utils.data)

Mini-batches through torch-geometric's ``DataLoader``, float32, AdamW with exponential learning-rate decay,
the best-validation weights kept, resumable (``--resume``), tqdm progress (silenced by ``TQDM_DISABLE=1``).

A checkpoint is a folder with ``model.pt`` (a ``state_dict``, loaded with ``weights_only=True``) and
``model.json`` (model and training configs, the node-feature encoding, library versions, dataset version and
sha256, the weights' sha256, history and test metrics). Loading checks all of them and names any mismatch.

Example:
    >>> model, meta = load_checkpoint("checkpoints/default")          # doctest: +SKIP
    >>> meta["metrics"]["test"]["mse"]                                 # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import sys
import time
from importlib.metadata import version as _pkg_version
from pathlib import Path

import numpy as np
import torch

from . import distributed as _dist
from ._io import atomic_write_bytes, atomic_write_json
from .graphs import structure_to_graph
from .model import ModelConfig, PeriodicNetwork

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "default"
FORMAT_VERSION = 1
# The node-feature encoding a checkpoint was trained with; a different one makes predictions meaningless.
ENCODING = {"x": "mass_weighted_onehot", "node_attr": "occupancy_onehot", "n_elements": 118, "index": "Z-1",
            "masses": "ase.data.atomic_masses"}


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not match the code or data it is used with."""


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings (one object, stored in the checkpoint).

    lr: AdamW learning rate; gamma: per-epoch exponential decay; max_minutes: wall-time budget (None = none);
    threads: torch intra-op threads during training (None = torch's default).
    """
    epochs: int = 100
    batch_size: int = 16
    lr: float = 5e-3
    weight_decay: float = 0.05
    gamma: float = 0.97
    seed: int = 0
    max_minutes: float | None = None
    # 1 thread: with a second thread, OpenMP spins waiting for a descheduled partner on a shared 2-core
    # machine (Binder, Colab, a laptop doing other work) — measured 68× slower under load (benchmarks/).
    threads: int | None = 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------------- data


def graphs_from_dataset(dataset, indices, r_max: float, dtype=torch.float32) -> list:
    """torch_geometric ``Data`` for materials ``indices`` of a ``utils.data`` dataset, DoS as ``y``."""
    graphs = []
    for i in indices:
        m = dataset[int(i)]
        graphs.append(structure_to_graph(m.structure, r_max=r_max, dos=m.dos, dtype=dtype, material_id=m.id,
                                         formula=m.formula))
    return graphs


def average_num_neighbors(graphs) -> float:
    """z: mean number of neighbours per atom over `graphs` (the 1/√z convolution normalization)."""
    from .graphs import average_neighbors
    return float(average_neighbors(graphs))


# -------------------------------------------------------------------------------------------------- metrics


def wasserstein_cm1(freq_cm1: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Earth mover's distance W₁ = ∫ |CDF_a − CDF_b| dω (cm⁻¹) between DoS rows, each normalized to unit area.

    a, b: (n, n_grid) or (n_grid,) non-negative; returns (n,) or a scalar.
    """
    a, b = np.atleast_2d(a).astype(float), np.atleast_2d(b).astype(float)
    dw = np.diff(freq_cm1)
    def cdf(x):
        x = np.clip(x, 0, None)
        inc = 0.5 * (x[:, 1:] + x[:, :-1]) * dw       # trapezoid pieces
        c = np.concatenate([np.zeros((len(x), 1)), np.cumsum(inc, axis=1)], axis=1)
        return c / np.maximum(c[:, -1:], 1e-12)
    diff = np.abs(cdf(a) - cdf(b))
    w = np.sum(0.5 * (diff[:, 1:] + diff[:, :-1]) * dw, axis=1)
    return w if w.size > 1 else float(w[0])


def dos_metrics(freq_cm1: np.ndarray, target: np.ndarray, prediction: np.ndarray, temperature_K: float = 300.0) -> dict:
    """MSE, MAE, R² (over all grid points), mean Wasserstein distance (cm⁻¹) and mean |ΔC_V(T)|/C_V (%)."""
    from .thermo import heat_capacity

    target, prediction = np.asarray(target, float), np.asarray(prediction, float)
    err = prediction - target
    ss_res = float(np.sum(err ** 2))
    ss_tot = float(np.sum((target - target.mean()) ** 2))
    cv_t = np.array([heat_capacity(freq_cm1, t, temperature_K) for t in target]).ravel()
    cv_p = np.array([heat_capacity(freq_cm1, p, temperature_K) for p in prediction]).ravel()
    return dict(mse=float(np.mean(err ** 2)), mae=float(np.mean(np.abs(err))), r2=1.0 - ss_res / ss_tot,
                wasserstein_cm1=float(np.mean(wasserstein_cm1(freq_cm1, target, prediction))),
                cv300_rel_error_pct=float(np.mean(np.abs(cv_p - cv_t) / np.maximum(cv_t, 1e-12)) * 100),
                n=int(len(target)))


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
    return tqdm(iterable, disable=os.environ.get("TQDM_DISABLE", "0") not in ("", "0"), **kw)


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
    """
    from torch_geometric.loader import DataLoader

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
        st = torch.load(state_path, weights_only=False)   # our own file: optimizer state needs pickling
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        gen.set_state(st["generator"])
        history, best, start_epoch = st["history"], st["best"], st["epoch"] + 1
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
                raise FloatingPointError(f"training loss became {loss.item()} at epoch {epoch}: lower the learning rate")
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
            _atomic_torch_save(dict(model=model.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                                    generator=gen.get_state(), history=history, best=best, epoch=epoch), state_path)
        bar.set_postfix(train=f"{history['train_loss'][-1]:.4f}", valid=f"{valid_loss:.4f}")
        if cfg.max_minutes and _dist.rank0_decides(ctx, history["seconds"][-1] > 60 * cfg.max_minutes):
            break
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    return history


@torch.no_grad()
def _mean_loss(model, loader) -> float:
    model.eval()
    total, count = 0.0, 0
    for batch in loader:
        batch = batch.to(next(model.parameters()).device)
        total += torch.nn.functional.mse_loss(model(batch), batch.y, reduction="sum").item() / batch.y.shape[1]
        count += batch.num_graphs
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------- checkpoints


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _atomic_torch_save(obj, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def save_checkpoint(directory, model, history: dict | None = None, train_config: TrainConfig | None = None,
                    extra: dict | None = None, metrics: dict | None = None) -> Path:
    """Write ``model.pt`` (state_dict) and ``model.json`` (configs, encoding, versions, hashes) atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / "model.pt"
    _atomic_torch_save(model.state_dict(), weights)
    meta_path = directory / "model.json"
    old = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta = dict(old, format_version=FORMAT_VERSION, model_config=model.config.to_dict(), encoding=ENCODING,
                versions={p: _pkg_version(p) for p in ("torch", "e3nn", "torch_geometric", "numpy")},
                weights_sha256=_sha256(weights))
    if train_config is not None:
        meta["train_config"] = train_config.to_dict()
    if history is not None:
        meta["history"] = history
    if extra:
        meta.update(extra)
    if metrics is not None:
        meta["metrics"] = metrics
    atomic_write_json(meta, meta_path, sort_keys=True)
    return directory


def load_checkpoint(directory=DEFAULT_CHECKPOINT, dataset=None, map_location="cpu"):
    """Load a checkpoint folder → (model in eval mode, metadata dict).

    Checks the weights' sha256, the node-feature encoding, and — when `dataset` is given — that the
    dataset version and sha256 match those the model was trained on. Raises ``CheckpointError`` naming the
    mismatch and what to do.
    """
    directory = Path(directory)
    weights, meta_path = directory / "model.pt", directory / "model.json"
    if not weights.exists() or not meta_path.exists():
        raise CheckpointError(f"no checkpoint in {directory}: expected model.pt and model.json there. "
                              "Run `make train` (or `python -m utils.train --out DIR`) to create one.")
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or "model_config" not in meta:
            raise ValueError("no model_config")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path} is not a readable checkpoint description ({exc}); restore it with "
                              "`git checkout -- checkpoints` or retrain with `make train`.") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{meta_path}: checkpoint format {meta.get('format_version')} but this code reads "
                              f"format {FORMAT_VERSION}; retrain with `make train`.")
    if meta.get("weights_sha256") != _sha256(weights):
        raise CheckpointError(f"{weights}: sha256 does not match model.json (file corrupt or replaced); "
                              "restore it with `git checkout -- checkpoints` or retrain.")
    if meta.get("encoding") != ENCODING:
        raise CheckpointError(f"{meta_path}: node-feature encoding {meta.get('encoding')} differs from this "
                              f"code's {ENCODING}; predictions would be meaningless. Retrain with `make train`.")
    if dataset is not None:
        want = meta.get("dataset", {})
        if want and (want.get("version"), want.get("sha256")) != (dataset.version, dataset.sha256):
            raise CheckpointError(
                f"{meta_path}: trained on dataset {want.get('version')} ({str(want.get('sha256'))[:12]}…) but "
                f"given {dataset.version} ({dataset.sha256[:12]}…); load that version or retrain with `make train`.")
    try:
        model = PeriodicNetwork(ModelConfig.from_dict(meta["model_config"]))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{meta_path}: model_config does not describe a network of this code ({exc})") from None
    try:
        model.load_state_dict(torch.load(weights, map_location=map_location, weights_only=True))
    except RuntimeError as exc:
        raise CheckpointError(f"{weights}: weights do not fit the model config in model.json ({exc})") from None
    model.eval()
    return model, meta


# ---------------------------------------------------------------------------------------------------- CLI


def fit_default(out=DEFAULT_CHECKPOINT, version=None, model_config: ModelConfig | None = None,
                train_config: TrainConfig | None = None, resume: bool = False, data_json: str | None = None) -> dict:
    """Train the series' default model on a dataset; write the checkpoint with test metrics. Returns them."""
    from . import data as data_mod

    dataset = data_mod.load_user_dataset(data_json) if data_json else data_mod.load_dataset(version)
    model_config = model_config or ModelConfig()
    train_config = train_config or TrainConfig()
    idx = {name: dataset.split(name) for name in ("train", "valid", "test")}
    t0 = time.perf_counter()
    graphs = {name: graphs_from_dataset(dataset, ix, model_config.r_max) for name, ix in idx.items()}
    graph_seconds = time.perf_counter() - t0
    model_config.num_neighbors = average_num_neighbors(graphs["train"])
    model_config.out_dim = len(dataset.freq_cm1)
    torch.manual_seed(train_config.seed)
    model = PeriodicNetwork(model_config)
    train_elements = sorted({el for i in idx["train"] for el in dataset[int(i)].species})
    extra = dict(dataset=dict(version=dataset.version, sha256=dataset.sha256, n=len(dataset),
                              split_sizes={k: len(v) for k, v in idx.items()}),
                 freq_cm1=np.asarray(dataset.freq_cm1).tolist(), train_elements=train_elements,
                 graph_seconds=round(graph_seconds, 2))
    history = train(model, graphs["train"], graphs["valid"], train_config, checkpoint_dir=out, resume=resume,
                    extra_meta=extra)
    if not _dist.current().is_writer:   # under torchrun, rank 0 alone evaluates and writes the checkpoint
        return {}
    model.cpu()
    metrics = {name: dos_metrics(dataset.freq_cm1, np.stack([g.y[0].numpy() for g in graphs[name]]),
                                 predict(model, graphs[name]))
               for name in ("train", "valid", "test") if graphs[name]}
    save_checkpoint(out, model, history=history, train_config=train_config, extra=extra, metrics=metrics)
    state = Path(out) / "state.pt"
    if state.exists():
        state.unlink()
    return metrics


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m utils.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(DEFAULT_CHECKPOINT), help="checkpoint folder")
    p.add_argument("--data", default=None, help="your own data (JSON, see utils.data.load_user_dataset)")
    p.add_argument("--version", default=None, help="embedded dataset version (default: latest)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-minutes", type=float, default=None)
    p.add_argument("--threads", type=int, default=TrainConfig.threads,
                   help="torch threads (default 1: robust on shared machines, see benchmarks/results.md)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    args = p.parse_args(argv)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      max_minutes=args.max_minutes, threads=args.threads)
    ctx = _dist.init_from_env()   # torchrun: join the process group (utils.distributed); else a no-op
    try:
        metrics = fit_default(args.out, args.version, train_config=cfg, resume=args.resume, data_json=args.data)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        _dist.shutdown()
    if ctx.is_writer:
        print(json.dumps({k: {m: round(v, 5) for m, v in d.items()} for k, d in metrics.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
