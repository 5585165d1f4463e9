"""`torchrun … -m utils.train` (DistributedDataParallel, gloo on CPU): the same training as one process with the same
global batch and sample order, rank 0 alone writing, and an exact resume after the whole job is killed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1")
EPOCHS, BATCH = "4", "2"   # 4 training materials: 2 global steps of 2 per epoch, 1 material per process per step


@pytest.fixture(scope="module")
def user_json(tmp_path_factory) -> Path:
    """6 crystals with Gaussian DoS (4 train, 1 valid, 1 test) in the `utils.data.load_user_dataset` format."""
    freq = np.linspace(0, 1200, 241)
    items = []
    for i, (sym, kind, a, centre) in enumerate([("NaCl", "rocksalt", 5.64, 200), ("Si", "diamond", 5.43, 450),
                                                ("Cu", "fcc", 3.61, 230), ("MgO", "rocksalt", 4.21, 600),
                                                ("Ge", "diamond", 5.66, 280), ("Al", "fcc", 4.05, 300)]):
        at = bulk(sym, kind, a=a)
        items.append(dict(id=f"m{i}", structure=dict(cell=at.cell[:].tolist(), species=at.get_chemical_symbols(),
                                                     frac_coords=at.get_scaled_positions().tolist()),
                          freq_cm1=freq.tolist(), dos=(3 * len(at) * np.exp(-0.5 * ((freq - centre) / 50) ** 2)).tolist(),
                          split="train" if i < 4 else "valid" if i == 4 else "test"))
    path = tmp_path_factory.mktemp("data") / "my.json"
    path.write_text(json.dumps(dict(materials=items)))
    return path


def _torchrun(nproc: int, data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            "-m", "utils.train", "--data", str(data), "--out", str(out), "--epochs", EPOCHS, "--batch-size", BATCH,
            *extra]


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def _weights(out: Path) -> dict:
    return torch.load(out / "model.pt", weights_only=True)


@pytest.fixture(scope="module")
def two_process_run(user_json, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("ddp2") / "ckpt"
    return out, _run(_torchrun(2, user_json, out))


@pytest.mark.slow
def test_two_processes_train_like_one_with_the_same_global_batch_and_order(two_process_run, user_json, tmp_path):
    out2, res2 = two_process_run
    # one process, same sampler (seed 0), whole global batch of 2 per step
    out1 = tmp_path / "ckpt1"
    _run(_torchrun(1, user_json, out1))
    metric_lines = [line for line in res2.stdout.splitlines() if line.startswith("{")]
    assert len(metric_lines) == 1, res2.stdout[-2000:]   # rank 0 alone prints (and writes)
    h1, h2 = (json.loads((o / "model.json").read_text())["history"] for o in (out1, out2))
    assert h1["epoch"] == h2["epoch"] == list(range(int(EPOCHS))) and h1["best_epoch"] == h2["best_epoch"]
    np.testing.assert_allclose(h2["train_loss"], h1["train_loss"], rtol=1e-5)
    np.testing.assert_allclose(h2["valid_loss"], h1["valid_loss"], rtol=1e-5)
    w1, w2 = _weights(out1), _weights(out2)
    assert w1.keys() == w2.keys()
    # float32 sums in another order; Adam's step ≈ lr = 5e-3 per parameter, 8 steps: 1e-3 is a small fraction of it
    for key in w1:
        torch.testing.assert_close(w2[key], w1[key], rtol=1e-3, atol=1e-3, msg=key)
    assert json.loads((out2 / "model.json").read_text())["dataset"]["split_sizes"]["train"] == 4
    assert not (out2 / "state.pt").exists() and not list(out2.glob(".*.tmp"))


@pytest.mark.slow
def test_a_killed_job_resumes_exactly(two_process_run, user_json, tmp_path):
    """Kill the whole torchrun job once epoch 0 is saved, rerun with --resume: the same weights, bit for bit."""
    import psutil

    out = tmp_path / "ckpt"
    cmd = _torchrun(2, user_json, out)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)
    deadline = time.monotonic() + 240
    while proc.poll() is None and not (out / "state.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the torchrun job ended before its first epoch was saved"
    job = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]   # torchrun + its ranks
    for p in job:
        p.kill()
    psutil.wait_procs(job, timeout=30)
    before = json.loads((out / "model.json").read_text())
    assert "metrics" not in before and len(before["history"]["epoch"]) < int(EPOCHS)   # stopped mid-run
    _run(cmd + ["--resume"])
    after = json.loads((out / "model.json").read_text())
    # the rerun continued the killed run (its first epoch's wall time is the killed run's), it did not restart
    assert after["history"]["seconds"][0] == before["history"]["seconds"][0]
    assert after["history"]["epoch"] == list(range(int(EPOCHS)))
    w_ref, w = _weights(two_process_run[0]), _weights(out)
    assert all(torch.equal(w[k], w_ref[k]) for k in w_ref)


def test_sampler_gives_each_global_step_the_single_process_batch():
    """W processes taking B/W each from the seeded DistributedSampler cover, step by step, the batches of B that one
    process takes from the same sampler: positions kB … (k+1)B − 1 of the epoch's order (utils.distributed)."""
    from utils.distributed import Context, set_epoch, train_loader

    items = [torch.tensor([float(i)]) for i in range(12)]
    for epoch in (0, 3):
        loaders = [train_loader(items, 4, 7, Context(rank=r, world_size=w, active=True))
                   for w, r in ((1, 0), (2, 0), (2, 1))]   # one process; two processes, ranks 0 and 1
        for loader in loaders:
            set_epoch(loader, epoch)
        single, rank0, rank1 = ([b.view(-1).tolist() for b in loader] for loader in loaders)
        assert len(single) == len(rank0) == len(rank1) == 3 and all(len(b) == 2 for b in rank0 + rank1)
        for k in range(3):
            assert sorted(rank0[k] + rank1[k]) == sorted(single[k])
    assert single != [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 10.0, 11.0]]   # shuffled


def test_global_batch_must_split_over_the_processes():
    from utils.distributed import Context, train_loader

    with pytest.raises(ValueError, match="--batch-size 3 is the global batch and must be a multiple of the 2 processes"):
        train_loader(list(range(8)), 3, 0, Context(rank=0, world_size=2, active=True))
