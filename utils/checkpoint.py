"""Checkpoints of the phonon-DoS network: save and load, with every check a loaded model needs.

A checkpoint is a folder with ``model.pt`` (a ``state_dict``, loaded with ``weights_only=True``) and
``model.json`` (model and training configs, the node-feature encoding, library versions, dataset version and
sha256, the weights' sha256, history and test metrics, and ``meta_sha256``: the sha256 of the rest of the
JSON in canonical form, so an edited ``model.json`` is refused). Loading checks all of them and names any mismatch.
Readers (``utils.predict``, the notebooks) import this module without the training loop; ``utils.train`` writes
checkpoints through it and re-exports its names.

Example:
    >>> model, meta = load_checkpoint("checkpoints/default")          # doctest: +SKIP
    >>> meta["metrics"]["test"]["mse"]                                 # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import io
import json
import warnings
from importlib.metadata import version as _pkg_version
from pathlib import Path

import torch

from ._io import atomic_write_bytes, atomic_write_json
from .model import ModelConfig, PeriodicNetwork

__all__ = ["DEFAULT_CHECKPOINT", "FORMAT_VERSION", "ENCODING", "CheckpointError", "meta_sha256", "save_checkpoint",
           "load_checkpoint", "atomic_torch_save"]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "default"
FORMAT_VERSION = 1
# The node-feature encoding a checkpoint was trained with; a different one makes predictions meaningless.
ENCODING = {"x": "mass_weighted_onehot", "node_attr": "occupancy_onehot", "n_elements": 118, "index": "Z-1",
            "masses": "ase.data.atomic_masses"}


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not match the code or data it is used with."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def atomic_torch_save(obj, path: Path) -> None:
    """``torch.save`` of plain tensors and containers to ``path`` atomically (the weights, a training run's state)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def meta_sha256(meta: dict) -> str:
    """sha256 of a checkpoint description in canonical JSON (sorted keys, no spaces), ``meta_sha256`` left out.

    Example:
        >>> meta_sha256({"b": 1, "a": [0.5]}) == meta_sha256({"a": [0.5], "b": 1, "meta_sha256": "x"})
        True
    """
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def save_checkpoint(directory, model, history: dict | None = None, train_config=None,
                    extra: dict | None = None, metrics: dict | None = None) -> Path:
    """Write ``model.pt`` (state_dict) and ``model.json`` (configs, encoding, versions, hashes) atomically.

    ``model.json`` describes exactly these weights: it is written afresh from the arguments (nothing of an
    earlier ``model.json`` in the folder is kept, so no stale metrics), and ends with ``meta_sha256``
    (:func:`meta_sha256`), which :func:`load_checkpoint` checks.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / "model.pt"
    atomic_torch_save(model.state_dict(), weights)
    meta_path = directory / "model.json"
    meta = dict(format_version=FORMAT_VERSION, model_config=model.config.to_dict(), encoding=ENCODING,
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
    meta["meta_sha256"] = meta_sha256(meta)
    atomic_write_json(meta, meta_path, sort_keys=True)
    return directory


def load_checkpoint(directory=DEFAULT_CHECKPOINT, dataset=None, map_location="cpu"):
    """Load a checkpoint folder → (model in eval mode, metadata dict).

    Checks the description's own sha256 (``meta_sha256``: an edited ``model.json`` is refused; a checkpoint
    written before it existed loads with a ``UserWarning``), the weights' sha256, the node-feature encoding,
    and — when `dataset` is given — that the dataset version and sha256 match those the model was trained on.
    Raises ``CheckpointError`` naming the mismatch and what to do.
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
    if "meta_sha256" not in meta:
        warnings.warn(f"{meta_path} has no integrity record (meta_sha256; written by an older version of this "
                      "code): edits to it cannot be detected. Retrain, or re-save it with utils.train.save_checkpoint.",
                      UserWarning, stacklevel=2)
    elif meta["meta_sha256"] != meta_sha256(meta):
        raise CheckpointError(f"{meta_path} was modified after it was written (its content no longer matches the "
                              "meta_sha256 it records): edited settings such as freq_cm1, r_max, num_neighbors or "
                              "train_elements would silently change predictions. Restore it (`git checkout -- "
                              "checkpoints` for the shipped one) or retrain.")
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
