"""The README's table of the slides' claims is generated from data/experiments/claims_full.json
(:func:`utils.claims.report.readme_table`) and states the dataset version it was measured on."""
import json
from pathlib import Path

from utils.claims.report import readme_table

ROOT = Path(__file__).resolve().parents[1]


def test_readme_claims_table_is_the_stored_results():
    results = json.loads((ROOT / "data" / "experiments" / "claims_full.json").read_text())
    readme = (ROOT / "README.md").read_text()
    table = readme_table(results)
    assert table in readme, "stale: paste utils.claims.report.readme_table(claims_full.json) into the README"
    section = readme.split("## The slides' claims, measured", 1)[1].split("\n## ", 1)[0]
    ds = results["experiment"]["dataset"]
    assert f"dataset {ds['version']}" in " ".join(section.split())
    assert f"{len(results['runs'])} training runs" in section


def test_readme_table_counts_every_test_of_the_scorecard():
    from utils.claims.report import scorecard
    results = json.loads((ROOT / "data" / "experiments" / "claims_full.json").read_text())
    rows = readme_table(results).splitlines()[2:]
    card = scorecard(results)
    for claim, row in zip(sorted({r["claim"] for r in card}), rows):
        mine = [r for r in card if r["claim"] == claim]
        held = sum(r["outcome"] == "held" for r in mine)
        assert row.startswith(f"| {claim}. ")
        assert (row.endswith("| held |") and held == len(mine)) or f"{held} of {len(mine)} tests held" in row, row
