"""Build notebooks/NN_*.ipynb from their sources notebooks/src/NN_*.py (jupytext percent format).

    python scripts/build_notebooks.py            # (re)build every notebook; keeps outputs of unchanged cells
    python scripts/build_notebooks.py 03 05      # only the notebooks whose names start with these
    python scripts/build_notebooks.py --check    # exit 1 if a notebook's cells differ from its source

Every notebook gets the same frame: title, navigation (< previous · contents · glossary · next >), Colab and
Binder badges built from the one repository setting in pyproject.toml ([tool.phonon_dos]), and the Colab set-up
cell (a no-op outside Colab) — then the source's cells — then the navigation again.
"""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
SERIES = [
    ("01_irreps", "Irreps, parity and equivariance"),
    ("02_crystal_to_graph", "From a crystal to a periodic graph"),
    ("03_model_and_training", "The e3nn network and its training"),
    ("04_intermediate_features", "What the network learns: intermediate features"),
    ("05_partial_dos_and_alloys", "Partial DoS and substitutional alloys"),
    ("06_thermal_properties", "What a DoS gives you: C_V, κ, interfaces, T_c"),
    ("07_claims", "What equivariance and mass weighting buy"),
]
# Packages Colab lacks (googlecolab/backend-info, 2026): installed there with the pins of constraints.txt.
COLAB_MISSING = ["torch_geometric", "e3nn", "ase", "pymatgen", "vesin"]


def settings() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["phonon_dos"]


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            k, v = line.split("==")
            out[k.strip()] = v.strip()
    return out


def badge_urls(stem: str) -> dict[str, str]:
    """Colab and Binder launch URLs of notebook `stem`, from the repository setting."""
    s = settings()
    repo, branch = s["repository"].rstrip("/"), s["branch"]
    slug = repo.split("github.com/")[1]
    return {"colab": f"https://colab.research.google.com/github/{slug}/blob/{branch}/notebooks/{stem}.ipynb",
            "binder": f"https://mybinder.org/v2/gh/{slug}/{branch}?labpath=notebooks%2F{stem}.ipynb"}


def colab_cell_source() -> str:
    s, p = settings(), pins()
    reqs = ", ".join(f'"{name}=={p[name]}"' for name in COLAB_MISSING)
    return f'''# Colab only (does nothing elsewhere): fetch the project (utils/, data, checkpoint) and install
# what Colab lacks. torch and numpy stay as Colab ships them (pinned to the installed versions).
import sys
if "google.colab" in sys.modules:
    import os, subprocess, importlib.metadata as md
    if not os.path.exists("/content/phonon-dos-e3nn"):
        subprocess.run(["git", "clone", "--depth", "1", "--branch", "{s["branch"]}",
                        "{s["repository"]}", "/content/phonon-dos-e3nn"], check=True)
    keep = [f"{{p}}=={{md.version(p).split('+')[0]}}" for p in ("torch", "numpy")]
    with open("/tmp/colab-keep.txt", "w") as fh:
        fh.write("\\n".join(keep))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "/tmp/colab-keep.txt", {reqs}], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", "/content/phonon-dos-e3nn"],
                   check=True)
    sys.path.insert(0, "/content/phonon-dos-e3nn")  # this session only: pip's editable path needs a restart
    os.chdir("/content/phonon-dos-e3nn/notebooks")'''


def navigation(i: int) -> str:
    parts = []
    if i > 0:
        prev_stem, prev_title = SERIES[i - 1]
        parts.append(f"[< {prev_stem[:2]} · {prev_title}]({prev_stem}.ipynb)")
    parts.append("[contents](../README.md#the-notebooks)")
    parts.append("[glossary](glossary.md)")
    if i + 1 < len(SERIES):
        next_stem, next_title = SERIES[i + 1]
        parts.append(f"[{next_stem[:2]} · {next_title} >]({next_stem}.ipynb)")
    return " · ".join(parts)


def header(i: int) -> list:
    stem, title = SERIES[i]
    urls = badge_urls(stem)
    md = (f"# {stem[:2]} · {title}\n\n{navigation(i)}\n\n"
          f"[![Open In Colab](../figures/badges/colab.svg)]({urls['colab']}) "
          f"[![Launch Binder](../figures/badges/binder.svg)]({urls['binder']})")
    colab = nbformat.v4.new_code_cell(colab_cell_source(), metadata={"tags": ["colab", "remove-cell"]})
    return [nbformat.v4.new_markdown_cell(md, metadata={"tags": ["header"]}), colab]


def build(i: int):
    stem, _ = SERIES[i]
    src = jupytext.read(NB_DIR / "src" / f"{stem}.py", fmt="py:percent")
    cells = header(i) + list(src.cells) + [nbformat.v4.new_markdown_cell(navigation(i), metadata={"tags": ["footer"]})]
    for c in cells:
        c.pop("id", None)
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nb.nbformat_minor = 4   # 4.4: no cell ids (they churn diffs)
    return nb


def _key(cell) -> tuple:
    return cell.cell_type, cell.source, tuple(cell.metadata.get("tags", []))


def main(argv: list[str]) -> int:
    stale = []
    only = [a for a in argv if not a.startswith("--")]
    for i, (stem, _) in enumerate(SERIES):
        if not (NB_DIR / "src" / f"{stem}.py").exists() or (only and not any(stem.startswith(o) for o in only)):
            continue
        new = build(i)
        path = NB_DIR / f"{stem}.ipynb"
        old = nbformat.read(path, as_version=4) if path.exists() else None
        same = old is not None and [_key(c) for c in old.cells] == [_key(c) for c in new.cells]
        if "--check" in argv:
            if not same:
                stale.append(path.name)
            continue
        if old is not None:   # keep outputs of cells whose source did not change
            by_source = {}
            for c in old.cells:
                if c.cell_type == "code":
                    by_source.setdefault(c.source, c)
            for c in new.cells:
                if c.cell_type == "code" and c.source in by_source:
                    c.outputs = by_source[c.source].get("outputs", [])
            if "widgets" in old.metadata:
                new.metadata["widgets"] = old.metadata["widgets"]
        if not same or old is None:
            nbformat.write(new, path)
            print(f"built {path.relative_to(ROOT)}")
    if stale:
        print("out of sync with notebooks/src (run python scripts/build_notebooks.py and re-execute): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
