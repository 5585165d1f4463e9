"""Smoke tests of benchmarks/run.py: every code path with tiny sizes (no timing assertions)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_inputs(bench):
    return bench.load_inputs(tiny=True)


def test_ase_edges_match_vesin(bench, build_crystal):
    from utils.graphs import periodic_edges

    crystals = [build_crystal(name) for name in ("NaCl", "ZnO", "triclinic")]
    for atoms in crystals:
        for r_max in (3.0, 4.0, 6.5):  # 6.5 Å exceeds the small cells: several images of every atom
            a = periodic_edges(atoms.positions, atoms.cell.array, r_max)
            b = bench.ase_periodic_edges(atoms.positions, atoms.cell.array, r_max)
            for x, y in zip(a[:3], b[:3]):
                np.testing.assert_array_equal(x, y)
            np.testing.assert_allclose(a[3], b[3], atol=1e-12)
    assert bench.same_edges(crystals)


def test_interleave_rotates_and_drops_failures(bench):
    calls = []

    def ok(name):
        def run(seconds):
            calls.append(name)
            return dict(structures=2, seconds=0.5)
        return run

    def broken(seconds):
        raise RuntimeError("no kernel")

    out = bench.interleave({"a": ok("a"), "b": ok("b"), "bad": broken}, rounds=3, slice_s=0.0, warmup_s=0.0)
    assert out["bad"] == {"error": "RuntimeError: no kernel"}
    assert len(out["a"]) == len(out["b"]) == 3
    assert calls[2:] == ["a", "b", "b", "a", "a", "b"]  # after the warm-up, rotating start
    assert bench._rate(out["a"], "structures")["median"] == 4.0


def test_paired_interleave_pairs_every_variant_with_the_base(bench):
    order = []

    def run(name, rate):
        def f(seconds):
            order.append(name)
            return dict(structures=rate, seconds=1.0)
        return f

    out = bench.paired_interleave("base", {"base": run("base", 10), "x": run("x", 20), "y": run("y", 5)},
                                  rounds=2, slice_s=0.0, warmup_s=0.0)
    assert out["ratios"] == {"x": [2.0, 2.0], "y": [0.5, 0.5]} and not out["errors"]
    assert order[3:] == ["base", "x", "y", "base", "y", "base", "base", "x"]  # pairs, alternating order


def test_graph_and_training_benchmarks_run(bench, tiny_inputs):
    graphs = bench.bench_graphs(tiny_inputs, rounds=1, slice_s=0.01)
    assert graphs["edges_identical_vesin_vs_ase"] is True
    assert graphs["structure_to_graph_vesin"]["median"] > 0 and graphs["neighbour_list_ase"]["median"] > 0

    variants = [bench.Variant("original", "o", dtype="float64", batch_size=1),
                bench.Variant("default", "d"),
                bench.Variant("em32", "lean", model=dict(em_dim=16)),
                bench.Variant("broken", "bad", model=dict(node_input="nonsense"))]
    train = bench.bench_training(tiny_inputs, variants, threads=1, rounds=2, slice_s=0.01)
    assert "error" in train["broken"]
    assert train["default"]["speedup_vs_original"] > 0 and train["default"]["batch_size"] == 16
    assert train["original"]["dtype"] == "float64"
    assert len(train["em32"]["paired_ratios"]) == 2 and train["default"]["speedup_vs_default"] == 1.0
    assert train["em32"]["speedup_vs_original"] == pytest.approx(
        train["em32"]["speedup_vs_default"] / train["original"]["speedup_vs_default"])

    headline = bench.bench_headline(tiny_inputs, threads=1, rounds=2, slice_s=0.01)
    assert len(headline["per_round_ratio"]) == 2 and headline["train_speedup_vs_original"] > 0
    assert headline["variants"]["original"]["dtype"] == "float64"
    assert headline["per_round_ratios"].keys() == {"default", "b32", "b64", "shipped"}
    assert headline["variants"]["b64"]["batch_size"] == 64
    assert headline["original_architecture"] is False  # the tiny model is not the original architecture

    assert bench.edge_feature_share(tiny_inputs, threads=1, reps=2)["edge_share_pct"] > 0
    assert sum(bench.module_breakdown(tiny_inputs, threads=1, reps=1)["share_pct"].values()) == pytest.approx(100, abs=0.5)
    inference = bench.bench_inference(tiny_inputs, threads=1, rounds=1, slice_s=0.01, min_structures=8)
    assert inference[inference["headline"]]["structures_per_s"]["median"] > 0


def test_original_variant_really_runs_in_float64(bench, tiny_inputs):
    trainer = bench.Trainer(bench.Variant("original", "o", dtype="float64", batch_size=1), tiny_inputs, threads=1)
    assert all(p.dtype == torch.float64 for p in trainer.model.parameters())
    assert trainer.train_graphs[0].edge_vec.dtype == torch.float64
    row = trainer.epoch()
    assert row["epoch"] == 0 and np.isfinite(row["valid_mse"])
    assert torch.get_default_dtype() == torch.float32  # restored


def test_original_variant_evaluates_tensor_products_per_atom(bench, tiny_inputs):
    check = bench.attribute_tp_check(tiny_inputs)
    assert check["max_abs_output_diff"] < 1e-5 and check["max_rel_grad_diff"] < 1e-4
    assert check["distinct_attr_rows"] < check["atoms_in_batch"]
    import utils.model
    original_forward = bench._per_atom_forward
    with bench.per_atom_tensor_products():
        assert utils.model.AttributeTensorProduct.forward is original_forward
    assert utils.model.AttributeTensorProduct.forward is not original_forward  # patch undone
    trainer = bench.Trainer(bench.ORIGINAL_VARIANT, tiny_inputs, threads=1)
    assert trainer.variant.per_atom_tp and trainer.run_for(0.0)["steps"] == 1


def test_race_with_seeds_reports_mean_and_spread(bench, tiny_inputs):
    race = bench.race(tiny_inputs, [bench.ORIGINAL_VARIANT, bench.DEFAULT_VARIANT], threads=1, seconds=0.3, seeds=2,
                      slice_s=0.1)
    for v in race["variants"].values():
        assert len(v["best_valid_mse"]) == 2 and all(s >= 0.3 for s in v["seconds"])
        assert v["best_valid_mse_mean"] == pytest.approx(np.mean(v["best_valid_mse"]))
        assert v["best_valid_mse_std"] == pytest.approx(np.std(v["best_valid_mse"], ddof=1))
        assert all(curve for curve in v["curves"])  # validated at least once, even within an epoch
    assert race["margin"] == pytest.approx(race["variants"]["original"]["best_valid_mse_mean"]
                                           - race["variants"]["default"]["best_valid_mse_mean"])


def test_flops_and_cpu_peak(bench, tiny_inputs):
    headline = bench.bench_headline(tiny_inputs, threads=1, rounds=1, slice_s=0.01)
    flops = bench.flop_count(tiny_inputs, headline, threads=1)
    assert flops["default"]["flops_per_step"] > flops["original"]["flops_per_step"] > 0  # batch 16 vs batch 1
    peak = flops["peak"]
    if "error" not in peak:
        assert peak["peak_gflops"] == pytest.approx(peak["cores"] * peak["clock_ghz"] * 32, rel=1e-3)
        assert 0 < flops["default"]["fraction_of_peak"] < 1


def test_end_to_end_inference_against_the_original_path(bench, tiny_inputs):
    out = bench.bench_inference_e2e(tiny_inputs, threads=1, rounds=1, slice_s=0.01, chunk=4)
    for name in ("project", "project_dos_only", "original"):
        assert out[name]["structures_per_s"]["median"] > 0 and out[name]["atoms_per_s"]["median"] > 0
    assert out["project"]["speedup_vs_original"] > 0 and out["n_structures"] == 8


def test_cuequivariance_falls_back_without_a_gpu(bench, tiny_inputs):
    trainer = bench.Trainer(bench.Variant("cueq", "c", cueq=True), tiny_inputs, threads=1)
    assert trainer.cueq["used"] is False and "e3nn kept" in trainer.cueq["reason"]
    assert trainer.run_for(0.0)["steps"] == 1


def test_unknown_part_is_rejected(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--parts", "graphs,nonsense"])
    assert "nonsense" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--race-variants", "default,b64"])  # the target compares with the original: it must race
    assert "--race-variants" in capsys.readouterr().err


def test_gpu_script_help_and_syntax():
    import shutil
    import subprocess

    script = ROOT / "benchmarks" / "gpu.sh"
    bash = shutil.which("bash")
    assert bash and script.exists()
    assert subprocess.run([bash, "-n", str(script)], capture_output=True).returncode == 0
    out = subprocess.run([bash, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--device" in out.stdout and "cuda" in out.stdout


def test_checkpoint_overhead(bench, tiny_inputs, tmp_path):
    io = bench.checkpoint_overhead(tiny_inputs, tmp_path, reps=1)
    assert io["state_pt_s"] > 0 and io["checkpoint_s"] > 0 and (tmp_path / "ckpt" / "model.json").exists()


def test_peak_rss_of_a_subprocess(bench):
    r = bench.run_with_peak_rss([sys.executable, "-c", "import time; x = bytearray(300_000_000); time.sleep(0.3)"],
                                timeout_s=60)
    assert r["rc"] == 0 and not r["timed_out"]
    assert 0.3 < r["peak_rss_gb"] < 2.0


def test_scaled_dataset_is_valid_training_data(bench, tmp_path):
    from utils.data import load_dataset, load_user_dataset

    ds = load_dataset()
    sizes = bench.write_scaled_dataset(ds, 2 * len(ds) + 3, tmp_path / "scaled.json")
    loaded = load_user_dataset(tmp_path / "scaled.json")
    assert len(loaded) == 2 * len(ds) + 3
    assert loaded.split_sizes() == sizes
    np.testing.assert_allclose(loaded.dos[len(ds)], ds.dos[0], atol=1e-6)


def test_notebook_table_parsing(bench):
    text = """executing 2 notebook(s) in FAST mode
| notebook | seconds | peak kernel memory (GiB) | status |
|---|---:|---:|---|
| 01_irreps.ipynb | 41 | 0.62 | ok |
| 02_crystal_to_graph.ipynb | 57 | 0.71 | failed |
| **total** | 98 | 0.71 | failed |
"""
    parsed = bench.parse_notebook_table(text)
    assert [r["notebook"] for r in parsed["rows"]] == ["01_irreps.ipynb", "02_crystal_to_graph.ipynb"]
    assert parsed["rows"][1]["status"] == "failed"
    assert parsed["total"] == dict(seconds=98.0, peak_gib=0.71, status="failed")


def test_main_tiny_writes_both_result_files(bench, tmp_path):
    # every part but the lever table (covered above; its 2-thread and TorchScript rows are slow under load)
    parts = "graphs,headline,flops,inference,race,full_training"
    assert bench.main(["--tiny", "--no-train-run", "--parts", parts, "--out-dir", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert "training" not in results
    for key in ("machine", "graphs", "headline", "flops", "race", "inference", "inference_e2e", "targets", "levers"):
        assert key in results
    assert results["machine"]["cpu_model"] and results["machine"]["versions"]["torch"]
    md = (tmp_path / "results.md").read_text()
    assert "## Targets" in md and "train_speedup_vs_original" in md and "## Levers" in md
    assert "## 4. Inference from structures, end to end" in md and "FLOPs of a training step" in md
    assert torch.get_default_dtype() == torch.float32


def test_notebook_figures_are_redirected(bench, tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import utils.plot

    monkeypatch.setenv("BENCH_FIGURES_DIR", str(tmp_path))
    monkeypatch.setattr(utils.plot, "save_figure", utils.plot.save_figure)  # undone after the test
    exec(bench._FIGURE_REDIRECT, {})
    fig = plt.figure()
    path = utils.plot.save_figure(fig, "bench_redirect_probe")
    plt.close(fig)
    assert path == tmp_path / "bench_redirect_probe.png" and path.exists()


def test_readme_section_is_rewritten_in_place(bench, tmp_path):
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    results["targets"] = bench.evaluate(results)
    readme = tmp_path / "README.md"
    readme.write_text("# T\n\n## Before\n\ntext\n\n## Performance\n\nold numbers\n\n## After\n\nkept\n")
    bench.update_readme(results, readme)
    text = readme.read_text()
    assert "old numbers" not in text and text.startswith("# T\n\n## Before\n\ntext\n\n## Performance\n")
    assert text.endswith("\n## After\n\nkept\n") and text.count("## Performance") == 1
    assert "benchmarks/results.md" in text


def test_stored_commands_name_no_machine_paths(bench, tmp_path):
    import re
    import tempfile
    cmd = [sys.executable, "-m", "utils.train", "--out", Path(tempfile.gettempdir()) / "bench_ab" / "real",
           ROOT / "scripts" / "run_notebooks.py", "--epochs", "3"]
    assert bench._portable_cmd(cmd) == ["python", "-m", "utils.train", "--out", "<tmp>/real",
                                        "scripts/run_notebooks.py", "--epochs", "3"]
    strings = []

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, str):
            strings.append(x)
    walk(json.loads((ROOT / "benchmarks" / "results.json").read_text()))
    system = ("/proc/", "/sys/")        # Linux kernel interfaces named as a data source, the same on every machine
    absolute = [t for t in strings
                if (t.startswith("/") and not t.startswith(system)) or re.match(r"[A-Za-z]:[\\/]", t)]
    assert not absolute, f"machine paths in benchmarks/results.json: {absolute[:3]}"
