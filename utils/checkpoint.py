"""Checkpoints of the phonon-DoS network: save and load, with every check a loaded model needs.

A checkpoint is a folder with ``model.pt`` (a ``state_dict``, loaded with ``weights_only=True``) and
``model.json`` (model and training configs, the node-feature encoding, library versions, dataset version and
sha256, the weights' sha256, history and test metrics, and ``meta_sha256``: the sha256 of the rest of the
JSON in canonical form, so an edited ``model.json`` is refused). Loading checks all of them and names any mismatch.
Readers (``utils.predict``, the notebooks) import this module without the training loop; ``utils.train`` writes
checkpoints through it and re-exports its names.

An **ensemble** checkpoint is a folder with ``ensemble.json`` and one ordinary checkpoint per member in a
sub-folder (``seed0/``, ``seed1/``, …). ``ensemble.json`` records each member's folder, seed and ``meta_sha256``
(a replaced member is refused), the settings the members share (grid, encoding, dataset, r_max, training
elements and geometry), the ensemble's metrics and its own ``meta_sha256``. :func:`load_checkpoint` reads both
kinds; an ensemble loads as one :class:`utils.model.EnsembleNetwork`, its metadata has the members' under
``meta["members_meta"]`` (added on loading, not stored).

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
from .model import EnsembleNetwork, ModelConfig, PeriodicNetwork

__all__ = ["DEFAULT_CHECKPOINT", "FORMAT_VERSION", "ENCODING", "ENSEMBLE_FILE", "CheckpointError", "meta_sha256",
           "save_checkpoint", "save_ensemble", "load_checkpoint", "checkpoint_exists", "is_ensemble",
           "atomic_torch_save"]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "default"
FORMAT_VERSION = 1
ENSEMBLE_FILE = "ensemble.json"
# what the members of an ensemble must share (taken from the first member into ensemble.json)
SHARED_KEYS = ("model_config", "encoding", "dataset", "freq_cm1", "train_elements", "train_geometry", "versions")
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
    """sha256 of a checkpoint description in canonical JSON (sorted keys, no spaces), ``meta_sha256`` left out (and
    an ensemble's ``members_meta``, which :func:`load_checkpoint` adds).

    Example:
        >>> meta_sha256({"b": 1, "a": [0.5]}) == meta_sha256({"a": [0.5], "b": 1, "meta_sha256": "x"})
        True
    """
    body = {k: v for k, v in meta.items() if k not in ("meta_sha256", "members_meta")}   # members_meta: on loading
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


def checkpoint_exists(directory) -> bool:
    """Whether ``directory`` holds a finished checkpoint: one network (``model.json``) or an ensemble."""
    return (Path(directory) / "model.json").exists() or is_ensemble(directory)


def is_ensemble(directory) -> bool:
    """Whether ``directory`` holds an ensemble checkpoint (``ensemble.json``)."""
    return (Path(directory) / ENSEMBLE_FILE).exists()


def _read_description(path: Path, what: str) -> dict:
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict) or what not in meta:
            raise ValueError(f"no {what}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint description ({exc}); restore it with "
                              "`git checkout -- checkpoints` or retrain with `make train`.") from None
    return meta


def save_ensemble(directory, member_dirs, metrics: dict | None = None, extra: dict | None = None) -> Path:
    """Write ``ensemble.json`` for the member checkpoints in ``member_dirs`` (sub-folders of ``directory``).

    Every member is loaded with all of :func:`load_checkpoint`'s checks and must share the settings of
    ``SHARED_KEYS`` with the first. ``metrics`` are the ensemble's (``utils.train`` computes them).
    """
    directory = Path(directory)
    members, shared = [], None
    for member_dir in member_dirs:
        member_dir = Path(member_dir)
        try:
            relative = member_dir.resolve().relative_to(directory.resolve())
        except ValueError:
            raise CheckpointError(f"ensemble member {member_dir} is not inside {directory}: members live in "
                                  "sub-folders of the ensemble's folder") from None
        _, meta = load_checkpoint(member_dir)
        if is_ensemble(member_dir):
            raise CheckpointError(f"{member_dir} is itself an ensemble; members are single networks")
        common = {k: meta.get(k) for k in SHARED_KEYS}
        if shared is None:
            shared = common
        else:
            differ = [k for k in SHARED_KEYS if common[k] != shared[k] and k != "versions"]
            if differ:
                raise CheckpointError(f"ensemble member {member_dir} differs from the first member in {differ}: "
                                      "members must be trained on the same data with the same model config")
        members.append(dict(path=relative.as_posix(), seed=(meta.get("train_config") or {}).get("seed"),
                            meta_sha256=meta["meta_sha256"]))
    if not members:
        raise CheckpointError("an ensemble needs at least one member checkpoint")
    out = dict(format_version=FORMAT_VERSION, kind="ensemble", members=members, **shared)
    if extra:
        out.update(extra)
    if metrics is not None:
        out["metrics"] = metrics
    out["meta_sha256"] = meta_sha256(out)
    atomic_write_json(out, directory / ENSEMBLE_FILE, sort_keys=True)
    return directory


def _load_ensemble(directory: Path, dataset, map_location):
    path = directory / ENSEMBLE_FILE
    meta = _read_description(path, "members")
    if meta.get("meta_sha256") != meta_sha256(meta):
        raise CheckpointError(f"{path} was modified after it was written (its content no longer matches the "
                              "meta_sha256 it records). Restore it (`git checkout -- checkpoints` for the shipped "
                              "one) or re-assemble it with `python -m utils.train --seeds … --out DIR`.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {meta.get('format_version')} but this code reads "
                              f"format {FORMAT_VERSION}; retrain with `make train`.")
    listed = meta["members"]
    if not isinstance(listed, list) or not listed or not all(isinstance(m, dict) for m in listed):
        raise CheckpointError(f"{path}: 'members' must be a non-empty list of {{path, seed, meta_sha256}} entries; "
                              "restore it (`git checkout -- checkpoints`) or re-assemble the ensemble.")
    networks, members_meta = [], []
    for member in listed:
        relative = Path(str(member.get("path", "")))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise CheckpointError(f"{path}: member path {member.get('path')!r} must be a sub-folder of {directory}")
        network, member_meta = load_checkpoint(directory / relative, dataset=dataset, map_location=map_location)
        if member_meta.get("meta_sha256") != member.get("meta_sha256"):
            raise CheckpointError(f"{directory / relative} is not the member {path} was assembled from (its "
                                  "meta_sha256 differs): restore it, or re-assemble the ensemble.")
        differ = [k for k in SHARED_KEYS if k != "versions" and member_meta.get(k) != meta.get(k)]
        if differ:
            raise CheckpointError(f"{directory / relative}: {differ} differ from {path}; re-assemble the ensemble.")
        networks.append(network)
        members_meta.append(member_meta)
    meta = dict(meta, members_meta=members_meta)
    return EnsembleNetwork(networks).eval(), meta


def load_checkpoint(directory=DEFAULT_CHECKPOINT, dataset=None, map_location="cpu"):
    """Load a checkpoint folder → (model in eval mode, metadata dict).

    A folder with ``ensemble.json`` loads as an :class:`utils.model.EnsembleNetwork` of its members (each checked
    as below; see the module docstring).

    Checks the description's own sha256 (``meta_sha256``: an edited ``model.json`` is refused; a checkpoint
    written before it existed loads with a ``UserWarning``), the weights' sha256, the node-feature encoding,
    and — when `dataset` is given — that the dataset version and sha256 match those the model was trained on.
    Raises ``CheckpointError`` naming the mismatch and what to do.
    """
    directory = Path(directory)
    if is_ensemble(directory):
        return _load_ensemble(directory, dataset, map_location)
    weights, meta_path = directory / "model.pt", directory / "model.json"
    if not weights.exists() or not meta_path.exists():
        raise CheckpointError(f"no checkpoint in {directory}: expected model.pt and model.json (or, for an ensemble, "
                              "ensemble.json) there. Run `make train` (or `python -m utils.train --out DIR`) to create "
                              "one.")
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
