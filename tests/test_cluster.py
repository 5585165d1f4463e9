"""Labelling on Dask (utils.datagen.cluster): same records as the local pool, each material stored once, a killed
worker's materials run again, bounded submission. Dask is the optional `cluster` extra: these tests skip without it
on a developer's machine, and fail under CI=true, where `make test` installs it."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ase import Atoms
from ase.build import bulk

ROOT = Path(__file__).resolve().parents[1]
FCC_A = {"Al": 4.05, "Cu": 3.61, "Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92}   # Å, near EMT minima


@pytest.fixture
def dask():
    """The `distributed` package, or a skip (a failure under CI=true: `make test` installs the `cluster` extra)."""
    try:
        import distributed
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Dask is not installed, but CI=true: `make test` must install the `cluster` extra "
                        "(pip install -e .[cluster])")
        pytest.skip("Dask is not installed: pip install -e .[cluster]")
    return distributed


def _lists(atoms: Atoms) -> dict:
    return dict(cell=atoms.cell[:].round(8).tolist(), numbers=atoms.numbers.tolist(),
                frac_coords=atoms.get_scaled_positions().round(8).tolist())


@pytest.fixture(scope="module")
def tasks_file(tmp_path_factory) -> Path:
    """12 tiny EMT tasks in the `export-tasks` format: 7 fcc metals, 3 of them also 2 % expanded, Cu3Au, and fcc Fe,
    which EMT cannot compute (a failed record)."""
    tasks = [dict(id=f"fcc-{el}-{s}", prototype="fcc", mapping={"A": el}, score=1.0, formula=el,
                  atoms=_lists(bulk(el, "fcc", a=FCC_A[el] * s)))
             for el in FCC_A for s in ((1.0, 1.02) if el in ("Al", "Cu", "Au") else (1.0,))]
    cu3au = Atoms("AuCu3", scaled_positions=[(0, 0, 0), (0, .5, .5), (.5, 0, .5), (.5, .5, 0)], cell=[3.75] * 3, pbc=True)
    tasks.append(dict(id="L12-Cu3Au", prototype="L12", mapping={"A": "Au", "B": "Cu"}, score=1.0, formula="Cu3Au",
                      atoms=_lists(cu3au)))
    tasks.append(dict(id="fcc-Fe", prototype="fcc", mapping={"A": "Fe"}, score=1.0, formula="Fe",
                      atoms=_lists(bulk("Fe", "fcc", a=3.6))))
    path = tmp_path_factory.mktemp("tasks") / "tasks.json.gz"
    path.write_bytes(gzip.compress(json.dumps(tasks).encode()))
    return path


def _label_cmd(tasks: Path, out: Path, *how: str) -> list[str]:
    return [sys.executable, "-m", "utils.datagen", "label", "--calculator", "emt", "--fast", "--tasks", str(tasks),
            "--out", str(out), *how]


# one BLAS/OpenMP thread per process, as Dask's nanny sets for its workers: on 2 shared cores more threads only wait
ENV = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _stored(out: Path) -> dict[str, dict]:
    recs = {}
    for folder in ("pending", "failed"):
        for p in sorted((out / folder).glob("*.json")):
            rec = json.loads(p.read_text())
            assert rec["id"] == p.stem and rec["id"] not in recs
            recs[rec["id"]] = rec
    return recs


def _without_timings(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in ("wall_s", "seconds")}


@pytest.mark.slow
def test_dask_run_survives_a_killed_worker_and_equals_the_local_pool(dask, tasks_file, tmp_path):
    import psutil

    n_tasks = len(json.loads(gzip.decompress(tasks_file.read_bytes())))
    local = subprocess.run(_label_cmd(tasks_file, tmp_path / "local", "--workers", "2"), capture_output=True,
                           text=True, cwd=ROOT, env=ENV, timeout=300)
    assert local.returncode == 0, local.stderr[-2000:]
    assert f"done: {n_tasks - 1} labelled, {n_tasks - 1} stable, 1 failed" in local.stdout

    out = tmp_path / "dask"
    proc = subprocess.Popen(_label_cmd(tasks_file, out, "--dask-workers", "2"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV)
    stored = lambda: sum(1 for d in ("pending", "failed") for _ in (out / d).glob("*.json"))
    deadline = time.monotonic() + 240
    while proc.poll() is None and stored() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    # the LocalCluster's worker processes are the run's children started by multiprocessing's spawn
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if any("spawn_main" in part for part in p.cmdline())]
    done_at_kill = stored()
    assert len(workers) == 2 and 0 < done_at_kill < n_tasks - 2, (len(workers), done_at_kill)   # mid-run
    workers[0].kill()
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    assert not workers[0].is_running()
    # every material once: 22 labelled + 1 failed, none left, none written twice
    assert f"done: {n_tasks - 1} labelled, {n_tasks - 1} stable, 1 failed\n" in stdout, stdout[-1000:]
    assert "already stored" not in stdout and "left for a rerun" not in stdout
    dask_recs, local_recs = _stored(out), _stored(tmp_path / "local")
    assert len(dask_recs) == n_tasks and set(dask_recs) == set(local_recs)
    # the same records as the local pool's, provenance included; only the timings differ
    for key, rec in local_recs.items():
        assert _without_timings(dask_recs[key]) == _without_timings(rec), key
    assert dask_recs["fcc-Fe"]["ok"] is False and "EMT" in dask_recs["fcc-Fe"]["reason"]
    # resumable: a rerun on the same store finds nothing to do
    again = subprocess.run(_label_cmd(tasks_file, out, "--dask-workers", "1"), capture_output=True, text=True,
                           cwd=ROOT, env=ENV, timeout=300)
    assert again.returncode == 0 and "0 materials to label" in again.stdout, again.stderr[-2000:]


def _double(x: dict) -> dict:
    return {"id": x["id"], "value": 2 * x["id"]}


def test_bounded_map_keeps_at_most_window_tasks_in_flight(dask):
    from utils.datagen.cluster import bounded_map

    consumed, lead = [], []
    items = ({"id": i} for i in range(40) if not consumed.append(i))   # records how far submission has read
    with dask.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            dask.Client(cluster) as client:
        results = []
        for res in bounded_map(client, _double, items, window=5):
            results.append(res)
            lead.append(len(consumed) - len(results))   # submitted but not yet returned
    assert sorted(r["id"] for r in results) == list(range(40)) and all(r["value"] == 2 * r["id"] for r in results)
    assert max(lead) <= 5 and len(consumed) == 40


def test_dask_options_without_dask_name_the_extra(tmp_path, tasks_file):
    """With `distributed` unimportable, --dask-workers stops with the install command, not a traceback."""
    blocker = tmp_path / "block" / "distributed"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('distributed blocked by the test', name='distributed')\n")
    env = dict(ENV, PYTHONPATH=os.pathsep.join([str(blocker.parent), str(ROOT)]))
    res = subprocess.run(_label_cmd(tasks_file, tmp_path / "out", "--dask-workers", "2"), capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=120)
    assert res.returncode != 0 and "pip install -e .[cluster]" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out" / "pending").exists()


def test_deadline_interrupts_a_worker_thread():
    """Dask runs tasks in threads, where SIGALRM cannot be used: the per-material time limit still fires there."""
    from utils.datagen._worker import Timeout, start_deadline

    outcome = {}

    def busy():
        cancel = start_deadline(1)
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 30:
                sum(range(1000))
            outcome["result"] = "ran to the end"
        except Timeout:
            outcome["result"] = f"timed out after {time.monotonic() - t0:.1f} s"
        finally:
            cancel()

    thread = threading.Thread(target=busy)
    thread.start()
    thread.join(60)
    assert outcome["result"].startswith("timed out after 1.")


def test_tutorial_install_and_imports_do_not_need_dask():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for name, reqs in [("dependencies", project["dependencies"])] + [(k, v) for k, v in extras.items() if k != "cluster"]:
        assert not any(r.lower().startswith(("dask", "distributed")) for r in reqs), name
    assert any(r.startswith("distributed") for r in extras["cluster"])
    code = ("import sys, utils, utils.distributed, utils.datagen.runner;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr[-1000:]


def test_readme_scaling_figures_match_the_results_file():
    """README § "Beyond one machine" quotes benchmarks/scaling.json (written by benchmarks/scaling.py)."""
    res = json.loads((ROOT / "benchmarks" / "scaling.json").read_text())
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Beyond one machine"):]
    section = section[:section.index("\n## ", 3)]
    s = res["summary"]
    quoted = [f"| {s['dask_1_workers']['materials_per_s']:.2f} | {s['dask_2_workers']['materials_per_s']:.2f} | "
              f"{s['dask_speedup_2_vs_1']:.2f}× |",
              f"| {s['ddp_1_processes']['epoch_s']:.1f} | {s['ddp_2_processes']['epoch_s']:.1f} | "
              f"{s['ddp_speedup_2_vs_1']:.2f}× |",
              f"{res['dask_overhead']['ms_per_task']:.1f} ms per task"]
    for row, n in zip(res["projection"]["rows"], ("10⁴", "10⁵")):
        cells = [row[f"hours_on_{g}_gpu"] for g in (1, 4, 8, 32)] + [row["hours_on_64_cpu_cores"]]
        quoted.append(f"| {n} | " + " | ".join(f"{h:.2f} h" for h in cells) + " |")
    for text in quoted:
        assert text in section, text
