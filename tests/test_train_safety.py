"""Training never loses a checkpoint and never reports a silently wrong one: output folders, locks, resume,
validation split, metrics, model.json integrity, duplicates across splits, safe state.pt, divergence.

Every test trains a tiny model (``--epochs 1``) on a handful of synthetic materials, through the command line.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from utils.checkpoint import checkpoint_exists
from utils.train import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
CRYSTALS = [("NaCl", "rocksalt", 5.64, 200), ("Si", "diamond", 5.43, 450), ("Cu", "fcc", 3.61, 230),
            ("MgO", "rocksalt", 4.21, 600), ("Ge", "diamond", 5.66, 280), ("Al", "fcc", 4.05, 300)]


def _item(i, sym, kind, a, centre, split="train"):
    at = bulk(sym, kind, a=a)
    freq = np.linspace(0, 1000, 51)
    dos = np.exp(-0.5 * ((freq - centre) / 50) ** 2)
    return dict(id=f"m{i}", structure=dict(cell=at.cell[:].tolist(), species=at.get_chemical_symbols(),
                                           frac_coords=at.get_scaled_positions().tolist()),
                freq_cm1=freq.tolist(), dos=dos.tolist(), split=split)


def _data(path: Path, crystals=CRYSTALS, splits=None) -> Path:
    splits = splits or ["train"] * (len(crystals) - 2) + ["valid", "test"]
    path.write_text(json.dumps(dict(materials=[_item(i, *c, split=s) for i, (c, s) in enumerate(zip(crystals, splits))])))
    return path


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _train(*args) -> _Result:
    """``python -m utils.train --epochs 1 …`` run in this process (``utils.train.main``): no import cost per call."""
    import contextlib
    import io

    from utils import train as T

    os.environ["TQDM_DISABLE"] = "1"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = T.main(["--epochs", "1", "--batch-size", "4", *map(str, args)])
        except SystemExit as exc:                    # argparse errors
            rc = exc.code
        except Exception:                            # what the command line would show: a traceback
            import traceback
            rc = 1
            err.write(traceback.format_exc())
    return _Result(rc, out.getvalue(), err.getvalue())


# ------------------------------------------------------------------------------------ 1. the shipped checkpoint
def test_help_shows_the_default_output():
    res = _train("--help")
    assert res.returncode == 0
    assert "runs/" in res.stdout and "--force" in res.stdout


def _files(folder: Path) -> dict:
    """Every file under ``folder`` (an ensemble's members included) → its bytes."""
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def test_training_without_out_never_touches_the_shipped_checkpoint(tmp_path, monkeypatch):
    """Without --out: a new folder under runs/, printed; --out checkpoints/default needs --force."""
    from utils import train as T

    assert getattr(T, "RUNS_DIR", None) == ROOT / "runs"
    shipped = _files(DEFAULT_CHECKPOINT)
    monkeypatch.setattr(T, "RUNS_DIR", tmp_path / "runs", raising=False)   # keep the project's runs/ clean
    data = _data(tmp_path / "my.json")
    res = _train("--data", data)
    assert res.returncode == 0, res.stderr[-2000:]
    assert _files(DEFAULT_CHECKPOINT) == shipped
    assert "checkpoint folder:" in res.stdout
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("checkpoint folder:"))
    out = Path(line.split(":", 1)[1].strip())
    assert out.parent == tmp_path / "runs" and (out / "model.json").exists() and (out / "model.pt").exists()
    load_checkpoint(out)
    again = _train("--data", data)                                  # a second run gets a folder of its own
    assert again.returncode == 0 and f"checkpoint folder: {out}\n" not in again.stdout
    assert len(list((tmp_path / "runs").glob("*/model.json"))) == 2
    # the shipped folder is refused without --force, and nothing in it changed
    res = _train("--data", data, "--out", DEFAULT_CHECKPOINT)
    assert res.returncode == 2 and "shipped checkpoint" in res.stderr and "--force" in res.stderr
    for args in (("--out", DEFAULT_CHECKPOINT / "seed1"), ("--seeds", "0", "1", "--out", DEFAULT_CHECKPOINT)):
        res = _train("--data", data, *args)                        # an ensemble member, the whole ensemble
        assert res.returncode == 2 and "shipped checkpoint" in res.stderr and "--force" in res.stderr, res.stderr
    assert _files(DEFAULT_CHECKPOINT) == shipped


def test_make_train_writes_a_run_folder():
    makefile = (ROOT / "Makefile").read_text()
    train = makefile.split("\ntrain:", 1)[1].split("\n\n", 1)[0]
    assert "utils.train" in train and "checkpoints/default" not in train and "--force" not in train
    assert "--seeds 0 1 2 --out checkpoints/default --force" in makefile.split("\ntrain-default:", 1)[1].split("\n\n", 1)[0]


# --------------------------------------------------------------------------- 3. one run per folder, resume
def test_a_finished_run_is_not_overwritten_or_restarted(tmp_path):
    data, other = _data(tmp_path / "a.json"), _data(tmp_path / "b.json", CRYSTALS[::-1])
    out = tmp_path / "run"
    assert _train("--data", data, "--out", out).returncode == 0
    before = (out / "model.pt").read_bytes(), (out / "model.json").read_bytes()
    second = _train("--data", data, "--out", out)
    assert second.returncode == 2 and "already holds a trained checkpoint" in second.stderr
    resume = _train("--data", data, "--out", out, "--resume")
    assert resume.returncode == 2 and "finished run" in resume.stderr
    assert ((out / "model.pt").read_bytes(), (out / "model.json").read_bytes()) == before
    forced = _train("--data", other, "--out", out, "--force")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert load_checkpoint(out)[1]["dataset"]["sha256"] != json.loads(before[1])["dataset"]["sha256"]


def test_a_folder_in_use_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(json.dumps(dict(pid=os.getpid(), host=os.uname().nodename, started="now")))
    res = _train("--data", _data(tmp_path / "a.json"), "--out", out)
    assert res.returncode == 2 and "in use by another training run" in res.stderr
    assert not (out / "model.json").exists()


def test_resume_on_other_data_is_refused(tmp_path):
    import torch

    data, other = _data(tmp_path / "a.json"), _data(tmp_path / "b.json", CRYSTALS[::-1])
    out = tmp_path / "run"
    assert _train("--data", data, "--out", out).returncode == 0
    # make it look interrupted: a state.pt as train() writes it, recorded for the first data set
    from utils.data import load_user_dataset
    meta = load_checkpoint(out)[1]
    torch.save(dict(model={}, optimizer={}, scheduler={}, generator=torch.Generator().get_state(), history={},
                    best={}, epoch=0, dataset_sha256=load_user_dataset(data).sha256), out / "state.pt")
    res = _train("--data", other, "--out", out, "--resume")
    assert res.returncode == 2 and "not on the given data" in res.stderr, res.stderr[-1000:]
    assert load_checkpoint(out)[1] == meta


# ------------------------------------------------------------------------------ 4. no validation split
@pytest.mark.parametrize("splits", [["train"] * 6, None])
def test_no_validation_material_is_refused(tmp_path, splits):
    crystals = CRYSTALS if splits else CRYSTALS[:1]
    path = tmp_path / "my.json"
    if splits:
        _data(path, crystals, splits)
    else:                                            # one material, no "split": the loader cannot make a valid one
        item = _item(0, *crystals[0])
        item.pop("split")
        path.write_text(json.dumps(dict(materials=[item])))
    res = _train("--data", path, "--out", tmp_path / "run")
    assert res.returncode == 2 and "no valid material" in res.stderr, res.stderr[-1000:]
    assert "Traceback" not in res.stderr


# --------------------------------------------------------------------------------------- 5. stale metrics
def test_metrics_belong_to_the_weights_they_describe(tmp_path):
    from utils.model import ModelConfig, PeriodicNetwork

    model = PeriodicNetwork(ModelConfig(em_dim=8, mul=4, lmax=1, layers=1, radial_neurons=16, num_basis=6))
    save_checkpoint(tmp_path, model, metrics=dict(test=dict(mse=0.0194, n=179)))
    save_checkpoint(tmp_path, model, history=dict(epoch=[0]))        # new weights, no metrics yet
    assert "metrics" not in load_checkpoint(tmp_path)[1]


@pytest.mark.slow           # two trainings
def test_forced_retraining_reports_its_own_metrics(tmp_path):
    out = tmp_path / "run"
    assert _train("--data", _data(tmp_path / "a.json"), "--out", out).returncode == 0
    small = _data(tmp_path / "b.json", CRYSTALS[:4], ["train", "train", "valid", "valid"])   # no test split
    assert _train("--data", small, "--out", out, "--force").returncode == 0
    meta = load_checkpoint(out)[1]
    assert set(meta["metrics"]) == {"train", "valid"} and meta["metrics"]["valid"]["n"] == 2


# ----------------------------------------------------------------------------------- 8. model.json integrity
def test_edited_model_json_is_refused_and_old_ones_warn(tmp_path, capsys):
    from utils.model import ModelConfig, PeriodicNetwork

    save_checkpoint(tmp_path, PeriodicNetwork(ModelConfig(em_dim=8, mul=4, lmax=1, layers=1, radial_neurons=16,
                                                          num_basis=6)),
                    extra=dict(freq_cm1=np.linspace(0, 1000, 51).tolist(), train_elements=["Na"]))
    meta = json.loads((tmp_path / "model.json").read_text())
    for key, value in [("freq_cm1", np.linspace(0, 2000, 51).tolist()), ("train_elements", ["Na", "Cl"])]:
        (tmp_path / "model.json").write_text(json.dumps(dict(meta, **{key: value}), indent=1))
        with pytest.raises(CheckpointError, match="was modified after it was written"):
            load_checkpoint(tmp_path)
    edited = json.loads(json.dumps(meta))
    edited["model_config"]["num_neighbors"] = 3.0
    (tmp_path / "model.json").write_text(json.dumps(edited))
    with pytest.raises(CheckpointError, match="was modified"):
        load_checkpoint(tmp_path)
    from utils.predict import main as predict_main
    assert predict_main([str(ROOT / "tests/fixtures/predict/NaCl.cif"), "--checkpoint", str(tmp_path)]) == 2
    assert "was modified" in capsys.readouterr().err
    from utils.train import meta_sha256
    assert meta["meta_sha256"] == meta_sha256(meta)
    # a checkpoint written before the integrity record loads, with a warning
    old = {k: v for k, v in meta.items() if k != "meta_sha256"}
    (tmp_path / "model.json").write_text(json.dumps(old))
    with pytest.warns(UserWarning, match="no integrity record"):
        load_checkpoint(tmp_path)


def test_shipped_checkpoint_carries_the_integrity_record():
    if not checkpoint_exists(DEFAULT_CHECKPOINT):
        pytest.skip("no shipped checkpoint")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # no "no integrity record" warning
        _, meta = load_checkpoint(DEFAULT_CHECKPOINT)
    assert "meta_sha256" in meta and "train_geometry" in meta
    from utils.train import meta_sha256
    assert meta["meta_sha256"] == meta_sha256(meta)


# ------------------------------------------------------------------------------- 9. duplicates across splits
def test_the_same_material_in_two_splits_is_refused(tmp_path):
    crystals = CRYSTALS + [("NaCl", "rocksalt", 5.64, 200)]      # a twin of m0 under another id, as test
    path = _data(tmp_path / "my.json", crystals, ["train"] * 4 + ["valid", "test", "test"])
    items = json.loads(path.read_text())
    at = bulk("NaCl", "rocksalt", a=5.64, cubic=True)            # the twin in another cell (8 atoms)
    items["materials"][-1]["structure"] = dict(cell=at.cell[:].tolist(), species=at.get_chemical_symbols(),
                                               frac_coords=at.get_scaled_positions().tolist())
    path.write_text(json.dumps(items))
    res = _train("--data", path, "--out", tmp_path / "run")
    assert res.returncode == 2 and "m0 (train) = m6 (test)" in res.stderr, res.stderr[-1000:]
    ok = _train("--data", path, "--out", tmp_path / "run2", "--allow-duplicates")
    assert ok.returncode == 0, ok.stderr[-1000:]


# ----------------------------------------------------------------------------------- 10. state.pt is not unpickled
class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_resume_does_not_unpickle_state(tmp_path):
    data = _data(tmp_path / "a.json")
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "pwned"
    with open(out / "state.pt", "wb") as fh:
        pickle.dump({"model": _Payload(marker)}, fh)
    res = _train("--data", data, "--out", out, "--resume")
    assert not marker.exists(), "the pickle payload in state.pt was executed"
    assert res.returncode == 2 and "refused without unpickling" in res.stderr, res.stderr[-1000:]


# ----------------------------------------------------------------------------------------- 13. divergence
def test_divergence_is_a_message_not_a_traceback(tmp_path):
    res = _train("--data", _data(tmp_path / "a.json"), "--out", tmp_path / "run", "--lr", "1e5", "--epochs", "3")
    assert res.returncode == 2, res.stderr[-1000:]
    assert "training diverged" in res.stderr and "--lr" in res.stderr and "Traceback" not in res.stderr
    for bad in ("0", "-1", "nan"):
        r = _train("--data", tmp_path / "a.json", "--out", tmp_path / "r2", "--lr", bad)
        assert r.returncode == 2 and "positive" in r.stderr


# ---------------------------------------------------------------------------- 11. stored metrics are current
def test_rescore_refuses_the_shipped_checkpoint_without_force():
    if not checkpoint_exists(DEFAULT_CHECKPOINT):
        pytest.skip("no shipped checkpoint")
    res = _train("--rescore", DEFAULT_CHECKPOINT)
    assert res.returncode == 2 and "shipped checkpoint" in res.stderr and "--force" in res.stderr, res.stderr


@pytest.mark.slow
def test_shipped_metrics_equal_a_fresh_rescore(tmp_path):
    """The stored metrics are what today's utils.spectra computes (e.g. C_V with the ω = 0 point): a metric whose
    definition changed without rescoring (`--rescore DIR --force` for one network; for the shipped ensemble, each
    member, then `--seeds 0 1 2 --out checkpoints/default --force`, which keeps the members) fails here."""
    if not checkpoint_exists(DEFAULT_CHECKPOINT):
        pytest.skip("no shipped checkpoint")
    import shutil

    from utils.checkpoint import ENSEMBLE_FILE, is_ensemble
    from utils.train import fit_ensemble, rescore_checkpoint
    copy = tmp_path / "ck"
    shutil.copytree(DEFAULT_CHECKPOINT, copy)
    members = sorted(p.parent for p in copy.glob("seed*/model.json")) if is_ensemble(copy) else [copy]
    for member in members:
        stored = json.loads((member / "model.json").read_text())
        fresh = rescore_checkpoint(member)
        _, meta = load_checkpoint(member)                            # integrity record rewritten, still valid
        assert {k: v for k, v in meta.items() if k not in ("metrics", "meta_sha256")} == \
            {k: v for k, v in stored.items() if k not in ("metrics", "meta_sha256")}
        for split, values in fresh.items():
            for name, value in values.items():
                assert stored["metrics"][split][name] == pytest.approx(value, rel=1e-4, abs=1e-6), (member, split, name)
    if is_ensemble(copy):
        stored = json.loads((copy / ENSEMBLE_FILE).read_text())
        seeds = [m["seed"] for m in stored["members"]]
        from utils.train import TrainConfig
        fresh = fit_ensemble(copy, seeds, stored["dataset"]["version"], TrainConfig(**stored["train_config"]),
                             force=True)                             # members kept (same settings), metrics anew
        for split, values in fresh.items():
            for name, value in values.items():
                assert stored["metrics"][split][name] == pytest.approx(value, rel=1e-4, abs=1e-6), (split, name)
    for a, b in zip(sorted(copy.rglob("model.pt")), sorted(DEFAULT_CHECKPOINT.rglob("model.pt"))):
        assert a.read_bytes() == b.read_bytes()                      # weights untouched