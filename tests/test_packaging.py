"""Set-up stays consistent: one place for pins, generated conda files, README commands, badges, Colab cell."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_notebooks  # noqa: E402
import sync_env  # noqa: E402

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_pyproject_ranges_admit_the_pins():
    pins = sync_env.pins()
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    for req in reqs:
        name = req.name.replace("-", "_")
        key = next((k for k in pins if k.replace("-", "_").lower() == name.lower()), None)
        assert key is not None, f"{req.name} is required in pyproject.toml but not pinned in constraints.txt"
        assert req.specifier.contains(pins[key], prereleases=True), f"{req} does not admit the pin {pins[key]}"


def test_ranges_admit_colab_preinstalled_versions():
    """Colab (2026) ships torch 2.11 and numpy 2.1 on Python 3.13: our ranges must accept them."""
    deps = {Requirement(r).name: Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
    assert deps["torch"].specifier.contains("2.11.0")
    assert deps["numpy"].specifier.contains("2.1.3")
    assert "3.13" in PYPROJECT["project"]["requires-python"] or \
        Requirement(f"x{PYPROJECT['project']['requires-python']}").specifier.contains("3.13")


def test_conda_environment_files_are_generated_from_constraints():
    assert sync_env.main(["--check"]) == 0, "run python scripts/sync_env.py"
    binder = (ROOT / "binder" / "environment.yml").read_text()
    assert "pytorch-cpu=" in binder, "Binder has no GPU: use the CPU-only PyTorch build"
    assert "set -e" in (ROOT / "binder" / "postBuild").read_text() or "set -euo" in (ROOT / "binder" / "postBuild").read_text()


def test_no_torch_cluster_or_torch_scatter_anywhere():
    for path in list((ROOT / "utils").rglob("*.py")) + [ROOT / "pyproject.toml", ROOT / "constraints.txt"]:
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+torch_(cluster|scatter)", text, re.M), path
        if path.suffix != ".py":
            assert "torch_cluster" not in text and "torch-cluster" not in text, path


def test_readme_names_the_two_commands_and_ci_calls_the_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make tutorial" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\s*$", ci, re.M)


def test_importing_utils_has_no_side_effects():
    code = ("import matplotlib as mpl; before = dict(mpl.rcParams); import utils, utils.plot, utils.thermo;"
            "import utils.data, utils.graphs, utils.model, utils.train;"
            "changed = [k for k in before if mpl.rcParams[k] != before[k]]; print(changed)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.strip() == "[]", f"import printed or changed rcParams: {out.stdout!r}"


def test_thermo_and_plot_are_leaves():
    for leaf in ("thermo", "plot"):
        text = (ROOT / "utils" / f"{leaf}.py").read_text()
        assert not re.search(r"from \.(data|graphs|model|train)|import utils\.", text), leaf


# ------------------------------------------------------------------------------------------- notebooks


def test_notebooks_match_their_sources():
    assert build_notebooks.main(["--check"]) == 0, "notebooks/src and notebooks/*.ipynb differ"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badges_point_at_existing_notebook(path):
    nb = nbformat.read(path, as_version=4)
    header = nb.cells[0].source
    repo = build_notebooks.settings()["repository"]
    slug = repo.split("github.com/")[1]
    for url in re.findall(r"\((https://(?:colab|mybinder)[^)]+)\)", header):
        m = re.search(r"notebooks(?:/|%2F)([0-9A-Za-z_]+\.ipynb)", url)
        assert m and (ROOT / "notebooks" / m.group(1)).exists(), url
        assert m.group(1) == path.name, f"{path.name}: badge opens {m.group(1)}"
        assert slug in url
    assert "colab" in header.lower() and "binder" in header.lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_cell_is_a_noop_elsewhere_and_installs_only_what_colab_lacks(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "colab" in c.metadata.get("tags", []))
    calls = []
    fake_run = lambda cmd, **kw: calls.append(cmd) or types.SimpleNamespace(returncode=0)
    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(cell.source, "colab-cell", "exec"), {})
    assert calls == [], "the Colab cell must do nothing outside Colab"

    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr("os.path.exists", lambda p: True)   # pretend the clone is there
    monkeypatch.setattr("os.chdir", lambda p: None)
    monkeypatch.setattr("builtins.open", lambda *a, **k: open_sink())
    exec(compile(cell.source, "colab-cell", "exec"), {})
    pip = [c for c in calls if "pip" in c and "install" in c]
    installed = {Requirement(a).name for c in pip for a in c if re.match(r"^[A-Za-z0-9_]+==", a)}
    assert installed == set(build_notebooks.COLAB_MISSING)
    assert not installed & {"torch", "numpy"}, "never reinstall Colab's torch or numpy"
    assert any("-c" in c for c in pip), "torch/numpy must be held at Colab's versions"


class open_sink:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def write(self, s):
        return len(s)


@pytest.mark.network
def test_colab_requirements_resolve_for_python_313(tmp_path):
    """pip resolves our Colab installs for Python 3.13 next to Colab's numpy 2.1 (dry run, no torch download)."""
    pins = build_notebooks.pins()
    reqs = [f"{n}=={pins[n]}" for n in build_notebooks.COLAB_MISSING if n not in ("e3nn", "torch_geometric")]
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
           "--python-version", "3.13", "--only-binary=:all:", "--target", str(tmp_path), "numpy==2.1.3", *reqs]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0 and ("NewConnectionError" in out.stderr or "No matching distribution" in out.stderr
                                and "numpy" not in out.stderr):
        pytest.skip("package index unreachable")
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    versions = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}
    assert versions["numpy"].startswith("2.1"), "an install would replace Colab's numpy (needs a restart)"
    assert "torch" not in versions


def test_e3nn_and_pyg_accept_colab_torch():
    """e3nn and torch_geometric (installed with their deps on Colab) accept Colab's torch 2.11 and numpy 2.1."""
    from importlib.metadata import requires
    for pkg in ("e3nn", "torch_geometric"):
        for r in map(Requirement, requires(pkg) or []):
            if r.marker is None and r.name in ("torch", "numpy"):
                assert r.specifier.contains({"torch": "2.11.0", "numpy": "2.1.3"}[r.name]), f"{pkg}: {r}"
