"""Export every notebook of the series as reveal.js slides, served offline (`make slides` → _build/slides/).

    python scripts/build_slides.py            # all notebooks of SERIES that exist, plus the glossary
    python scripts/build_slides.py 03 05      # only those whose names start with these

Slide types are assigned automatically, on an in-memory copy (the notebooks are never modified, so
`scripts/build_notebooks.py --check` is unaffected):

- the title cell starts the deck; the first cell of the body (What you will learn / Time) is a slide;
- every `##` heading starts a slide, every `###` heading a sub-slide (↓);
- a markdown cell with such a heading after its first line is split there, so the heading opens its slide;
- the Colab cell, the setup cell (``utils.setup(...)``), the closing navigation and cells tagged
  ``remove-cell`` are skipped; a cell that would overflow the projector (BUDGET lines; a figure counts its own
  height) continues on a sub-slide;
- a cell that already carries ``slideshow.slide_type`` in its metadata keeps it.

Exercise solutions (``<details><summary>Solution</summary>…</details>``) stay collapsed: each is rendered to one
HTML block here (nbconvert would otherwise close the ``<details>`` before its body and show the solution in the
open), and an opened solution scrolls inside a box instead of pushing the slide past the 800 px design height.
A cell too tall for one slide is split on the copy: a markdown cell at its paragraphs (a long table into several
tables), a code cell into its code (code longer than a slide in chunks cut before top-level statements) and, on the
next sub-slides, its outputs. tests/test_book.py measures every
slide in headless Chromium and fails on one taller than 800 px.

reveal.js, MathJax 3, require.js, jQuery and the ipywidgets HTML manager are copied from node_modules (``npm ci``)
next to the decks; links between notebooks point at the other decks, and the glossary becomes a deck too.
"""
from __future__ import annotations

import base64
import copy
import re
import struct
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbconvert.exporters import SlidesExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
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
# Heights in lines of prose (≈ 28 px on the 1200 × 800 px slide): measured on the built decks by
# tests/test_book.py, which fails on a slide taller than 800 px.
BUDGET = 25          # lines that fit on one slide
CODE_LINE = 0.75     # a line of code or text output (16 px monospace) in lines of prose
LINE_PX = 28.5       # a line of prose in px
IMAGE_MAX_PX = 520   # the template caps figures at this height (book/reveal_offline)
WIDGET_LINES = 16    # a saved widget view
CODE_SLIDE_LINES = 35   # lines of code one slide shows: 41 lines measured 817 px, 49 lines 971 px (≈ 19.3 px each)
WRAP = 90            # characters per line of prose


# ------------------------------------------------------------------------------------------ slide types


def image_lines(data: dict) -> float:
    """Height of an image output in lines, from the PNG's own size (shown at most 1150 px wide, 520 px high)."""
    png = data.get("image/png")
    if png:
        raw = base64.b64decode(png if isinstance(png, str) else "".join(png))[:32]
        if raw[:8] == b"\x89PNG\r\n\x1a\n":
            width, height = struct.unpack(">II", raw[16:24])
            return min(IMAGE_MAX_PX, height * min(1.0, 1150 / width)) / LINE_PX + 1
    return IMAGE_MAX_PX / LINE_PX + 1


def cell_lines(cell) -> float:
    """Rough height of a cell on a slide, in lines of prose."""
    text_lines = lambda s: sum(max(1, -(-len(line) // WRAP)) for line in s.splitlines()) if s else 0
    if cell.cell_type != "code":
        source = re.sub(r"<details\b.*?</details>", "Solution", cell.source, flags=re.S)
        table_rows = sum(1 for line in source.splitlines() if line.lstrip().startswith("|"))
        headings = sum(1 for line in source.splitlines() if re.match(r"#{1,3}\s", line))   # larger type, margins
        return text_lines(source) + 2 * cell.source.count("$$") + 0.3 * table_rows + headings
    n = 0.0 if "remove-input" in cell.metadata.get("tags", []) else CODE_LINE * len(cell.source.splitlines()) + 1
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            n += CODE_LINE * len(out.text.splitlines()) + 0.5
        elif out.output_type in ("display_data", "execute_result"):
            data = out.get("data", {})
            if any(k.startswith("image/") for k in data):
                n += image_lines(data)
            elif "application/vnd.jupyter.widget-view+json" in data:
                n += WIDGET_LINES
            elif "text/html" in data or "text/plain" in data:
                n += CODE_LINE * len((data.get("text/plain") or "").splitlines()) + 0.5
        elif out.output_type == "error":
            n += 8
    return n


SOLUTION = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S)


def collapse_solutions(source: str) -> str:
    """Render each ``<details>`` block of markdown `source` to a single HTML block (no blank line inside), so that
    the markdown renderer keeps the body inside the collapsed element."""
    def render(m):
        body = markdown2html_mistune(m.group(2).strip())
        body = re.sub(r"\n[ \t]*(?=\n)", "\n<span></span>", body.strip())   # a blank line would end the HTML block
        return f'<details class="solution"><summary>{m.group(1).strip()}</summary>\n{body}\n</details>'
    return SOLUTION.sub(render, source)


def markdown_blocks(source: str) -> list[str]:
    """Top-level blocks of markdown `source` (split at blank lines outside code fences and $$ math); a solution
    block stays with the paragraph before it."""
    blocks, current, fence, math = [], [], False, False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = not fence
        elif not fence and stripped.count("$$") % 2:
            math = not math
        if not stripped and not fence and not math:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    merged: list[str] = []
    for b in blocks:
        if merged and b.lstrip().startswith("<details"):
            merged[-1] += "\n\n" + b
        else:
            merged.append(b)
    return merged


def split_table(block: str) -> list[str]:
    """A markdown table taller than a slide as several tables, each with the header repeated (lines before the
    table, such as its heading, stay with the first)."""
    lines = block.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("|")), len(lines))
    table = lines[start:]
    if len(table) < 4 or not all(line.lstrip().startswith("|") for line in table) or \
            cell_lines(nbformat.v4.new_markdown_cell(block)) <= BUDGET:
        return [block]
    head, rows = table[:2], table[2:]
    per = max(1, int(BUDGET / 1.5) - 3)
    chunks = ["\n".join(head + rows[i:i + per]) for i in range(0, len(rows), per)]
    chunks[0] = "\n".join(lines[:start] + [chunks[0]])
    return chunks


def _outputs_piece(cell, outputs: list):
    piece = copy.deepcopy(cell)
    piece.outputs = copy.deepcopy(outputs)
    piece.metadata["tags"] = [*piece.metadata.get("tags", []), "remove-input"]
    piece.metadata["slideshow"] = {"slide_type": "subslide"}
    return piece


def split_at_headings(cell) -> list:
    """A markdown cell with a ``#``–``###`` heading after its first line, as pieces that each start at such a
    heading, so that the heading opens its own slide or sub-slide (it would otherwise land at the foot of the
    slide before, whose height it would push past the budget)."""
    if cell.cell_type != "markdown" or cell.metadata.get("slideshow"):
        return [cell]
    pieces, current, fence, math = [], [], False, False
    for line in cell.source.splitlines():
        stripped = line.strip()
        if not fence and not math and re.match(r"#{1,3}\s", line) and any(x.strip() for x in current):
            pieces.append("\n".join(current).strip("\n"))
            current = []
        if stripped.startswith("```"):
            fence = not fence
        elif not fence and stripped.count("$$") % 2:
            math = not math
        current.append(line)
    pieces.append("\n".join(current).strip("\n"))
    if len(pieces) == 1:
        return [cell]
    return markdown_pieces(cell, pieces)


def markdown_pieces(cell, texts: list[str]) -> list:
    """Copies of a markdown `cell` holding `texts`, one each; only the first keeps the 'header' tag."""
    out = []
    for i, text in enumerate(texts):
        piece = copy.deepcopy(cell)
        piece.source = text
        if i:
            piece.metadata["tags"] = [t for t in piece.metadata.get("tags", []) if t != "header"]
        out.append(piece)
    return out


def code_chunks(source: str) -> list[str]:
    """Code `source` taller than a slide as chunks that each fit: cut at a blank line before a top-level
    statement (a new function, class or block) where possible, else at any blank line, else between lines."""
    max_lines = CODE_SLIDE_LINES
    lines = source.splitlines()
    if len(lines) <= max_lines:
        return [source]

    def cuts(ok):
        return [i for i in range(1, len(lines)) if ok(i)]

    top = cuts(lambda i: not lines[i - 1].strip() and lines[i].strip() and not lines[i][0].isspace()
               and not lines[i].lstrip().startswith((")", "]", "}")))
    blank = cuts(lambda i: not lines[i - 1].strip() and lines[i].strip())
    chunks, start = [], 0
    while len(lines) - start > max_lines:
        end = start + max_lines
        for candidates in (top, blank):
            fits = [i for i in candidates if start < i <= end]
            if fits:
                end = fits[-1]
                break
        chunks.append("\n".join(lines[start:end]).rstrip())
        start = end
    chunks.append("\n".join(lines[start:]).rstrip())
    return [c for c in chunks if c.strip()]


def split_tall_cell(cell) -> list:
    """`cell`, or the pieces of a cell taller than a slide: a markdown cell split at its paragraphs (a long table
    into several), a code cell into its code (in chunks of at most CODE_SLIDE_LINES lines) and, on the next
    sub-slides, its outputs."""
    if cell.metadata.get("slideshow") or cell_lines(cell) <= BUDGET:
        return [cell]
    if cell.cell_type == "code":
        shown = "remove-input" not in cell.metadata.get("tags", [])
        sources = code_chunks(cell.source) if shown else [cell.source]
        if (not cell.get("outputs") and len(sources) == 1) or not cell.source.strip():
            return [cell]
        pieces, group = [], []
        for i, text in enumerate(sources):     # code too long for a slide continues on sub-slides
            code = copy.deepcopy(cell)
            code.source, code.outputs = text, []
            if i:
                code.metadata["slideshow"] = {"slide_type": "subslide"}
            pieces.append(code)
        if not cell.get("outputs"):
            return pieces
        for out in cell.outputs:      # the outputs on sub-slides, as many to a sub-slide as fit
            trial = copy.deepcopy(cell)
            trial.outputs = group + [out]
            trial.metadata["tags"] = [*trial.metadata.get("tags", []), "remove-input"]
            if group and cell_lines(trial) > BUDGET:
                pieces.append(_outputs_piece(cell, group))
                group = [out]
            else:
                group.append(out)
        pieces.append(_outputs_piece(cell, group))
        return pieces
    if cell.cell_type != "markdown":
        return [cell]
    blocks = [piece for block in markdown_blocks(cell.source) for piece in split_table(block)]
    pieces, current = [], []
    for block in blocks:
        trial = "\n\n".join(current + [block])
        if current and cell_lines(nbformat.v4.new_markdown_cell(trial)) > BUDGET:
            pieces.append("\n\n".join(current))
            current = [block]
        else:
            current.append(block)
    pieces.append("\n\n".join(current))
    return markdown_pieces(cell, pieces)


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
            cell.source = collapse_solutions(root_relative_images(rewrite_links(cell.source), base))
    nb.cells = [piece for cell in nb.cells for part in split_at_headings(cell) for piece in split_tall_cell(part)]
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
