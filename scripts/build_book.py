"""Build the static book: the README as home page, notebooks 01–NN from their stored outputs, the glossary.

    python scripts/build_book.py            # → _build/book/index.html (what `make book` runs)
    python scripts/build_book.py --clean    # from scratch (otherwise Sphinx rebuilds only what changed)

Nothing is executed (MyST-NB, ``nb_execution_mode = "off"``): what you see is what the notebooks store, saved
widget state included. The site loads nothing from the network: MathJax 3, require.js and
@jupyter-widgets/html-manager are copied from node_modules (``npm ci``) into ``_static/vendor/``.

Sources are laid out in _build/book_src/ (rewritten only when their content changed, so rebuilds stay incremental):
README.md with a hidden table of contents appended, notebooks/NN_*.ipynb of the series (scripts/build_notebooks.py
SERIES, those that exist), notebooks/glossary.md, and every local file these link to (figures, LICENSE, …).
The sources themselves are never modified.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from build_notebooks import SERIES  # noqa: E402

BUILD = ROOT / "_build"
SRC = BUILD / "book_src"          # staged sources
ASSETS = BUILD / "book_assets"    # vendored JavaScript → _static/ (see book/conf.py)
OUT = BUILD / "book"
DOCTREES = BUILD / "book_doctrees"
NODE = ROOT / "node_modules"

# (what, from node_modules, to _static/vendor/): only what the pages load, plus what those scripts load lazily.
VENDOR = [
    ("MathJax 3", "mathjax/es5", "mathjax"),
    ("require.js", "requirejs/require.js", "require.js"),
    ("ipywidgets HTML manager", "@jupyter-widgets/html-manager/dist", "html-manager"),
]
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|\bsrc=[\"']([^\"']+)[\"']")


def toctree(caption: str, docs: list[str]) -> str:
    return "\n".join(["", "```{toctree}", ":hidden:", f":caption: {caption}", "", *docs, "```", ""])


def local_targets(text: str, base: Path) -> set[Path]:
    """Files (relative to ROOT) that markdown `text`, living in folder `base`, links to or shows."""
    out = set()
    for m in LINK.finditer(text):
        target = (m.group(1) or m.group(2)).split("#")[0].split("?")[0]
        if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("/"):
            continue
        path = (base / target).resolve()
        if path.is_file() and ROOT in path.parents:
            out.add(path.relative_to(ROOT))
    return out


def markdown_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        import nbformat
        nb = nbformat.read(path, as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return path.read_text(encoding="utf-8")


def copy_if_changed(src: Path, dst: Path) -> None:
    """Copy when the content differs (the copy gets a new mtime, which is what Sphinx looks at)."""
    if dst.exists() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def write_if_changed(dst: Path, text: str) -> None:
    if not dst.exists() or dst.read_text(encoding="utf-8") != text:
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(text, encoding="utf-8")


def unlink_planned(path: Path, planned: list[str]) -> str:
    """The notebook's JSON with links to notebooks of the series that do not exist yet shown as plain text."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    pattern = re.compile(r"\[([^\]]*)\]\((?:%s)(?:#[^)]*)?\)" % "|".join(map(re.escape, planned)))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = pattern.sub(r"\1", cell.source)
    print(f"book: {path.name} links to {', '.join(planned)}, not written yet: shown as plain text")
    return nbformat.writes(nb)


def stage() -> list[Path]:
    """Lay the book's sources out in SRC; return the staged paths (relative)."""
    notebooks = [Path("notebooks") / f"{stem}.ipynb" for stem, _ in SERIES if (ROOT / "notebooks" / f"{stem}.ipynb").exists()]
    pages = [Path("notebooks/glossary.md")]
    docs = [Path("README.md"), *notebooks, *pages]
    # Every local file the docs link to or show; linked markdown pages become pages of the book too.
    files: set[Path] = set()
    todo = list(docs)
    while todo:
        doc = todo.pop()
        for target in local_targets(markdown_of(ROOT / doc), (ROOT / doc).parent):
            if target in docs or target in files:
                continue
            if target.suffix == ".md":
                pages.append(target)
                docs.append(target)
                todo.append(target)
            elif target.suffix == ".ipynb":
                continue   # a notebook outside the series: the link stays plain text (Sphinx warns)
            else:
                files.add(target)
    staged = set(docs) | files
    planned = [f"{stem}.ipynb" for stem, _ in SERIES if not (ROOT / "notebooks" / f"{stem}.ipynb").exists()]
    for rel in staged - {Path("README.md")}:
        if rel.suffix == ".ipynb" and planned and any(p in (ROOT / rel).read_text(encoding="utf-8") for p in planned):
            write_if_changed(SRC / rel, unlink_planned(ROOT / rel, planned))
        else:
            copy_if_changed(ROOT / rel, SRC / rel)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # the live test-status badge is an image from the hosting platform: the book loads nothing from the network
    readme = re.sub(r"(?m)^\[!\[Tests\]\(https://[^)]*\)\]\([^)]*\)\n", "", readme)
    readme += toctree("Notebooks", [p.with_suffix("").as_posix() for p in notebooks])
    readme += toctree("Reference", [p.with_suffix("").as_posix() for p in pages])
    write_if_changed(SRC / "README.md", readme)
    for path in sorted(SRC.rglob("*"), reverse=True):      # drop what is no longer part of the book
        rel = path.relative_to(SRC)
        if path.is_file() and rel not in staged:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return sorted(staged)


def vendor() -> None:
    missing = [src for _, src, _ in VENDOR if not (NODE / src).exists()]
    if missing:
        sys.exit(f"node_modules lacks {', '.join(missing)}: run `npm ci` (or `make book`, which does)")
    for _, src, dst in VENDOR:
        src_path, dst_path = NODE / src, ASSETS / "vendor" / dst
        if src_path.is_dir():
            for f in src_path.rglob("*"):
                if f.is_file() and not f.name.endswith(".map"):
                    copy_if_changed(f, dst_path / f.relative_to(src_path))
        else:
            copy_if_changed(src_path, dst_path)


REDIRECT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Phonon DoS with e3nn</title>
<meta http-equiv="refresh" content="0; url=README.html"><link rel="canonical" href="README.html"></head>
<body><p><a href="README.html">Phonon DoS with e3nn — the book</a></p></body></html>
"""


def main(argv: list[str]) -> int:
    t0 = time.time()
    if "--clean" in argv:
        for d in (SRC, OUT, DOCTREES, ASSETS):
            shutil.rmtree(d, ignore_errors=True)
    vendor()
    staged = stage()
    # Sphinx re-reads what changed but leaves the sidebar of unchanged pages stale when pages come or go:
    # write every page then.
    signature = "\n".join(p.as_posix() for p in staged if p.suffix in (".md", ".ipynb"))
    stamp = DOCTREES / "pages.txt"
    write_all = not stamp.exists() or stamp.read_text(encoding="utf-8") != signature
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-c", str(ROOT / "book"), "-d", str(DOCTREES),
           "-j", "auto", *(["-a"] if write_all else []), str(SRC), str(OUT)]
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode:
        return proc.returncode
    (OUT / "index.html").write_text(REDIRECT, encoding="utf-8")
    stamp.write_text(signature, encoding="utf-8")
    n = sum(1 for p in staged if p.suffix in (".md", ".ipynb"))
    print(f"book: {n} pages → {(OUT / 'index.html').relative_to(ROOT)} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
