"""The shipped network on the known-crystal benchmark (utils.claims.known)."""
import json

import numpy as np
import pytest

from utils.claims import known


@pytest.fixture(scope="module")
def small_membership(tmp_path_factory):
    """Three named members (NaCl, MgO, Al) and one that is unstable with the potential (cubic BaTiO3)."""
    doc = json.loads((known.ROOT / "data" / "benchmark_known.json").read_text())
    keep = [m for m in doc["members"] if m["formula"] in ("NaCl", "MgO", "Al", "BaTiO3") and m.get("named")]
    assert len(keep) == 4
    path = tmp_path_factory.mktemp("bench") / "members.json"
    path.write_text(json.dumps(dict(doc, members=keep)))
    return path


def test_members_come_from_labels_with_the_v2_rules(small_membership):
    members, info = known.benchmark_members(membership=small_membership)
    assert {m["formula"] for m in members} == {"NaCl", "MgO", "Al"}
    assert list(info["left_out"].values()) == ["unstable"]          # BaTiO3: a mode near −237 cm⁻¹
    for m in members:
        assert m["target"].shape == (51,) and m["target"].max() == pytest.approx(1.0) and m["target"].min() >= 0


@pytest.mark.slow
def test_scores_are_the_series_metrics(small_membership):
    res = known.evaluate_benchmark(membership=small_membership)
    rows = res["rows"]
    assert res["network"]["all"]["n"] == len(rows) == 3
    w = np.array([r["wasserstein_cm1"] for r in rows])
    assert res["network"]["all"]["median_wasserstein_cm1"] == pytest.approx(np.median(w), abs=1e-3)
    assert res["network"]["all"]["mse"] == pytest.approx(np.mean([r["mse"] for r in rows]), rel=1e-3, abs=1e-6)
    # the mean training DoS is the floor: the network beats it on these classics
    assert res["network"]["all"]["median_wasserstein_cm1"] < res["mean_training_dos"]["all"]["median_wasserstein_cm1"]
    assert res["test_split"]["n"] > 100 and 0 < res["test_split"]["mse"] < 0.1


def test_stored_results_match_the_membership_and_labels():
    """data/experiments/benchmark_known.json was made from the committed membership file and lists every member
    either as scored or as left out (rerun `python -m utils.claims benchmark` after labelling more)."""
    from utils.datagen.benchmark import read_membership
    res = known.load_benchmark_results()
    members, sha = read_membership()
    assert res["benchmark"]["membership_sha256"] == sha
    scored = {r["id"] for r in res["rows"]}
    assert scored.isdisjoint(res["benchmark"]["left_out"])
    assert scored | set(res["benchmark"]["left_out"]) == {m["id"] for m in members}
    fresh, info = known.benchmark_members()
    not_packed = {i for i, reason in res["benchmark"]["left_out"].items() if reason.startswith("not packed")}
    assert {m["id"] for m in fresh} - not_packed == scored, "stale: run `python -m utils.claims benchmark`"


def test_readme_states_the_stored_benchmark_numbers():
    res = known.load_benchmark_results()
    readme = (known.ROOT / "README.md").read_text()
    a, u, n = res["network"]["all"], res["network"]["composition_not_in_train"], res["network"]["named"]
    t, f = res["test_split"], res["mean_training_dos"]["all"]
    assert u["n"] == a["n"], "a network trained on v2 has seen no benchmark composition"
    for text in (f"{a['n']} of the benchmark's {res['benchmark']['n_members']} crystals",
                 f"median W₁ **{a['median_wasserstein_cm1']:.1f} cm⁻¹**", f"mean MSE **{a['mse']:.4f}**",
                 f"median W₁ {t['median_wasserstein_cm1']:.1f} cm⁻¹ (the table's {t['mean_wasserstein_cm1']:.1f} is "
                 f"the mean) and mean MSE {t['mse']:.4f}",
                 f"On the {n['n']} scored classics", f"median W₁ is {n['median_wasserstein_cm1']:.1f} cm⁻¹",
                 f"scores a median W₁ of {f['median_wasserstein_cm1']:.1f} cm⁻¹ and a mean MSE of {f['mse']:.4f}"):
        assert " ".join(text.split()) in " ".join(readme.split()), text
    top = sorted(res["rows"], key=lambda r: -r["mse"])[:10]
    listed = (f"the ten largest per-crystal MSEs, {min(r['mse'] for r in top):.2f}–{max(r['mse'] for r in top):.2f}: "
              + ", ".join(r["formula"] for r in top))
    assert listed in " ".join(readme.split()), listed
