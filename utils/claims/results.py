"""The one resumable results file of the evidence runners (the baselines and the claims of notebook 07).

A results file is one JSON dict that grows one run at a time: ``format_version``, ``experiment`` (everything that
must match for stored runs to be reused: data, budget, model sizes), ``runs`` (key → record) and whatever summary
its runner keeps. :class:`ResultsFile` opens it (a new dict, or the stored one when its ``experiment`` matches;
another experiment is refused unless ``restart``), says which planned runs are still to do, and rewrites the file
atomically after each finished run — so an interrupted command continues where it stopped, and a crash never
leaves half a file.

Example::

    >>> store = ResultsFile(None, dict(format_version=1, experiment={"data": "v1"}, runs={}))
    >>> store.todo(["a", "b", "a"])
    ['a', 'b']
    >>> store.record("a", {"mse": 0.1}); store.todo(["a", "b"])
    ['b']
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .._io import atomic_write_json

__all__ = ["ResultsFile", "read_results", "rounded"]


def rounded(values, digits: int = 6) -> list:
    """``values`` as (nested) lists of floats rounded to ``digits`` decimals: compact, stable JSON."""
    return np.round(np.asarray(values, dtype=float), digits).tolist()


def read_results(path: str | Path, format_version: int, error: type[Exception] = ValueError,
                 what: str = "results", command: str = "", how_to_make: str | None = None) -> dict:
    """Read a results file and check its ``format_version``.

    Raises:
        FileNotFoundError: no file at ``path`` (the message says to run ``command``, or ``how_to_make``).
        error: the file has another format (the message says to rerun ``command`` with ``--restart``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no {what} at {path}: {how_to_make or f'run `{command}`'} first.")
    results = json.loads(path.read_text())
    if results.get("format_version") != format_version:
        raise error(f"{path}: format {results.get('format_version')}, this code reads {format_version}; "
                    f"rerun `{command} --restart`.")
    return results


class ResultsFile:
    """A resumable results file (see the module docstring).

    Args:
        path: the JSON file; ``None`` keeps the results in memory only.
        fresh: the dict to start from (``format_version``, ``experiment``, ``runs`` …).
        restart: discard a stored file of another experiment instead of refusing it.
        error: exception raised for a stored file of another experiment or format.
        before_write: called with the results dict before each write (to refresh its summary).
        what, command: name the results and the command that makes them, in error messages.
    """

    def __init__(self, path: str | Path | None, fresh: dict, restart: bool = False,
                 error: type[Exception] = ValueError, before_write: Callable[[dict], None] | None = None,
                 what: str = "results", command: str = "") -> None:
        self.path = Path(path) if path is not None else None
        self.before_write = before_write
        self.results = fresh
        if self.path is not None and self.path.exists() and not restart:
            old = read_results(self.path, fresh["format_version"], error, what, command)
            wanted = fresh["experiment"]
            if old.get("experiment") != wanted:
                diff = sorted(k for k in wanted if old.get("experiment", {}).get(k) != wanted[k])
                raise error(f"{self.path} holds runs of another experiment (differs in: {', '.join(diff)}); pass "
                            "restart=True (CLI: --restart) to discard them, or choose another `out`.")
            self.results = old

    @property
    def runs(self) -> dict:
        return self.results["runs"]

    def todo(self, keys: Iterable) -> list:
        """The keys (or run specs with a ``.key``) not stored yet, each once, in the given order."""
        return [k for k in dict.fromkeys(keys) if getattr(k, "key", k) not in self.runs]

    def record(self, key: str, run: dict) -> None:
        """Store one finished run and rewrite the file."""
        self.runs[key] = run
        self.write()

    def write(self) -> None:
        """Refresh the summary (``before_write``) and rewrite the file atomically (nothing without a path)."""
        if self.before_write is not None:
            self.before_write(self.results)
        if self.path is not None:
            atomic_write_json(self.results, self.path)
