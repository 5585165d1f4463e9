"""The label store, ``data/labels/``: the one module that reads and writes it (runner, status, pack-shard, the
packer and the convergence check all go through here).

Layout (unchanged since the first labelling run; a run may be writing it while it is read)::

    pending/<id>.json         a finished material (one JSON object), written atomically by the labelling run
    failed/<id>.json          a material that could not be labelled: ok=false and the reason
    shards/shard-NNNN.jsonl.gz  gzipped JSON lines, one record each: pending + failed files moved by `pack-shard`
    energies/energies-NNNN.jsonl.gz  single-point energies {"id", "energy_per_atom_eV"} of records labelled before
                              energies were stored (`python -m utils.datagen energies`)
    references.json           elemental reference energies (`python -m utils.datagen references`)

Reading order: pending/, then failed/, then shards/. `pack-shard` writes the new shard before it deletes the pending
files, so a reader that lists pending/ first never misses a record (it may see one twice: callers that need each id
once deduplicate). Every unreadable file raises :class:`ShardError` naming it, never a bare EOFError or
JSONDecodeError; a shard is never overwritten (:func:`new_shard`).
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

from .._io import atomic_write_text
from ..data import DataError

__all__ = ["DEFAULT_OUT", "ShardError", "read_shard", "read_record", "iter_records", "done_ids", "is_stored",
           "write_record", "new_shard", "pack_shard", "stored_energies", "write_energies"]

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "data" / "labels"
KINDS = ("pending", "failed", "shards")


class ShardError(DataError):
    """A shard or record file of the label store that cannot be read; the message names the file."""


def read_shard(shard: Path) -> Iterator[dict]:
    """The records of one gzipped JSON-lines shard (each a JSON object with an 'id'); a truncated or corrupt shard
    raises ShardError naming it and the line."""
    line_no = 0
    try:
        with gzip.open(shard, "rt", encoding="utf-8") as fh:
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    rec = json.loads(line)
                    if not isinstance(rec, dict) or "id" not in rec:
                        raise ValueError("not a record with an 'id'")
                    yield rec
    except (EOFError, OSError, UnicodeDecodeError, ValueError) as exc:   # gzip.BadGzipFile is an OSError
        where = f"line {line_no + 1}" if isinstance(exc, (EOFError, OSError, UnicodeDecodeError)) else f"line {line_no}"
        raise ShardError(f"{shard}: unreadable at {where} ({type(exc).__name__}: {exc}); the shard is truncated or "
                         "corrupt. Restore it from git (`git checkout -- <file>`); never delete a shard, its records "
                         "exist nowhere else.") from None


def read_record(path: Path) -> dict:
    """One pending/ or failed/ record; FileNotFoundError if it was packed into a shard meanwhile, ShardError if it
    cannot be read."""
    try:
        rec = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ShardError(f"{path}: unreadable record ({type(exc).__name__}: {exc}); delete it to label this "
                         "material again.") from None
    if not isinstance(rec, dict):
        raise ShardError(f"{path}: not a record (a JSON object); delete it to label this material again.")
    return rec


def _files(out: Path, kind: str) -> list[Path]:
    if kind == "shards":
        return sorted((Path(out) / "shards").glob("*.jsonl.gz"))
    return sorted((Path(out) / kind).glob("*.json"))


def iter_records(out: Path = DEFAULT_OUT, include_pending: bool = True, include_failed: bool = False,
                 with_kind: bool = False) -> Iterator:
    """Every stored record: pending/ (unless ``include_pending=False``), failed/ (if ``include_failed``), then the
    shards, in file-name order. ``with_kind=True`` yields (kind, record), kind in 'pending', 'failed', 'shards'.

    An id may occur twice (a record being packed, or a failure labelled again with ``--retry-failed``). Raises
    ShardError naming an unreadable file.
    """
    kinds = [k for k, on in zip(KINDS, (include_pending, include_failed, True)) if on]
    for kind in kinds:
        for path in _files(out, kind):
            if kind == "shards":
                recs = read_shard(path)
            else:
                try:
                    recs = [read_record(path)]
                except FileNotFoundError:      # packed into a shard meanwhile: read there
                    continue
            for rec in recs:
                yield (kind, rec) if with_kind else rec


def done_ids(out: Path) -> set[str]:
    """Ids already finished: in a shard, pending, or failed. Raises ShardError for an unreadable shard."""
    ids = {p.stem for p in _files(out, "pending")} | {p.stem for p in _files(out, "failed")}
    for shard in _files(out, "shards"):
        ids |= {rec["id"] for rec in read_shard(shard)}
    return ids


def is_stored(out: Path, material_id: str) -> bool:
    """True when pending/ or failed/ already holds a record of this id."""
    return any((Path(out) / d / f"{material_id}.json").exists() for d in ("pending", "failed"))


def write_record(out: Path, rec: dict) -> Path:
    """Write one finished record atomically: pending/<id>.json if ``rec['ok']``, else failed/<id>.json."""
    path = Path(out) / ("pending" if rec["ok"] else "failed") / f"{rec['id']}.json"
    atomic_write_text(path, json.dumps(rec))
    return path


def new_shard(shards: Path, data: bytes, stem: str = "shard") -> Path:
    """Write ``data`` as the next free ``<stem>-NNNN.jsonl.gz`` (highest existing index + 1), never over a shard.

    The bytes go to a temporary file (fsync) that is hard-linked to the final name: ``os.link`` fails if the
    name exists, so two packers never share a name and an existing shard is never replaced.
    """
    import os
    import re
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=shards, prefix=f".{stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        taken = [int(m.group(1)) for p in shards.iterdir()
                 if (m := re.fullmatch(re.escape(stem) + r"-(\d+)\.jsonl\.gz", p.name))]
        n = max(taken, default=-1) + 1
        while True:
            path = shards / f"{stem}-{n:04d}.jsonl.gz"
            try:
                os.link(tmp, path)
                return path
            except FileExistsError:
                n += 1
    finally:
        os.unlink(tmp)


def pack_shard(out: Path) -> tuple[Path, int, int] | None:
    """Move every pending/ and failed/ record into one new shard; (shard, n pending, n failed), None if none.

    Each record file is read (and checked) before packing, its text kept as it is (one line); the shard is read back
    before the record files are deleted, so a failure leaves every record where it was.
    """
    pending, failed = _files(out, "pending"), _files(out, "failed")
    if not pending and not failed:
        return None
    shards = Path(out) / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    lines = []
    for p in pending + failed:
        rec, text = read_record(p), p.read_text().strip()       # each one checked before packing
        lines.append(text if "\n" not in text else json.dumps(rec))
    path = new_shard(shards, gzip.compress(("\n".join(lines) + "\n").encode("utf-8")))
    if sum(1 for _ in read_shard(path)) != len(lines):
        raise ShardError(f"{path}: written shard does not read back {len(lines)} records; pending files kept")
    for p in pending + failed:
        p.unlink()
    return path, len(pending), len(failed)


def stored_energies(out: Path = DEFAULT_OUT) -> dict[str, float]:
    """id → the potential's energy per atom (eV) of the relaxed structure: from the records themselves (labelled since
    energies are stored) and from the single points of ``energies/*.jsonl.gz`` (records labelled before)."""
    found: dict[str, float] = {}
    for p in sorted((Path(out) / "energies").glob("energies-*.jsonl.gz")):
        for row in read_shard(p):
            found[row["id"]] = float(row["energy_per_atom_eV"])
    for rec in iter_records(out):
        if rec.get("ok") and isinstance(rec.get("energy_per_atom_eV"), (int, float)):
            found[rec["id"]] = float(rec["energy_per_atom_eV"])
    return found


def write_energies(out: Path, rows: list[dict]) -> Path:
    """Append single-point energies as a new ``energies/energies-NNNN.jsonl.gz`` (never over an existing one)."""
    data = gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode())
    (Path(out) / "energies").mkdir(parents=True, exist_ok=True)
    return new_shard(Path(out) / "energies", data, stem="energies")
