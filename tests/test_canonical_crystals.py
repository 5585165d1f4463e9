"""The 20 crystals a learner tries first (utils.datagen.benchmark.NAMED) are labelled, and each one is either
in the dataset or excluded for one reason of a closed list (EXCLUSION_REASONS), at most MAX_NAMED_EXCLUDED of them,
and every exclusion is listed in the datasheet (data/README.md)."""
import pytest

from utils.datagen.benchmark import EXCLUSION_REASONS, MAX_NAMED_EXCLUDED, NAMED, named_status
from utils.datagen.store import DEFAULT_OUT, iter_records


@pytest.fixture(scope="module")
def status():
    return named_status(iter_records(DEFAULT_OUT, include_pending=False, include_failed=True))


def test_every_named_crystal_is_labelled(status):
    missing = {f"{f} ({p})": v["status"] + (f": {v['reason']}" if v["reason"] else "")
               for (f, p), v in status.items() if v["status"] in ("not labelled", "failed")}
    assert not missing, f"named crystals without a label: {missing}"


def test_exclusions_are_few_and_for_listed_reasons(status):
    excluded = {k: v["reason"] for k, v in status.items() if v["status"] == "excluded"}
    assert set(excluded.values()) <= set(EXCLUSION_REASONS), excluded
    assert len(excluded) <= MAX_NAMED_EXCLUDED, f"{len(excluded)} named crystals excluded: {excluded}"
    assert len(status) == len(NAMED) == 20


def test_datasheet_lists_every_exclusion(status):
    from pathlib import Path
    sheet = (Path(__file__).resolve().parents[1] / "data" / "README.md").read_text()
    for (formula, proto), v in status.items():
        if v["status"] == "excluded":
            assert f"| {formula} ({proto}) | excluded |" in sheet, f"{formula}: rerun python scripts/datasheet.py"
