"""The prediction command under careless input: nothing dropped silently, nothing silently wrong, no crash.

Wrong length units (a CIF in nm), sites with occupancy ≤ 0, files with several structures, structures with far too
many edges, absurd cells, deuterium, and the path of ``--plot``. Runs ``utils.predict.main`` (the command line)
in this process, on a tiny checkpoint or, where the training-set geometry matters, the shipped one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk

from utils.checkpoint import checkpoint_exists
from utils import predict as P
from utils.graphs import average_neighbors, structure_to_graph
from utils.model import ModelConfig, PeriodicNetwork
from utils.train import DEFAULT_CHECKPOINT, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
NACL_CIF = (ROOT / "tests" / "fixtures" / "predict" / "NaCl.cif").read_text()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from utils.data import FREQ_CM1

    graphs = [structure_to_graph(bulk("NaCl", "rocksalt", a=5.64))]
    torch.manual_seed(0)
    model = PeriodicNetwork(ModelConfig(em_dim=8, mul=4, radial_neurons=16, num_neighbors=average_neighbors(graphs)))
    folder = tmp_path_factory.mktemp("ckpt") / "tiny"
    save_checkpoint(folder, model.eval(), extra=dict(freq_cm1=FREQ_CM1.tolist(), train_elements=["Cl", "Na"]))
    return folder


def cli(capsys, *args):
    import traceback

    try:
        rc = P.main([str(a) for a in args])
    except Exception:                                # what the command line would show: a traceback
        rc = 1
        print(traceback.format_exc(), file=sys.stderr)
    out, err = capsys.readouterr()
    return rc, out, err


def _cif(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --------------------------------------------------------------------------------- 6. wrong length units
@pytest.mark.skipif(not checkpoint_exists(DEFAULT_CHECKPOINT), reason="no shipped checkpoint")
def test_a_cif_in_nm_is_flagged(tmp_path, capsys):
    import ase.io

    nm, good = tmp_path / "NaCl_nm.vasp", tmp_path / "NaCl.vasp"                 # primitive cells, 2 atoms
    ase.io.write(nm, bulk("NaCl", "rocksalt", a=0.564), format="vasp")
    ase.io.write(good, bulk("NaCl", "rocksalt", a=5.64), format="vasp")
    rc, _, err = cli(capsys, nm, good)                          # by default: too many edges, and why
    assert rc == 1 and "edges within r_max" in err and "nm instead of" in err
    rc, out, err = cli(capsys, nm, good, "--json", "--max-edges", "200000")   # predicted anyway: a warning
    assert rc == 0
    rows = {Path(r["file"]).name: r for r in map(json.loads, out.strip().splitlines())}
    assert "nm instead of" in rows["NaCl_nm.vasp"]["geometry_warning"]
    assert rows["NaCl.vasp"]["geometry_warning"] is None
    assert f"warning: {nm}:" in err and "nm instead of" in err and f"warning: {good}" not in err


def test_geometry_warning_uses_the_checkpoints_range():
    assert hasattr(P, "geometry_warning"), "utils.predict.geometry_warning is missing"
    g = structure_to_graph(bulk("Si", "diamond", a=0.543), r_max=0.4)
    assert "nm instead of" in P.geometry_warning(g, None)
    assert P.geometry_warning(structure_to_graph(bulk("Si", "diamond", a=5.43)), None) is None
    wide = dict(train_geometry=dict(min_distance_A=[0.1, 4.0], volume_per_atom_A3=[0.01, 60.0]))
    assert P.geometry_warning(g, wide) is None


# ------------------------------------------------------------------------ 7. nothing dropped silently
@pytest.mark.parametrize("occupancy", ["-0.5", "0", "0.0(1)"])
def test_a_site_with_non_positive_occupancy_is_refused(tmp_path, capsys, tiny_checkpoint, occupancy):
    bad = _cif(tmp_path / "bad.cif", NACL_CIF.replace("Cl1 Cl 0.5 0.5 0.5 1.0", f"Cl1 Cl 0.5 0.5 0.5 {occupancy}"))
    rc, _, err = cli(capsys, bad, "--checkpoint", tiny_checkpoint)
    assert rc == 1 and "site Cl1 has occupancy" in err and str(bad) in err
    with pytest.raises(P.PredictError, match="positive occupancy"):
        P.read_structure(bad)


def test_every_data_block_of_a_cif_is_predicted(tmp_path, capsys, tiny_checkpoint):
    si = NACL_CIF.replace("data_NaCl", "data_NaCl_small").replace("5.640", "5.500")
    two = _cif(tmp_path / "two.cif", NACL_CIF + "\n" + si)
    rc, out, _ = cli(capsys, two, "--json", "--checkpoint", tiny_checkpoint)
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert rc == 0 and [r["file"] for r in rows] == [f"{two}#1", f"{two}#2"]
    assert all(r["formula"] == "NaCl" for r in rows)
    with pytest.raises(P.PredictError, match="holds 2 structures"):
        P.read_structure(two)
    assert len(P.read_structures(two)) == 2


def test_every_frame_of_an_extxyz_is_predicted(tmp_path, capsys, tiny_checkpoint):
    import ase.io

    path = tmp_path / "frames.extxyz"
    ase.io.write(path, [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.43)], format="extxyz")
    rc, out, _ = cli(capsys, path, "--json", "--checkpoint", tiny_checkpoint)
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert rc == 0 and [r["formula"] for r in rows] == ["NaCl", "Si"]
    assert [r["file"] for r in rows] == [f"{path}#1", f"{path}#2"]


# ------------------------------------------------------- 11, 12. memory and absurd cells: a message, go on
def test_too_many_edges_is_a_message_and_the_other_files_go_on(tmp_path, capsys, tiny_checkpoint):
    import ase.io

    dense = Atoms("Na8", scaled_positions=[(i / 2, j / 2, k / 2) for i in range(2) for j in range(2) for k in range(2)],
                  cell=np.eye(3) * 0.3, pbc=True)                          # 0.15 Å apart
    ase.io.write(tmp_path / "dense.vasp", dense, format="vasp")
    good = _cif(tmp_path / "NaCl.cif", NACL_CIF)
    rc, out, err = cli(capsys, tmp_path / "dense.vasp", good, "--plot", tmp_path / "fig.png",
                       "--checkpoint", tiny_checkpoint)
    assert rc == 1 and "edges within r_max" in err and "dense.vasp" in err
    assert "NaCl, 8 sites" in out and (tmp_path / "fig.png").stat().st_size > 0
    with pytest.raises(ValueError, match="edges"):
        P.predict_structures([bulk("NaCl", "rocksalt", a=5.64)], *P.load_model(tiny_checkpoint), max_edges=10)


@pytest.mark.slow          # a subprocess: on a SIGFPE in the neighbour list it must not take pytest down
def test_an_absurd_cell_is_a_message_not_a_crash(tmp_path, tiny_checkpoint):
    huge = tmp_path / "huge.vasp"
    huge.write_text("huge\n1.0\n1e104 0 0\n0 1e104 0\n0 0 1e104\nNa Cl\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n")
    good = _cif(tmp_path / "NaCl.cif", NACL_CIF)
    env = dict(os.environ, PYTHONWARNINGS="ignore", MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, "-m", "utils.predict", str(huge), str(good), "--plot",
                          str(tmp_path / "fig.png"), "--checkpoint", str(tiny_checkpoint)],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert res.returncode == 1, (res.returncode, res.stderr[-1000:])
    assert "huge.vasp" in res.stderr and "Å long" in res.stderr and "Traceback" not in res.stderr
    assert "NaCl, 8 sites" in res.stdout and (tmp_path / "fig.png").exists()


# ------------------------------------------------------------------------- 13. --plot path, deuterium
def test_plot_reports_the_file_it_wrote(tmp_path, capsys, tiny_checkpoint):
    good = _cif(tmp_path / "NaCl.cif", NACL_CIF)
    folder = tmp_path / "figs"
    folder.mkdir()
    for target in (folder, tmp_path / "nosuffix"):
        rc, out, _ = cli(capsys, good, "--plot", target, "--checkpoint", tiny_checkpoint)
        printed = [ln[len("figure: "):] for ln in out.splitlines() if ln.startswith("figure: ")]
        assert rc == 0 and len(printed) == 1
        assert Path(printed[0]).is_file() and Path(printed[0]).stat().st_size > 0, printed


def test_deuterium_is_named_not_read_as_hydrogen(tmp_path, capsys, tiny_checkpoint):
    cif = _cif(tmp_path / "NaD.cif", NACL_CIF.replace("Cl1 Cl", "D1 D"))
    rc, _, err = cli(capsys, cif, "--checkpoint", tiny_checkpoint)
    assert rc == 1 and "deuterium 'D' is not supported" in err
