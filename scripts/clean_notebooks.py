"""Renumber execution counts and strip volatile metadata from notebooks, keeping outputs and saved widget state.

    python scripts/clean_notebooks.py notebooks/*.ipynb
"""
from __future__ import annotations

import sys

import nbformat

KEEP_NB_METADATA = {"kernelspec", "language_info", "widgets"}
KEEP_CELL_METADATA = {"tags", "slideshow", "jupyter"}


def clean(nb):
    """Return `nb` with execution counts renumbered 1..n, without timings and volatile metadata.

    Counts are renumbered (not removed) because nbval refuses stored outputs of a cell without a count;
    1..n is stable from run to run, so diffs stay clean. Saved widget state is kept.
    """
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NB_METADATA}
    if "language_info" in nb.metadata:
        nb.metadata["language_info"] = {"name": "python"}
    count = 0
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        cell.pop("id", None)
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = count
                out.get("metadata", {}).pop("execution", None)
    nb.nbformat_minor = 4   # 4.4: no cell ids (they churn diffs)
    return nb


if __name__ == "__main__":
    for path in sys.argv[1:]:
        nbformat.write(clean(nbformat.read(path, as_version=4)), path)
