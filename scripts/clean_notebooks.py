"""Strip execution counts and volatile metadata from notebooks, keeping outputs and saved widget state.

    python scripts/clean_notebooks.py notebooks/*.ipynb
"""
from __future__ import annotations

import sys

import nbformat

KEEP_NB_METADATA = {"kernelspec", "language_info", "widgets"}
KEEP_CELL_METADATA = {"tags", "slideshow", "jupyter"}


def clean(nb):
    """Return `nb` without execution counts, timings and volatile metadata (widget state kept)."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NB_METADATA}
    if "language_info" in nb.metadata:
        nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}
        cell.pop("id", None)
        if cell.cell_type == "code":
            cell.execution_count = None
            for out in cell.get("outputs", []):
                if "execution_count" in out:
                    out["execution_count"] = None
                out.get("metadata", {}).pop("execution", None)
    nb.nbformat_minor = max(nb.get("nbformat_minor", 4), 4)
    if nb.nbformat_minor >= 5:
        nb.nbformat_minor = 4
    return nb


if __name__ == "__main__":
    for path in sys.argv[1:]:
        nbformat.write(clean(nbformat.read(path, as_version=4)), path)
