"""Set-up stays consistent: one place for pins, generated conda files, README commands, badges, Colab cell."""
from __future__ import annotations

import json
import os
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


def conda_pip_section(path: Path) -> tuple[list[str], list[str]]:
    """(conda dependencies, pip lines) of a generated environment file."""
    import yaml
    deps = yaml.safe_load(path.read_text())["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    return conda, pip


def test_environment_files_are_generated_from_constraints():
    assert sync_env.main(["--check"]) == 0, "run python scripts/sync_env.py"
    pins = sync_env.pins()
    for path in (ROOT / "environment.yml", ROOT / "binder" / "environment.yml"):
        conda, pip = conda_pip_section(path)
        assert sorted(conda) == sorted([f"python={sync_env.PYTHON}", "pip"]), f"{path}: conda gives Python and pip only"
        reqs = [Requirement(line) for line in pip if not line.startswith("-")]
        for req in reqs:
            pin = next(v for k, v in pins.items() if k.replace("-", "_").lower() == req.name.replace("-", "_").lower())
            assert str(req.specifier) in (f"=={pin}", f"=={pin}+cpu"), f"{path}: {req} is not the pin {pin}"
        assert f"--extra-index-url {sync_env.TORCH_CPU_INDEX}" in pip
    _, binder = conda_pip_section(ROOT / "binder" / "environment.yml")
    assert f"torch=={pins['torch']}+cpu" in binder, "Binder has no GPU: ask for the CPU-only PyTorch build"
    _, root = conda_pip_section(ROOT / "environment.yml")
    assert {"jupytext", "pytest", "nbval", "check-jsonschema"} <= {Requirement(x).name for x in root if not x.startswith("-")}
    assert "set -e" in (ROOT / "binder" / "postBuild").read_text() or "set -euo" in (ROOT / "binder" / "postBuild").read_text()
    requirements = (ROOT / "requirements.txt").read_text().splitlines()
    assert f"torch=={pins['torch']}" in requirements and "-e ." in requirements


def pypi_only_env() -> dict:
    """Environment for pip that sees PyPI alone (no local configuration, wheel folders or constraint files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def pip_dry_run(tmp_path: Path, args: list[str], python: str = "3.11", platform: str | None = None):
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-",
           "--index-url", "https://pypi.org/simple", "--only-binary=:all:", "--python-version", python,
           "--target", str(tmp_path / "target"), *(["--platform", platform] if platform else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=pypi_only_env())


@pytest.mark.slow
@pytest.mark.network
def test_environment_files_resolve_against_pypi(tmp_path):
    """Every pip line of environment.yml (a superset of binder/environment.yml and requirements.txt) resolves against
    PyPI for Python 3.11 on Linux x86-64, dependencies included (dry run: metadata only).

    Not resolved by this test: the `+cpu` build of torch that Binder takes from PyTorch's CPU index
    (download.pytorch.org is not reachable from every test machine); PyPI's torch of the same version stands in for
    it, so that the other packages' requirements on torch are resolved."""
    pins = sync_env.pins()
    _, root = conda_pip_section(ROOT / "environment.yml")
    _, binder = conda_pip_section(ROOT / "binder" / "environment.yml")
    reqs = [line for line in root if not line.startswith("-")]
    assert {line.replace("+cpu", "") for line in binder if not line.startswith("-")} <= set(reqs)
    # pip takes the listed tags literally: name every manylinux level a current Linux accepts
    tags = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 16, -1)] + ["manylinux2014_x86_64"]
    linux = [a for tag in tags for a in ("--platform", tag)]
    out = pip_dry_run(tmp_path, [*linux, *reqs])
    assert out.returncode == 0, out.stderr[-3000:]
    versions = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
                for i in json.loads(out.stdout)["install"]}
    for req in map(Requirement, reqs):
        name = req.name.lower().replace("_", "-")
        assert versions.get(name) == pins[req.name], f"{req}: resolved {versions.get(name)}"


@pytest.mark.slow
@pytest.mark.network
def test_which_macs_get_torch():
    """What the README says about macOS, checked against PyPI: the pinned torch has wheels for Apple Silicon on
    macOS ≥ 14 only; macOS 13 on Apple Silicon gets up to 2.11 (inside the supported range, as on Colab); Intel
    Macs get no torch ≥ 2.9 at all."""
    import tempfile
    pin = sync_env.pins()["torch"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for python in ("3.11", "3.12", "3.13"):
            out = pip_dry_run(tmp, ["--no-deps", f"torch=={pin}"], python, "macosx_14_0_arm64")
            assert out.returncode == 0, f"Python {python}, macOS 14 arm64: {out.stderr[-1500:]}"
        out = pip_dry_run(tmp, ["--no-deps", f"torch=={pin}"], "3.11", "macosx_13_0_arm64")
        assert out.returncode != 0 and "No matching distribution" in out.stderr
        out = pip_dry_run(tmp, ["--no-deps", "torch>=2.9"], "3.11", "macosx_13_0_arm64")
        assert out.returncode == 0, out.stderr[-1500:]
        assert json.loads(out.stdout)["install"][0]["metadata"]["version"].startswith("2.11")
        out = pip_dry_run(tmp, ["--no-deps", "torch>=2.9"], "3.11", "macosx_14_0_x86_64")
        assert out.returncode != 0 and "No matching distribution" in out.stderr


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
def test_generated_notebook_names_its_source(path):
    header = nbformat.read(path, as_version=4).cells[0].source
    assert f"edit `notebooks/src/{path.stem}.py`, not this file" in header


def test_template_is_the_documented_skeleton_and_runs():
    """notebooks/src/_template.py: never built into a notebook, holds the skeleton of docs/NOTEBOOKS.md, and its
    example body runs with its numeric check passing."""
    import jupytext
    import matplotlib
    import matplotlib.pyplot as plt

    path = ROOT / "notebooks" / "src" / "_template.py"
    assert "_template" not in {stem for stem, _ in build_notebooks.SERIES}
    assert not (ROOT / "notebooks" / "_template.ipynb").exists()
    nb = jupytext.read(path, fmt="py:percent")
    text = "\n".join(c.source for c in nb.cells)
    for part in ("**What you will learn**", "**Time**", "utils.setup(seed=", 'info["fast"]', "## Summary",
                 "## Exercises", "<details><summary>Solution</summary>", "assert "):
        assert part in text, f"the template lacks {part!r}"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    namespace = {}
    with matplotlib.rc_context():   # utils.setup applies the plot style: keep it out of the other tests
        for source in code:
            exec(compile("\n".join(l for l in source.splitlines() if not l.startswith("%")), str(path), "exec"),
                 namespace)
        plt.close("all")
    assert namespace["worst"] < 1e-3


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


def run_colab_cell(cell, monkeypatch, origin: str) -> list:
    """Execute the Colab cell as if on Colab with the clone already there (its remote: `origin`); return the
    commands it ran and the files it wrote."""
    calls, written = [], []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return types.SimpleNamespace(returncode=0, stdout=origin + "\n" if "remote" in cmd else "", stderr="")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr("os.path.exists", lambda p: True)   # pretend the clone is there
    monkeypatch.setattr("os.chdir", lambda p: None)
    monkeypatch.setattr("builtins.open", lambda *a, **k: written.append(a[0]) or open_sink())
    exec(compile(cell.source, "colab-cell", "exec"), {})
    return calls, written


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_cell_is_a_noop_elsewhere_and_installs_only_what_colab_lacks(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "colab" in c.metadata.get("tags", []))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(cell.source, "colab-cell", "exec"), {})
    assert calls == [], "the Colab cell must do nothing outside Colab"

    repo = build_notebooks.settings()["repository"]
    calls, written = run_colab_cell(cell, monkeypatch, repo + ".git")
    pip = [c for c in calls if "pip" in c and "install" in c]
    installed = {Requirement(a).name for c in pip for a in c if re.match(r"^[A-Za-z0-9_]+==", a)}
    assert installed == set(build_notebooks.COLAB_MISSING)
    assert not installed & {"torch", "numpy"}, "never reinstall Colab's torch or numpy"
    assert any("-c" in c for c in pip), "torch/numpy must be held at Colab's versions"
    assert not any("-e" in c for c in pip), "no editable install (setuptools warns on Colab): a .pth file instead"
    assert any(str(w).endswith(".pth") for w in written)
    folder = build_notebooks.colab_folder()
    owner, name = repo.split("github.com/")[1].split("/")[:2]
    assert owner in folder and name in folder, "the clone's folder is named after the repository"
    assert any(c[:4] == ["git", "-C", folder, "remote"] for c in calls), "the clone's remote is checked"


def test_colab_cell_refuses_a_clone_of_another_repository(monkeypatch):
    """A fork's notebook opened after the upstream one (or the reverse) in the same runtime must not use the other
    clone silently."""
    cell = next(c for c in nbformat.read(NOTEBOOKS[0], as_version=4).cells if "colab" in c.metadata.get("tags", []))
    with pytest.raises(RuntimeError, match="is a clone of https://github.com/someone-else/"):
        run_colab_cell(cell, monkeypatch, "https://github.com/someone-else/phonon-dos-e3nn")


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


# ------------------------------------------------------------------------------------------- launch links


def launch_links(text: str) -> list[str]:
    """Colab, Binder and GitHub URLs in `text`, except templates such as `…/v2/gh/<owner>/<repo>/…`."""
    pattern = r"https://(?:colab\.research\.google\.com|mybinder\.org|github\.com)/[^)\s\"'<>`]+"
    return [m.group(0) for m in re.finditer(pattern, text) if text[m.end():m.end() + 1] != "<"]


def test_every_launch_link_points_at_the_configured_repository():
    """README, every notebook (all markdown and the Colab cell) and the book's configuration: every Colab, Binder and
    GitHub link into this project uses [tool.phonon_dos] repository and branch, and opens a notebook that exists."""
    s = build_notebooks.settings()
    repo, branch = s["repository"].rstrip("/"), s["branch"]
    slug = repo.split("github.com/")[1]
    assert build_notebooks.main(["--check"]) == 0, "README badges or notebooks out of date: python scripts/build_notebooks.py"
    sources = {"README.md": (ROOT / "README.md").read_text()}
    for path in NOTEBOOKS:
        sources[path.name] = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    checked = 0
    for where, text in sources.items():
        for url in launch_links(text):
            if "github.com" in url and slug.split("/")[0] not in url and "colab" not in url:
                continue                        # links to other projects (e3nn, pymatgen, …)
            checked += 1
            assert slug in url, f"{where}: {url} does not point at {slug}"
            if "colab.research.google.com" in url:
                assert f"/blob/{branch}/" in url, f"{where}: {url} is not on branch {branch}"
            if "mybinder.org" in url:
                assert f"{slug}/{branch}?" in url, f"{where}: {url} is not on branch {branch}"
            m = re.search(r"notebooks(?:/|%2F)([0-9A-Za-z_]+\.ipynb)", url)
            if m:
                assert (ROOT / "notebooks" / m.group(1)).exists(), f"{where}: {url} opens a missing notebook"
    assert checked >= 2 + 1 + 3 * len(NOTEBOOKS)
    readme = sources["README.md"]
    assert f"{repo}/actions/workflows/test.yml/badge.svg" in readme, "the README shows the CI status badge"
    assert (ROOT / ".github" / "workflows" / "test.yml").exists()
    conf = (ROOT / "book" / "conf.py").read_text()
    assert '"repository_url": _settings["repository"]' in conf and '"repository_branch": _settings["branch"]' in conf


# ------------------------------------------------------------------------------------------- CI workflows


def test_workflows_are_valid_and_call_the_make_targets():
    """The GitHub workflows validate against the GitHub-workflow schema that check-jsonschema vendors (offline)."""
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {p.name for p in workflows} >= {"test.yml", "book.yml"}
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                          *map(str, workflows)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    import yaml
    test = yaml.safe_load((ROOT / ".github" / "workflows" / "test.yml").read_text())
    assert set(test[True]) >= {"push", "pull_request"}          # YAML 1.1 reads the key `on` as True
    assert any(step.get("run") == "make test" for job in test["jobs"].values() for step in job["steps"])
    book = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = [step for job in book["jobs"].values() for step in job["steps"]]
    assert any(step.get("run") == "make book" for step in steps)
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in steps)


def test_a_broken_workflow_fails_the_schema_check(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    out = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                          str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0


# ------------------------------------------------------------------------------------------- README install blocks


def readme_block(lang: str) -> str:
    """The one ```{lang} block of the README's "Without make" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Without make"):readme.index("### Which computers")]
    blocks = re.findall(rf"^```{lang}\n(.*?)^```", section, re.S | re.M)
    assert len(blocks) == 1, f"expected one {lang} block in 'Without make', found {len(blocks)}"
    return blocks[0]


def test_install_blocks_paste_into_their_shells():
    """The bash block works in bash/zsh on Linux and macOS, the PowerShell block in PowerShell 5.1 and cmd.exe.
    (The PowerShell block is only linted here, never run.)"""
    bash = readme_block("bash").splitlines()
    assert bash and all(line.strip() for line in bash)
    assert bash[0].startswith("python3 -m venv "), "stock macOS and Ubuntu have python3, not python"
    for block, shell in ((bash, "bash"), (readme_block("powershell").splitlines(), "powershell")):
        for line in block:
            assert "#" not in line, f"{shell}: an inline comment reaches the command (cmd.exe passes it to pip): {line}"
            assert "&&" not in line, f"{shell}: PowerShell 5.1 rejects &&: {line}"
            assert "activate" not in line.lower(), f"{shell}: activation differs between shells; call the venv's python"
    assert not any("\\" in line for line in bash), "a Windows path in the bash block"
    ps = readme_block("powershell").splitlines()
    assert not any("/bin/" in line for line in ps), "a POSIX venv path in the PowerShell block"
    assert [re.sub(r"^\S+", "", line) for line in bash[1:]] == [re.sub(r"^\S+", "", line) for line in ps[1:]], \
        "the two blocks install the same things"
    torch_lines = [line for line in bash if re.search(r"install .*\btorch\b", line)]
    assert len(torch_lines) == 1 and "download.pytorch.org/whl/cpu" in torch_lines[0]


TORCH_LINE_ENV = "README_INSTALL_TORCH_LINE"


@pytest.mark.slow
@pytest.mark.network
def test_readme_bash_block_installs_in_a_fresh_folder(tmp_path):
    """Runs the README's bash block verbatim in a copy of the repository (its tracked files) with a fresh venv.

    Only the torch line may be replaced, by the command in $README_INSTALL_TORCH_LINE (for a machine that cannot
    reach PyPI's CUDA-free PyTorch index, e.g. one with a local CPU wheel); without it and without a route to
    download.pytorch.org the test is skipped, rather than letting pip fall back to PyPI's multi-GB CUDA build."""
    import shutil
    import urllib.request
    lines = readme_block("bash").splitlines()
    torch_line = next(line for line in lines if re.search(r"install .*\btorch\b", line))
    replacement = os.environ.get(TORCH_LINE_ENV)
    if replacement:
        lines = [replacement if line == torch_line else line for line in lines]
    else:
        try:
            urllib.request.urlopen("https://download.pytorch.org/whl/cpu/torch/", timeout=15).close()
        except OSError as exc:
            pytest.skip(f"download.pytorch.org unreachable ({exc}); set {TORCH_LINE_ENV} to a torch install command")
    work = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in p)
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    out = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True, env=env, timeout=1800)
    assert out.returncode == 0, f"README bash block failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert "passed" in out.stdout
    venv_python = work / ".venv" / "bin" / "python"
    check = subprocess.run([str(venv_python), "-c", "import utils, torch, e3nn, torch_geometric, jupyterlab, sys;"
                            "print(utils.__file__, torch.__version__, sys.prefix)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert check.returncode == 0, check.stderr[-2000:]
    where, torch_version, prefix = check.stdout.split()
    assert Path(where).is_relative_to(work) and Path(prefix) == work / ".venv", check.stdout
    assert "+cu" not in torch_version, f"a CUDA build of torch was installed: {torch_version}"
    assert (work / ".venv" / "bin" / "jupyter").exists()
