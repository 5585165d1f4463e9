"""Switches read from the environment, in one place and with one reading (a leaf: standard library only).

    FAST=1          the short path (CI, ``make test``, instructors in a hurry)
    TRAIN=1         notebooks retrain instead of loading the shipped checkpoint
    TQDM_DISABLE=1  no progress bars (``make`` sets it; notebooks compared by nbval must not print bars)

Truthiness of a set variable: after stripping spaces and ignoring case, ``""``, ``0``, ``false``, ``no`` and
``off`` are false; every other value (``1``, ``true``, ``yes``, ``on``, ``2`` …) is true. An unset variable gives
``default`` (False unless told). So ``TQDM_DISABLE=false`` shows the bars and ``FAST=0`` is the full path, in every
module alike.

Example:
    >>> import os
    >>> os.environ["PHONON_DOS_EXAMPLE"] = " False "
    >>> flag("PHONON_DOS_EXAMPLE")
    False
    >>> os.environ["PHONON_DOS_EXAMPLE"] = "yes"
    >>> flag("PHONON_DOS_EXAMPLE")
    True
    >>> flag("PHONON_DOS_EXAMPLE_UNSET", default=True)
    True
"""
from __future__ import annotations

import os

__all__ = ["FALSE_VALUES", "flag", "is_fast", "wants_training", "progress_disabled"]

FALSE_VALUES = frozenset({"", "0", "false", "no", "off"})


def flag(name: str, default: bool = False) -> bool:
    """Whether the environment variable ``name`` is set to a true value (see the module docstring); ``default``
    when it is unset."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in FALSE_VALUES


def is_fast() -> bool:
    """True when the environment asks for the short path (``FAST=1``: CI, instructors in a hurry)."""
    return flag("FAST")


def wants_training() -> bool:
    """True when ``TRAIN=1``: notebooks retrain instead of loading the shipped checkpoint."""
    return flag("TRAIN")


def progress_disabled() -> bool:
    """True when ``TQDM_DISABLE`` is set to a true value: every progress bar of ``utils`` stays hidden."""
    return flag("TQDM_DISABLE")
