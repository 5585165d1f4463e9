"""Labels against measured phonon frequencies (utils/datagen/experiment.py, data/reference/measured_phonons.csv)."""
import json

import pytest

from utils.datagen import experiment


def test_reference_table_reads_and_is_sane():
    rows = experiment.read_measured()
    assert len(rows) >= 10
    assert len({(r["formula"], r["prototype"]) for r in rows}) == len(rows)
    for r in rows:
        assert 1.0 < r["nu_max_THz"] < 45.0 and 0 < r["uncertainty_THz"] < 0.1 * r["nu_max_THz"], r
        assert r["measurement"] and r["point"]
    si = next(r for r in rows if r["formula"] == "Si")
    assert si["nu_max_cm1"] == pytest.approx(517.0, abs=2.0)      # Raman line of Si: 520 cm⁻¹ at 300 K


def test_compare_matches_known_records_only():
    measured = [dict(formula="Si", prototype="diamond", nu_max_THz=15.5, uncertainty_THz=0.1, point="Gamma",
                     measurement="x", nu_max_cm1=15.5 * experiment.THZ_TO_CM1)]
    ok = dict(imaginary_weight=0.0, min_freq_cm1=-1.0)
    records = [dict(ok, id="sub", formula="Si", prototype="diamond", origin="substituted", ok=True, max_freq_cm1=600.0),
               dict(ok, id="k", formula="Si", prototype="diamond", origin="known", ok=True, max_freq_cm1=490.0),
               dict(id="u", formula="Si", prototype="diamond", origin="known", ok=True, max_freq_cm1=400.0,
                    imaginary_weight=0.0, min_freq_cm1=-45.0),                       # unstable: not compared
               dict(id="f", formula="Si", prototype="diamond", origin="known", ok=False)]
    (row,) = experiment.compare_with_experiment(records, measured)
    assert row["id"] == "k" and row["ratio"] == pytest.approx(490.0 / (15.5 * experiment.THZ_TO_CM1))
    s = experiment.summarize([row])
    assert s["n"] == 1 and s["n_soft_10pct"] == 0
    (row,) = experiment.compare_with_experiment([], measured)
    assert row["label_cm1"] is None and experiment.summarize([row]) == dict(n=0)


def test_bad_reference_file_names_the_row(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("# c\nformula,prototype,nu_max_THz,uncertainty_THz,point,measurement\nAl,fcc,nine,0.1,X,y\n")
    with pytest.raises(ValueError, match=r"m\.csv.*'Al'.*nu_max_THz"):
        experiment.read_measured(bad)


def test_stored_comparison_matches_the_shipped_labels():
    """data/reference/labels_vs_experiment.json is what `python -m utils.datagen experiment` computes from the
    committed label shards (rerun it after adding shards)."""
    from utils.datagen.store import DEFAULT_OUT, iter_records
    stored = experiment.read_results()
    fresh = experiment.results(iter_records(DEFAULT_OUT, include_pending=False))
    assert stored == json.loads(json.dumps(fresh)), "stale: run `python -m utils.datagen experiment`"
    assert stored["summary"]["n"] >= 10, "fewer than 10 crystals compared with experiment"


def test_readme_states_the_stored_comparison():
    from pathlib import Path
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    s = experiment.read_results()["summary"]
    text = (f"highest phonon frequencies of {s['n']} elemental crystals (Landolt–Börnstein III/13a) the labels are "
            f"{100 * (1 - s['median_ratio']):.0f} % low in the median (ratio {s['min_ratio']:.2f}–{s['max_ratio']:.2f})")
    assert text in readme, text
