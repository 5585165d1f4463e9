"""The datasheet (data/README.md) describes the latest packed dataset, and the DFT reference file is complete.

Fast (< 1 s): reads the packed file's sha256 and two small text files; nothing is recomputed. After packing a new
version, `python scripts/datasheet.py` regenerates the datasheet.
"""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest

from utils import data as D

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "data" / "README.md"
REFERENCE = ROOT / "data" / "reference" / "dft_comparison.json"

sys.path.insert(0, str(ROOT / "scripts"))
import datasheet  # noqa: E402

needs_data = pytest.mark.skipif(not (D.DATA_DIR / D.VERSIONS_FILE).exists(), reason="no packed dataset")


@needs_data
def test_datasheet_matches_latest_packed_dataset():
    assert README.exists(), "data/README.md is missing: run `python scripts/datasheet.py`"
    tag = datasheet.read_datasheet_tag(README)
    assert tag is not None, "data/README.md has no datasheet tag: regenerate it with `python scripts/datasheet.py`"
    ds = D.load_dataset()
    assert (tag["version"], tag["sha256"]) == (ds.version, ds.sha256), (
        f"data/README.md describes {tag['version']} ({tag['sha256'][:12]}) but the latest packed dataset is "
        f"{ds.version} ({ds.sha256[:12]}): run `python scripts/datasheet.py`")
    text = README.read_text()
    assert ds.sha256 in text and f"{len(ds)} crystalline materials" in text.replace(",", "")
    for fig in re.findall(r"\]\(\.\./(figures/[^)]+\.png)\)", text):
        assert (ROOT / fig).exists(), f"{fig} referenced by data/README.md is missing"


@needs_data
def test_datasheet_alloys_checksum():
    tag = datasheet.read_datasheet_tag(README)
    if tag is None or tag.get("alloys_sha256") is None:
        pytest.skip("no alloys recorded in the datasheet")
    assert tag["alloys_sha256"] == D.load_alloys(tag["version"]).sha256


def test_dft_reference_fields():
    assert REFERENCE.exists(), "run `python scripts/datasheet.py reference --phonopy-repo <phonopy clone>`"
    doc = json.loads(REFERENCE.read_text())
    src = doc["source"]
    assert src["repository"].startswith("https://github.com/phonopy/phonopy")
    assert re.fullmatch(r"[0-9a-f]{40}", src["commit"])
    assert src["license"] == "BSD-3-Clause" and "Redistribution" in src["license_text"] and src["copyright"]
    assert doc["fine_grid"]["step_cm1"] == 2.0
    crystals = doc["crystals"]
    assert 4 <= len(crystals) <= 8 and len({c["name"] for c in crystals}) == len(crystals)
    for c in crystals:
        where = c["name"]
        assert c["example"].startswith("example/") and c["files"], where
        m = c["metrics"]
        for key in ("wasserstein_cm1", "max_freq_ratio", "mean_freq_ratio", "cv300_dft_J_molK",
                    "cv300_label_J_molK", "cv300_diff_J_molK", "volume_ratio"):
            assert isinstance(m[key], (int, float)) and math.isfinite(m[key]), (where, key)
        assert m["wasserstein_cm1"] >= 0 and 0.3 < m["max_freq_ratio"] < 3, where
        assert abs(m["cv300_label_J_molK"] - m["cv300_dft_J_molK"] - m["cv300_diff_J_molK"]) < 1e-3, where
        for side in ("dft", "label"):
            assert c[side]["max_freq_cm1"] > 0 and isinstance(c[side]["mesh"], list), (where, side)
        assert "not applied" in c["dft"]["nac"], where
        assert set(c["potential_on_dft_setup"]) >= {"wasserstein_cm1_vs_dft", "wasserstein_cm1_vs_label",
                                                    "max_freq_ratio_vs_dft"}, where
        dft, lab = c["fine_dos"]["dft"], c["fine_dos"]["label"]
        assert len(dft) == len(lab) == c["fine_dos"]["n_points"] > 10, where
        # 3N-normalized: ∫ g dω ≈ 3 × atoms in the primitive cell (trapezoid on the 2 cm⁻¹ grid)
        integral = 2.0 * (sum(dft) - 0.5 * (dft[0] + dft[-1]))
        assert abs(integral / (3 * c["dft"]["n_atoms_primitive"]) - 1) < 0.02, where


def test_v2_section_counts_origins_per_split_and_is_absent_for_v1():
    """§3.10 (known vs substituted per split, hull energies) for a v2-like pack; nothing for v1."""
    from types import SimpleNamespace

    import numpy as np
    assert datasheet.section_v2_rules(SimpleNamespace(ds=None, a={}, meta={})) == []
    a = dict(origin=np.array(["known", "substituted", "known", "substituted", "known"]),
             e_above_hull_eV=np.array([0.0, 0.05, 0.2, 0.0, 0.0]), ground_state=np.array([1, 0, 1, 1, 1], bool))
    ds = SimpleNamespace(split_codes=np.array([0, 0, 1, 2, 3]))
    meta = dict(v2=dict(rules=dict(stability="x"), counts=dict(excluded_above_hull=7),
                        benchmark=dict(file="b.json", sha256="0" * 64, n_packed=1, n_members=2,
                                       polymorphs_moved_to_test=0)))
    text = "\n".join(datasheet.section_v2_rules(SimpleNamespace(ds=ds, a=a, meta=meta)))
    assert "| train | 2 | 1 | 1 | 50 % |" in text and "| benchmark | 1 | 1 | 0 | 100 % |" in text
    assert "| **all** | 5 | 3 | 2 | 60 % |" in text and "above the hull cut 7" in text
    assert "| known | 3 | 0.000 | 0.160 | 0.200 |" in text and "4 of the 5 materials" in text
