"""The label store is append-only and says which file is broken: `pack-shard` never overwrites a shard, and a
truncated shard gives a message naming it (`status`, `label`), not a raw EOFError / JSONDecodeError."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _datagen(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore", TQDM_DISABLE="1")
    return subprocess.run([sys.executable, "-m", "utils.datagen", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)


def _rec(i: int) -> dict:
    return dict(id=f"fake-{i}", prototype="fcc", formula="Al", ok=False, reason="test record", wall_s=1.0)


def _shard(path: Path, recs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join(json.dumps(r) for r in recs) + "\n").encode()))


def _status(out: Path) -> dict:
    res = _datagen("status", "--out", out)
    assert res.returncode == 0, res.stderr[-1000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_pack_shard_never_overwrites_a_shard(tmp_path):
    _shard(tmp_path / "shards" / "shard-0001.jsonl.gz", [_rec(i) for i in range(8)])   # shard-0000 missing
    (tmp_path / "pending").mkdir()
    (tmp_path / "pending" / "fake-8.json").write_text(json.dumps(_rec(8)))
    before = (tmp_path / "shards" / "shard-0001.jsonl.gz").read_bytes()
    assert _status(tmp_path)["records"] == 9
    res = _datagen("pack-shard", "--out", tmp_path)
    assert res.returncode == 0, res.stderr[-1000:]
    assert "shard-0002.jsonl.gz" in res.stdout                    # highest index + 1, not the count
    assert (tmp_path / "shards" / "shard-0001.jsonl.gz").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "shards").iterdir()) == ["shard-0001.jsonl.gz", "shard-0002.jsonl.gz"]
    assert _status(tmp_path)["records"] == 9 and not list((tmp_path / "pending").glob("*.json"))


def test_a_truncated_shard_is_named(tmp_path):
    _shard(tmp_path / "shards" / "shard-0000.jsonl.gz", [_rec(i) for i in range(50)])
    good = (tmp_path / "shards" / "shard-0000.jsonl.gz").read_bytes()
    bad = tmp_path / "shards" / "shard-0001.jsonl.gz"
    bad.write_bytes(good[: len(good) // 2])                          # cut off mid-stream
    res = _datagen("status", "--out", tmp_path)
    assert res.returncode == 2 and str(bad) in res.stderr and "truncated" in res.stderr
    assert "Traceback" not in res.stderr
    tasks = tmp_path / "tasks.json.gz"
    tasks.write_bytes(gzip.compress(b"[]"))
    res = _datagen("label", "--calculator", "emt", "--workers", "1", "--tasks", tasks, "--out", tmp_path)
    assert res.returncode == 2 and str(bad) in res.stderr and "Traceback" not in res.stderr
    # a shard whose last line is not JSON (cut at a line boundary of the text, then gzipped again)
    bad.write_bytes(gzip.compress(b'{"id": "x", "ok": tru'))
    res = _datagen("status", "--out", tmp_path)
    assert res.returncode == 2 and str(bad) in res.stderr and "line 1" in res.stderr


def test_one_reader_order_and_kinds(tmp_path):
    """utils.datagen.store.iter_records: pending/, failed/, then the shards (a concurrent pack-shard writes the
    shard before deleting the pending files, so this order never misses a record); failed/ only when asked."""
    from utils.datagen.store import done_ids, iter_records, pack_shard

    _shard(tmp_path / "shards" / "shard-0000.jsonl.gz", [_rec(0), _rec(1)])
    for sub, i in (("pending", 2), ("failed", 3)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / f"fake-{i}.json").write_text(json.dumps(_rec(i)))
    got = [(kind, rec["id"]) for kind, rec in iter_records(tmp_path, include_failed=True, with_kind=True)]
    assert got == [("pending", "fake-2"), ("failed", "fake-3"), ("shards", "fake-0"), ("shards", "fake-1")]
    assert [r["id"] for r in iter_records(tmp_path)] == ["fake-2", "fake-0", "fake-1"]
    assert done_ids(tmp_path) == {f"fake-{i}" for i in range(4)}
    path, n_pending, n_failed = pack_shard(tmp_path)
    assert (path.name, n_pending, n_failed) == ("shard-0001.jsonl.gz", 1, 1)
    assert [r["id"] for r in iter_records(tmp_path, include_failed=True)] == [f"fake-{i}" for i in range(4)]
    assert pack_shard(tmp_path) is None
