"""The errors of ``utils.data``: every one a ``ValueError`` whose message names the file, row or material and what to do."""
from __future__ import annotations

__all__ = ["DataError", "DatasetUnavailable", "DownloadInterrupted", "ChecksumError", "ParseError", "UnsafeExpression",
           "SplitError", "InvalidMaterial"]


class DataError(ValueError):
    """A dataset problem; the message names the file/row/material and what to do."""


class DatasetUnavailable(DataError):
    """The original data could not be downloaded (offline, server error); use ``load_dataset()`` instead."""


class DownloadInterrupted(DatasetUnavailable):
    """The download stopped early; the partial ``.part`` file is kept and the next call resumes it."""


class ChecksumError(DataError):
    """A file's sha256 differs from the recorded one (corrupt, edited or changed upstream)."""


class ParseError(DataError):
    """A cell of the original CSV is malformed; the message names the row and the column."""


class UnsafeExpression(ParseError):
    """A cell holds code rather than a literal (only literals and ``array(...)`` calls are accepted)."""


class SplitError(DataError):
    """No split satisfying the element-balance rule was found."""


class InvalidMaterial(DataError):
    """A structure or spectrum that fails :mod:`utils.data.schema`'s checks; ``field`` names the part that failed
    ('cell', 'numbers', 'coords', 'freq' or 'dos'), so that an importer can name its own column or key."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
