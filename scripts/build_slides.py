"""Export every notebook of the series as reveal.js slides, served offline (`make slides` → _build/slides/).

    python scripts/build_slides.py            # all notebooks of SERIES that exist, plus the glossary
    python scripts/build_slides.py 03 05      # only those whose names start with these

Slide types are assigned automatically, on an in-memory copy (the notebooks are never modified, so
`scripts/build_notebooks.py --check` is unaffected):

- the title cell starts the deck; the first cell of the body (What you will learn / Time) is a slide;
- every `##` heading starts a slide, every `###` heading a sub-slide (↓);
- the Colab cell, the setup cell (``utils.setup(...)``), the closing navigation and cells tagged
  ``remove-cell`` are skipped; a cell that would overflow the projector (≈ 28 lines, a figure counts 16)
  continues on a sub-slide;
- a cell that already carries ``slideshow.slide_type`` in its metadata keeps it.

reveal.js, MathJax 3, require.js, jQuery and the ipywidgets HTML manager are copied from node_modules (``npm ci``)
next to the decks; links between notebooks point at the other decks, and the glossary becomes a deck too.
"""
from __future__ import annotations

import copy
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from build_notebooks import SERIES  # noqa: E402

OUT = ROOT / "_build" / "slides"
NODE = ROOT / "node_modules"
TEMPLATE_DIR = ROOT / "book"              # holds the template folder reveal_offline/
VENDOR = [   # (from node_modules, to _build/slides/)
    ("reveal.js/dist", "reveal.js/dist"),
    ("reveal.js/plugin/notes", "reveal.js/plugin/notes"),
    ("mathjax/es5", "mathjax"),
    ("requirejs/require.js", "require.js"),
    ("jquery/dist/jquery.min.js", "jquery.min.js"),
    # at the path of its AMD module name, where the manager looks for its fonts
    ("@jupyter-widgets/html-manager/dist", "@jupyter-widgets/html-manager/dist"),
]
BUDGET = 28          # lines that fit on one slide at the exported font size
FIGURE_LINES = 16    # what an image output costs
WRAP = 90            # characters per line of prose


# ------------------------------------------------------------------------------------------ slide types


def cell_lines(cell) -> int:
    """Rough height of a cell on a slide, in lines."""
    text_lines = lambda s: sum(max(1, -(-len(line) // WRAP)) for line in s.splitlines()) if s else 0
    if cell.cell_type != "code":
        n = text_lines(re.sub(r"<details>.*?</details>", "Solution", cell.source, flags=re.S))
        return n + 2 * cell.source.count("$$")
    n = len(cell.source.splitlines())
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            n += min(len(out.text.splitlines()), 12)
        elif out.output_type in ("display_data", "execute_result"):
            data = out.get("data", {})
            if any(k.startswith("image/") for k in data) or "application/vnd.jupyter.widget-view+json" in data:
                n += FIGURE_LINES
            elif "text/html" in data or "text/plain" in data:
                n += min(len((data.get("text/plain") or "").splitlines()), 12)
        elif out.output_type == "error":
            n += 8
    return n


def is_setup_cell(cell) -> bool:
    return cell.cell_type == "code" and "utils.setup(" in cell.source


def assign_slide_types(nb) -> dict[str, int]:
    """Set ``cell.metadata.slideshow.slide_type`` on every cell of `nb` (in place); return counts."""
    used = 0
    seen_body = False
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        preset = cell.metadata.get("slideshow", {}).get("slide_type")
        heading = re.match(r"^(#{1,3})\s", cell.source) if cell.cell_type == "markdown" else None
        if preset:
            kind = preset
        elif tags & {"colab", "remove-cell", "footer"} or is_setup_cell(cell):
            kind = "skip"
        elif "header" in tags or (heading and len(heading.group(1)) <= 2):
            kind = "slide"
        elif not seen_body:
            kind = "slide"                     # What you will learn / Time
        elif heading:
            kind = "subslide"
        else:
            kind = "subslide" if used and used + cell_lines(cell) > BUDGET else "-"
        if "header" not in tags and kind != "skip":
            seen_body = True
        if kind in ("slide", "subslide"):
            used = 0
        if kind != "skip":
            used += cell_lines(cell)
        cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
    counts: dict[str, int] = {}
    for cell in nb.cells:
        k = cell.metadata["slideshow"]["slide_type"]
        counts[k] = counts.get(k, 0) + 1
    return counts


# ------------------------------------------------------------------------------------------ links


def deck_name(stem: str) -> str:
    return f"{stem}.slides.html"


def rewrite_links(source: str) -> str:
    """Point links between notebooks at the other decks, the README at the slides index."""
    def deck(m):
        stem, anchor = m.group(2), m.group(3) or ""
        if not (ROOT / "notebooks" / f"{stem}.ipynb").exists():
            return m.group(1)          # a notebook of the series not written yet: plain text
        return f"[{m.group(1)}]({deck_name(stem)}{anchor})"
    source = re.sub(r"\[([^\]]*)\]\((\d\d_[A-Za-z0-9_]+)\.ipynb(#[^)]*)?\)", deck, source)
    source = re.sub(r"\]\((?:\.\./notebooks/)?glossary\.md(#[^)]*)?\)",
                    lambda m: f"]({deck_name('glossary')}{m.group(1) or ''})", source)
    source = re.sub(r"\]\(\.\./README\.md(#[^)]*)?\)", "](index.html)", source)
    return source


def root_relative_images(source: str, base: Path) -> str:
    """Make local image paths relative to ROOT, so that nbconvert (which embeds only files below the path it is
    given) can embed ``../figures/...`` as data URLs."""
    def fix(m):
        target = (base / m.group(2)).resolve()
        if target.is_file() and ROOT in target.parents:
            return f"{m.group(1)}{target.relative_to(ROOT).as_posix()}{m.group(3)}"
        return m.group(0)
    source = re.sub(r"(!\[[^\]]*\]\()([^)\s:]+)(\))", fix, source)
    return re.sub(r"(<img[^>]*\bsrc=[\"'])([^\"':]+)([\"'])", fix, source)


def prepare(nb, base: Path = ROOT / "notebooks"):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = root_relative_images(rewrite_links(cell.source), base)
    counts = assign_slide_types(nb)
    return nb, counts


# ------------------------------------------------------------------------------------------ export


def exporter() -> SlidesExporter:
    c = Config()
    c.SlidesExporter.reveal_url_prefix = "reveal.js"
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_scroll = True
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.reveal_width = "1200"
    c.SlidesExporter.reveal_height = "800"
    c.SlidesExporter.mathjax_url = "mathjax/tex-mml-chtml.js"
    c.SlidesExporter.require_js_url = "require.js"
    c.SlidesExporter.jquery_url = "jquery.min.js"
    c.SlidesExporter.widget_renderer_url = "@jupyter-widgets/html-manager/dist/embed-amd.js"
    c.SlidesExporter.embed_images = True           # badges and figures in markdown travel inside the deck
    c.SlidesExporter.exclude_input_prompt = True
    c.SlidesExporter.exclude_output_prompt = True
    c.SlidesExporter.extra_template_basedirs = [str(TEMPLATE_DIR)]
    c.SlidesExporter.template_name = "reveal_offline"
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = ("remove-cell",)
    c.TagRemovePreprocessor.remove_input_tags = ("remove-input",)
    c.TagRemovePreprocessor.remove_all_outputs_tags = ("remove-output",)
    return SlidesExporter(config=c)


def vendor() -> None:
    missing = [src for src, _ in VENDOR if not (NODE / src).exists()]
    if missing:
        sys.exit(f"node_modules lacks {', '.join(missing)}: run `npm ci` (or `make slides`, which does)")
    for src, dst in VENDOR:
        s, d = NODE / src, OUT / dst
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.map"))
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)


def glossary_notebook():
    text = (ROOT / "notebooks" / "glossary.md").read_text(encoding="utf-8")
    parts = re.split(r"(?m)^(?=## )", text)
    cells = [nbformat.v4.new_markdown_cell(p.strip(), metadata={"tags": ["header"]} if i == 0 else {})
             for i, p in enumerate(parts) if p.strip()]
    cells.insert(1 if len(cells) > 1 else len(cells),
                 nbformat.v4.new_markdown_cell("[contents](../README.md#the-notebooks)", metadata={"tags": ["footer"]}))
    return nbformat.v4.new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})


INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Phonon DoS with e3nn — slides</title>
<style>body {{ font-family: sans-serif; max-width: 44rem; margin: 3rem auto; line-height: 1.5; }}
li {{ margin: 0.3rem 0; }} .keys {{ color: #555; font-size: 0.9em; }}</style></head>
<body><h1>Phonon DoS with e3nn — slides</h1>
<ul>
{items}
</ul>
<p class="keys">Keys: → / space next, ↓ next sub-slide, Esc overview, S speaker notes, F full screen.
Interactive widgets show their saved state; run the notebook to move the sliders.</p>
</body></html>
"""


def main(argv: list[str]) -> int:
    t0 = time.time()
    only = [a for a in argv if not a.startswith("-")]
    OUT.mkdir(parents=True, exist_ok=True)
    vendor()
    exp = exporter()
    decks = []
    for stem, title in SERIES:
        path = ROOT / "notebooks" / f"{stem}.ipynb"
        if not path.exists():
            continue
        decks.append((stem, title))
        if only and not any(stem.startswith(o) for o in only):
            continue
        nb, counts = prepare(nbformat.read(path, as_version=4))
        body, _ = exp.from_notebook_node(nb, resources={"metadata": {"name": f"{stem[:2]} · {title}",
                                                                        "path": str(ROOT)}})
        (OUT / deck_name(stem)).write_text(body, encoding="utf-8")
        print(f"{deck_name(stem)}: {counts.get('slide', 0)} slides, {counts.get('subslide', 0)} sub-slides, "
              f"{counts.get('skip', 0)} cells skipped")
    if not only:
        nb, _ = prepare(glossary_notebook())
        body, _ = exp.from_notebook_node(nb, resources={"metadata": {"name": "Glossary", "path": str(ROOT)}})
        (OUT / deck_name("glossary")).write_text(body, encoding="utf-8")
    items = [f'<li><a href="{deck_name(s)}">{s[:2]} · {t}</a></li>' for s, t in decks]
    items.append(f'<li><a href="{deck_name("glossary")}">Glossary of symbols and units</a></li>')
    (OUT / "index.html").write_text(INDEX.format(items="\n".join(items)), encoding="utf-8")
    print(f"slides: {len(decks)} decks → {(OUT / 'index.html').relative_to(ROOT)} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
