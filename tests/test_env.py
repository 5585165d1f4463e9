"""The environment switches (FAST, TRAIN, TQDM_DISABLE) have one reading, in utils/_env.py, used everywhere."""
from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import utils
from utils import _env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("on", True), ("2", True), (" 1 ", True),
    ("", False), ("0", False), ("false", False), ("False", False), (" no ", False), ("off", False), ("OFF", False),
])
def test_flag_truthiness(monkeypatch, value, expected):
    monkeypatch.setenv("TQDM_DISABLE", value)
    monkeypatch.setenv("FAST", value)
    monkeypatch.setenv("TRAIN", value)
    assert _env.flag("TQDM_DISABLE") is expected
    assert _env.progress_disabled() is expected
    assert utils.is_fast() is expected and utils.wants_training() is expected


def test_unset_flag_gives_the_default(monkeypatch):
    monkeypatch.delenv("FAST", raising=False)
    assert _env.flag("FAST") is False and _env.flag("FAST", default=True) is True
    assert utils.is_fast() is False


def test_docstring_examples_hold(monkeypatch):
    monkeypatch.setenv("PHONON_DOS_EXAMPLE", "")          # restored (removed) after the test
    monkeypatch.delenv("PHONON_DOS_EXAMPLE_UNSET", raising=False)
    result = doctest.testmod(_env)
    assert result.attempted >= 3 and result.failed == 0


def test_no_other_module_reads_the_switches_itself():
    """Every FAST / TRAIN / TQDM_DISABLE check goes through utils._env (the four hand-written checks disagreed on
    what `false` means)."""
    pattern = re.compile(r"""(environ\.get|getenv|environ\[)\(?\s*["'](FAST|TRAIN|TQDM_DISABLE|RUN_EXPERIMENTS)["']""")
    files = [p for p in sorted((ROOT / "utils").rglob("*.py")) if p.name != "_env.py"]
    files += sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py"))
    files += sorted((ROOT / "notebooks" / "src").glob("*.py"))     # notebooks read switches with utils.flag()
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in files
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not offenders, f"read the switch with utils._env.flag() instead: {offenders}"
