"""Tests of utils.data: packing, loading, splits, the original-data downloader and its safe parser.

Everything runs offline on synthetic records and a 3-row fixture CSV served by a local HTTP server on
127.0.0.1. The integrity tests of the real packed dataset run only if data/phonon_dos_*.npz exists
(set PHONON_DOS_DATA_DIR to check a dataset packed elsewhere).
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from utils import data as D
from utils.data.cli import main as data_main
from utils.datagen.pack import pack

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_CSV = Path(__file__).with_name("fixtures") / "original_sample.csv"
# the fixture is not the published file: tests pin its git blob SHA-1 instead (sha1 of b"blob <size>\0" + content)
FIXTURE_BLOB = hashlib.sha1(b"blob %d\0" % len(FIXTURE_CSV.read_bytes()) + FIXTURE_CSV.read_bytes()).hexdigest()
REAL_DIR = Path(os.environ.get("PHONON_DOS_DATA_DIR", D.DATA_DIR))

COARSE = np.linspace(0, 1000, 51)
FINE = np.arange(1001) * 2.0
SITES = [(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5), (0.25, 0.25, 0.25)]


@pytest.fixture(autouse=True)
def _quiet_tqdm(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


# ------------------------------------------------------------------------------------------ helpers
def _gauss(grid, c, s):
    return np.exp(-0.5 * ((grid - c) / s) ** 2)


def fake_record(rid, numbers, centers=None, set_name="main", stable=True, ok=True, light=False, **extra):
    """A record in the labeller's schema with self-consistent spectra (∫ fine = 3N, Σ pdos = fine)."""
    numbers = list(numbers)
    rec = dict(id=rid, prototype=extra.pop("prototype", "fake"), formula="".join(D.symbol(z) for z in numbers),
               set=set_name, ok=ok, wall_s=1.5,
               provenance=dict(labeller="emt", versions=dict(numpy=np.__version__), settings=dict(sigma=5)))
    if not ok:
        rec["reason"] = extra.pop("reason", "volume changed by -30% on relaxation (limit ±25%)")
        rec.update(extra)
        return rec
    rec.update(structure=dict(cell=(np.eye(3) * extra.pop("a", 3.9)).tolist(), numbers=numbers,
                              frac_coords=[list(SITES[i]) for i in range(len(numbers))]),
               relax=dict(converged=True), phonons=dict(supercell=[2, 2, 2]), mesh=[8, 8, 8],
               imaginary_weight=0.0 if stable else 0.05, min_freq_cm1=-1.0, stable=stable,
               seconds=dict(relax=0.1, forces=1.0, dos=0.2, total=1.3))
    els = list(dict.fromkeys(D.symbol(z) for z in numbers))
    centers = centers or {el: 150.0 + 37.0 * (D.atomic_number(el) % 11) for el in els}
    if light:
        centers[els[-1]] = 1400.0
    pdos = {}
    for el in els:
        g = _gauss(FINE, centers[el], 30.0)
        pdos[el] = 3 * numbers.count(D.atomic_number(el)) * g / np.trapezoid(g, FINE)
    fine = sum(pdos.values())
    coarse = sum(3 * numbers.count(D.atomic_number(el)) * _gauss(COARSE, centers[el], 40.0) for el in els) + 1e-3
    w_above = float(fine[FINE > 1000].sum() / fine.sum())
    rec.update(max_freq_cm1=max(centers.values()) + 60, weight_above_1000_cm1=w_above)
    if stable:
        rec.update(dos=(coarse / coarse.max()).tolist(), fine_dos=fine.tolist(),
                   fine_pdos={k: v.tolist() for k, v in pdos.items()})
    rec.update(extra)
    return rec


def write_labels(root: Path, shard_recs, pending_recs=(), failed_recs=()):
    for sub in ("shards", "pending", "failed"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    with gzip.open(root / "shards" / "shard-0000.jsonl.gz", "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in shard_recs) + "\n")
    for r in pending_recs:
        (root / "pending" / f"{r['id']}.json").write_text(json.dumps(r))
    for r in failed_recs:
        (root / "failed" / f"{r['id']}.json").write_text(json.dumps(r))


def synthetic_labels(root: Path):
    """12 packable main materials + duplicate, unstable, failed, light-element, invalid records + 2 alloys."""
    chem = [[11, 17], [12, 8], [19, 35], [37, 53], [55, 17], [20, 9, 9], [38, 22, 8, 8], [29], [13], [26, 27],
            [56, 52], [12, 16]]
    good = [fake_record(f"m{i:02d}", z) for i, z in enumerate(chem)]
    light = fake_record("light-BN", [5, 7], light=True)
    unstable = fake_record("unstable-X", [31, 15], stable=False)
    failed = fake_record("failed-Y", [41, 77], ok=False)
    failed2 = fake_record("failed-Z", [41, 76], ok=False, reason="timed out after 900 s")
    bad = fake_record("bad-integral", [11, 35])
    bad["fine_dos"] = (np.asarray(bad["fine_dos"]) * 0.5).tolist()
    bad["fine_pdos"] = {k: (np.asarray(v) * 0.5).tolist() for k, v in bad["fine_pdos"].items()}
    dup = dict(good[0], formula="DUPLICATE")          # same id again in pending: first occurrence wins
    alloys = [fake_record(f"alloy-SiGe-x{x:.2f}", [14, 14, 32, 32][: 2 + i], set_name="alloys", x=x,
                          series="Si1-xGex", prototype="alloy_Si(Ge)") for i, x in enumerate([0.0, 0.5])]
    write_labels(root, shard_recs=good[:8] + [light, bad, failed2] + alloys,
                 pending_recs=good[8:] + [unstable, dup], failed_recs=[failed])
    return good


# ------------------------------------------------------------------------------------ safe parser
def test_parse_literal_accepts_reprs():
    v = D.parse_literal("{'numbers': array([11, 17]), 'cell': array([[0. , 2.8],\n [2.8, 0. ]]), "
                        "'pbc': array([ True,  True,  True]), 'w': array([1, 2], dtype=int32), 'x': [-1.5, nan, inf],"
                        " 'info': {}}")
    assert v["numbers"].tolist() == [11, 17] and v["cell"].shape == (2, 2) and v["pbc"].dtype == bool
    assert v["w"].dtype == np.int32 and v["x"][0] == -1.5 and np.isnan(v["x"][1]) and v["info"] == {}


@pytest.mark.parametrize("payload", [
    "__import__('os').system('x')",
    "array([1]).tofile('x')",
    "(lambda: 1)()",
    "[x for x in (1, 2)]",
    "1 + 1",
    "os.system",
    "array([1], dtype=object)",
    "np.load('x')",
    "{**{'a': 1}}",
    "getattr(array, '__class__')",
    "array([1], dtype=__import__('os').system('x'))",
    "().__class__.__bases__[0].__subclasses__()",
])
def test_parse_literal_refuses_code(payload):
    with pytest.raises(D.UnsafeExpression):
        D.parse_literal(payload, where="test")


def test_parse_literal_syntax_error_names_location():
    with pytest.raises(D.ParseError, match="row 7"):
        D.parse_literal("[1, 2", where="row 7, column 'phdos'")


# ------------------------------------------------------------------------------------------ splits
def _synthetic_element_sets(n=300, n_el=15, seed=0):
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, n_el + 1)
    p /= p.sum()
    return [set(rng.choice(n_el, size=rng.integers(1, 4), replace=False, p=p).tolist()) for _ in range(n)]


@pytest.mark.parametrize("seed", [0, 1])
def test_split_properties(seed):
    sets = _synthetic_element_sets(seed=seed)
    split = D.element_balanced_split(sets, seed=seed)
    assert split.shape == (300,) and set(np.unique(split)) <= {0, 1, 2}        # every material in exactly one
    idx = [set(np.flatnonzero(split == s)) for s in range(3)]
    assert not (idx[0] & idx[1]) and not (idx[0] & idx[2]) and not (idx[1] & idx[2])
    assert set.union(*idx) == set(range(300))
    frac = np.bincount(split, minlength=3) / 300
    assert np.allclose(frac, D.SPLIT_FRACTIONS, atol=0.015), frac
    assert len({e for s in sets for e in s}) == 15
    assert D.split_balance_violations(sets, split) == []
    counts = Counter(e for s in sets for e in s)
    for e, n_e in counts.items():            # the rule itself, recomputed here
        if n_e >= 10:
            members = [i for i, s in enumerate(sets) if e in s]
            share = np.bincount(split[members], minlength=3) / n_e
            assert np.all(np.abs(share - frac) <= 0.10 + 1e-12), (e, share, frac)
    assert np.array_equal(split, D.element_balanced_split(sets, seed=seed))   # deterministic


def test_split_violation_detected():
    sets = [{"A"}] * 20 + [{"B"}] * 20
    split = np.array([0] * 20 + [1] * 10 + [2] * 10)
    assert any(v.startswith("A:") for v in D.split_balance_violations(sets, split))


# ------------------------------------------------------------------------------- pack and load
@pytest.fixture()
def packed(tmp_path):
    labels, out = tmp_path / "labels", tmp_path / "data"
    good = synthetic_labels(labels)
    res = pack("v0", labels_dir=labels, out_dir=out, seed=0, min_materials_per_element=1)
    return labels, out, good, res


def test_pack_load_round_trip(packed):
    labels, out, good, res = packed
    versions = json.loads((out / "versions.json").read_text())
    main, alloys = out / "phonon_dos_v0.npz", out / "alloys_v0.npz"
    assert versions["v0"]["phonon_dos_v0.npz"] == hashlib.sha256(main.read_bytes()).hexdigest()
    assert versions["v0"]["alloys_v0.npz"] == hashlib.sha256(alloys.read_bytes()).hexdigest()
    assert versions["v0"]["n_materials"] == 12 and versions["v0"]["n_alloys"] == 2 and versions["v0"]["created"]
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))

    ds = D.load_dataset("v0", data_dir=out)
    assert len(ds) == 12 and ds.version == "v0" and ds.sha256 == versions["v0"]["phonon_dos_v0.npz"]
    assert sorted(ds.ids.tolist()) == sorted(r["id"] for r in good)
    np.testing.assert_allclose(ds.freq_cm1, COARSE)
    np.testing.assert_allclose(ds.fine_freq_cm1, FINE)
    by_id = {r["id"]: r for r in good}
    for m in ds:
        r = by_id[m.id]
        assert m.formula == r["formula"] != "DUPLICATE"           # dedupe: the shard copy won
        assert m.n_atoms == len(r["structure"]["numbers"]) and m.numbers.tolist() == r["structure"]["numbers"]
        np.testing.assert_allclose(m.dos, r["dos"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(m.fine_dos, r["fine_dos"], rtol=1e-6, atol=1e-7)
        assert set(m.pdos) == set(r["fine_pdos"])
        for el, v in m.pdos.items():
            np.testing.assert_allclose(v, r["fine_pdos"][el], rtol=1e-6, atol=1e-7)
        assert m.split in D.SPLIT_NAMES and m.structure_type and m.spacegroup > 0
        assert m.max_freq_cm1 == pytest.approx(r["max_freq_cm1"]) and m.imaginary_weight == 0.0
        np.testing.assert_allclose(m.cell, r["structure"]["cell"])
    s = ds[0].structure
    assert len(s) == ds[0].n_atoms and s.lattice.a == pytest.approx(3.9)
    assert ds["m03"].id == "m03" and ds[-1].id == ds.ids[-1]

    meta = ds.meta
    assert meta["counts"]["excluded_light"] == 1
    assert meta["excluded"]["light_modes_above_1000_cm1"]["ids"] == ["light-BN"]
    assert meta["counts"]["invalid"] == 1 and meta["excluded"]["invalid"]["ids"] == ["bad-integral"]
    assert meta["counts"]["duplicates"] == 1 and meta["counts"]["unstable"] == 1 and meta["counts"]["failed"] == 2
    assert sum(meta["failed"]["reasons"].values()) == 2
    assert any("volume changed" in k for k in meta["failed"]["reasons"])
    assert meta["imaginary_weight"]["n"] == 15 and meta["imaginary_weight"]["n_above_1pct"] == 1   # incl. unstable
    assert meta["labeller"] == "emt" and meta["settings"] == {"sigma": 5}
    assert meta["structure_types"]["n"] == len(set(ds.structure_types.tolist()))
    assert meta["grids"]["dos"]["n"] == 51 and meta["grids"]["fine_dos"]["n"] == 1001
    assert "unstable-X" not in ds._id_index and "failed-Y" not in ds._id_index and "light-BN" not in ds._id_index

    assert sum(ds.split_sizes().values()) == 12
    for name in D.SPLIT_NAMES:
        assert all(ds[int(i)].split == name for i in ds.split(name))
    assert ds.elements()["Cl"] == 2
    df = ds.to_dataframe()
    assert len(df) == 12 and {"id", "formula", "split", "dos", "fine_dos", "species"} <= set(df.columns)

    al = D.load_alloys("v0", data_dir=out)
    assert len(al) == 2 and {m.x for m in al} == {0.0, 0.5} and all(m.series == "Si1-xGex" for m in al)
    assert all(m.split == "test" for m in al)


def test_tampered_file_and_versions(packed):
    labels, out, _, _ = packed
    with pytest.raises(D.DataError, match="already packed"):
        pack("v0", labels_dir=labels, out_dir=out, min_materials_per_element=1)
    pack("v2", labels_dir=labels, out_dir=out, min_materials_per_element=1)
    pack("v10", labels_dir=labels, out_dir=out, min_materials_per_element=1)
    assert D.available_versions(out) == ["v0", "v2", "v10"] and D.load_dataset(data_dir=out).version == "v10"
    path = out / "phonon_dos_v2.npz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(D.ChecksumError) as err:
        D.load_dataset("v2", data_dir=out)
    msg = str(err.value)
    assert "phonon_dos_v2.npz" in msg and "re-checkout" in msg and "re-pack" in msg
    pack("v2", labels_dir=labels, out_dir=out, force=True, min_materials_per_element=1)
    assert len(D.load_dataset("v2", data_dir=out)) == 12
    with pytest.raises(D.DataError, match="v7"):
        D.load_dataset("v7", data_dir=out)
    (out / "phonon_dos_v0.npz").unlink()
    with pytest.raises(D.DataError, match="missing"):
        D.load_dataset("v0", data_dir=out)


def test_pack_without_main_records(tmp_path):
    write_labels(tmp_path / "labels", [fake_record("u", [11, 17], stable=False)])
    with pytest.raises(D.DataError, match="no packable"):
        pack("v0", labels_dir=tmp_path / "labels", out_dir=tmp_path / "out", min_materials_per_element=1)
    assert not (tmp_path / "out" / "versions.json").exists()


def test_validate_record():
    r = fake_record("a", [11, 17])
    assert D.validate_record(r) is None
    assert "max-normalized" in D.validate_record(dict(r, dos=(np.asarray(r["dos"]) * 2).tolist()))
    assert "51" in D.validate_record(dict(r, dos=r["dos"][:50]))
    assert "1..118" in D.validate_record(dict(r, structure=dict(r["structure"], numbers=[0, 17])))
    assert "finite" in D.validate_record(dict(r, fine_dos=[float("nan")] * 1001))


def test_cli_summary(packed, capsys):
    _, out, _, _ = packed
    assert data_main(["--summary", "--data-dir", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    s = json.loads(lines[0])
    assert s["version"] == "v0" and s["n_materials"] == 12 and sum(s["split"].values()) == 12
    assert s["grid"] == {"n": 51, "min_cm1": 0.0, "max_cm1": 1000.0}
    assert s["atoms_per_cell"] == {"min": 1, "max": 4} and s["max_imaginary_weight"] == 0.0
    assert {"n_elements", "n_structure_types", "elements_with_ge5"} <= set(s)
    labels = out.parent / "labels"
    assert data_main(["pack", "--version", "v1", "--labels-dir", str(labels), "--out-dir", str(out),
                   "--min-per-element", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["files"]["phonon_dos_v1.npz"]["n_materials"] == 12 and D.latest_version(out) == "v1"
    assert data_main(["pack", "--version", "v1", "--labels-dir", str(labels), "--out-dir", str(out),
                   "--min-per-element", "1"]) == 1
    assert "already packed" in capsys.readouterr().err


def test_module_entry_point_and_lowest_layer(packed):
    """`python -m utils.data` works, and importing utils.data pulls in neither torch nor utils.graphs, nor the
    packer and label store (utils.datagen: what produces the shipped files)."""
    _, out, _, _ = packed
    code = ("import sys, utils.data; bad = [m for m in ('torch', 'utils.graphs', 'pandas', 'pymatgen', 'utils.datagen') "
            "if m in sys.modules]; assert not bad, bad")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
    res = subprocess.run([sys.executable, "-m", "utils.data", "--summary", "--data-dir", str(out)], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True)
    assert json.loads(res.stdout)["n_materials"] == 12 and res.stdout.count("\n") == 1


# ------------------------------------------------------------------ original data over local HTTP
class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    mode = {"truncate_once": False, "ignore_range": False}
    log: list = []

    def log_message(self, *args):           # keep test output quiet
        pass

    def do_GET(self):
        type(self).log.append((self.path, self.headers.get("Range")))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if m and not self.mode["ignore_range"] and int(m.group(1)) < len(body):
            start = int(m.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.mode["truncate_once"]:
            self.mode["truncate_once"] = False
            self.wfile.write(body[start:start + (len(body) - start) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture()
def server():
    _Handler.files = {"/data.csv": FIXTURE_CSV.read_bytes()}
    _Handler.mode = {"truncate_once": False, "ignore_range": False}
    _Handler.log = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler
    httpd.shutdown()
    httpd.server_close()


def test_original_success_and_cache(server, tmp_path, capsys, monkeypatch):
    base, h = server
    cache = tmp_path / "cache"
    ds = D.load_original(url=f"{base}/data.csv", cache_dir=cache, timeout=5, expected_git_blob=FIXTURE_BLOB)
    assert capsys.readouterr().err == ""                                        # TQDM_DISABLE=1 silences the bar
    sha = hashlib.sha256(FIXTURE_CSV.read_bytes()).hexdigest()
    assert (cache / "data.csv").read_bytes() == FIXTURE_CSV.read_bytes() and not (cache / "data.csv.part").exists()
    assert json.loads((cache / "data.csv.sha256.json").read_text())["sha256"] == sha == ds.sha256
    assert len(ds) == 3 and ds.version == "original" and ds.source == "original"
    assert ds.ids.tolist() == ["mp-1000", "mp-10044", "mp-1008223"]
    m = ds["mp-10044"]
    assert m.formula == "BAs" and m.n_atoms == 2 and m.fine_dos is None and m.pdos is None
    assert m.dos.shape == (51,) and m.dos.max() == pytest.approx(1.0) and m.structure_type == "216:ad"
    assert ds["mp-1000"].structure_type == "225:ab" and sorted(ds["mp-1000"].species) == ["Ba", "Te"]
    np.testing.assert_allclose(ds["mp-1000"].structure.lattice.abc, [7.07 / 2 ** 0.5] * 3, rtol=1e-6)
    assert sum(ds.split_sizes().values()) == 3
    n_requests = len(h.log)
    assert (cache / "data.csv.parsed.npz").exists()

    from utils.data import original

    def _no_parse(path):
        raise AssertionError("parsed again despite the cache")

    monkeypatch.setattr(original, "_parse_original_arrays", _no_parse)   # the module that calls it
    ds2 = D.load_dataset(source="original", url=f"{base}/data.csv", cache_dir=cache, expected_git_blob=FIXTURE_BLOB)
    assert len(h.log) == n_requests and ds2.sha256 == sha                       # served from the caches
    assert ds2.ids.tolist() == ds.ids.tolist() and np.array_equal(ds2.dos, ds.dos)
    assert ds2.structure_types.tolist() == ds.structure_types.tolist()
    assert np.array_equal(ds2.split_codes, ds.split_codes)


def test_original_progress_bar(server, tmp_path, capsys, monkeypatch):
    base, _ = server
    monkeypatch.delenv("TQDM_DISABLE")
    D.download_original(url=f"{base}/data.csv", cache_dir=tmp_path, timeout=5, expected_git_blob=FIXTURE_BLOB)
    assert "downloading data.csv" in capsys.readouterr().err


def test_original_interrupted_then_resumed(server, tmp_path):
    base, h = server
    cache = tmp_path / "cache"
    h.mode["truncate_once"] = True
    with pytest.raises(D.DownloadInterrupted) as err:
        D.download_original(url=f"{base}/data.csv", cache_dir=cache, timeout=5, expected_git_blob=FIXTURE_BLOB)
    assert "interrupted" in str(err.value) and "load_dataset()" in str(err.value)
    assert not (cache / "data.csv").exists() and (cache / "data.csv.part").exists()
    assert 0 < (cache / "data.csv.part").stat().st_size < FIXTURE_CSV.stat().st_size
    path = D.download_original(url=f"{base}/data.csv", cache_dir=cache, timeout=5, expected_git_blob=FIXTURE_BLOB)
    assert h.log[-1][1] is not None                                             # resumed with a Range request
    assert path.read_bytes() == FIXTURE_CSV.read_bytes() and not (cache / "data.csv.part").exists()


def test_original_restarts_if_server_ignores_range(server, tmp_path):
    base, h = server
    cache = tmp_path / "cache"
    h.mode["truncate_once"] = True
    with pytest.raises(D.DownloadInterrupted):
        D.download_original(url=f"{base}/data.csv", cache_dir=cache, timeout=5, expected_git_blob=FIXTURE_BLOB)
    h.mode["ignore_range"] = True
    path = D.download_original(url=f"{base}/data.csv", cache_dir=cache, timeout=5, expected_git_blob=FIXTURE_BLOB)
    assert path.read_bytes() == FIXTURE_CSV.read_bytes()


def test_original_corrupt_cache(server, tmp_path):
    base, _ = server
    cache = tmp_path / "cache"
    path = D.download_original(url=f"{base}/data.csv", cache_dir=cache, timeout=5, expected_git_blob=FIXTURE_BLOB)
    good = hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_bytes(path.read_bytes().replace(b"mp-1000,", b"mp-1001,", 1))
    bad = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(D.ChecksumError) as err:
        D.load_original(url=f"{base}/data.csv", cache_dir=cache, expected_git_blob=FIXTURE_BLOB)
    assert str(path) in str(err.value) and good in str(err.value) and bad in str(err.value)


def test_original_expected_sha_mismatch(server, tmp_path):
    base, _ = server
    with pytest.raises(D.ChecksumError, match="0" * 64):
        D.download_original(url=f"{base}/data.csv", cache_dir=tmp_path, expected_sha256="0" * 64, timeout=5,
                            expected_git_blob=FIXTURE_BLOB)
    assert not (tmp_path / "data.csv").exists() and not (tmp_path / "data.csv.part").exists()


def _blob(body: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()


def test_original_is_pinned_to_the_published_file(server, tmp_path):
    """Only the published data.csv (git blob a2042852…) is accepted: downloaded or placed in the cache."""
    base, _ = server
    cache = tmp_path / "cache"
    with pytest.raises(D.ChecksumError) as err:                   # a 3-row file served as data.csv
        D.load_original(url=f"{base}/data.csv", cache_dir=cache, timeout=5)
    msg = str(err.value)
    assert "a20428522cf81f93207db1dcdb1de22e5b1b4cd6" in msg and FIXTURE_BLOB in msg and "not the original file" in msg
    assert D.ORIGINAL_GIT_BLOB_SHA1 == "a20428522cf81f93207db1dcdb1de22e5b1b4cd6"
    assert D.git_blob_sha1(FIXTURE_CSV) == _blob(FIXTURE_CSV.read_bytes()) == FIXTURE_BLOB
    assert not (cache / "data.csv").exists() and not (cache / "data.csv.part").exists()
    cache.mkdir(exist_ok=True)
    (cache / "data.csv").write_bytes(FIXTURE_CSV.read_bytes())   # … or placed in the cache by hand
    with pytest.raises(D.ChecksumError, match="not the original file"):
        D.load_dataset(source="original", url=f"{base}/data.csv", cache_dir=cache)
    assert not (cache / "data.csv.sha256.json").exists()         # the wrong file's hash is not recorded
    with pytest.raises(D.ChecksumError, match="not the original file"):
        D.download_original(url=f"{base}/data.csv", cache_dir=cache, expected_git_blob="0" * 40)


def test_original_malformed_cell(server, tmp_path):
    base, h = server
    text = FIXTURE_CSV.read_text()
    rows = text.split("\nmp-")
    rows[2] = rows[2].replace("[0.0, 20.0, 40.0", "[0.0, 20.0, oops", 1)        # row 2 = mp-10044's phfreq
    h.files["/bad/data.csv"] = "\nmp-".join(rows).encode()
    with pytest.raises(D.ParseError) as err:
        D.load_original(url=f"{base}/bad/data.csv", cache_dir=tmp_path, timeout=5,
                        expected_git_blob=_blob(h.files["/bad/data.csv"]))
    msg = str(err.value)
    assert "row 2" in msg and "mp-10044" in msg and "'phfreq'" in msg


def test_original_payload_in_cell_is_not_executed(server, tmp_path):
    base, h = server
    marker = tmp_path / "pwned"
    text = FIXTURE_CSV.read_text()
    start = text.index('"{', text.index("mp-1008223"))
    end = text.index('}"', start) + 2
    payload = f"\"__import__('pathlib').Path('{marker}').touch()\""
    h.files["/evil/data.csv"] = (text[:start] + payload + text[end:]).encode()
    with pytest.raises(D.UnsafeExpression, match="row 3.*structure"):
        D.load_original(url=f"{base}/evil/data.csv", cache_dir=tmp_path, timeout=5,
                        expected_git_blob=_blob(h.files["/evil/data.csv"]))
    assert not marker.exists()


def test_original_wrong_lengths_and_columns(tmp_path):
    import pandas as pd

    df = pd.read_csv(FIXTURE_CSV, dtype=str, keep_default_na=False)
    df.loc[1, "phdos"] = str(list(np.ones(50)))
    df.to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(D.ParseError, match=r"row 2 .*'phdos'.*50 values"):
        D.parse_original_csv(tmp_path / "short.csv")
    df.drop(columns=["pdos"]).to_csv(tmp_path / "nopdos.csv", index=False)
    with pytest.raises(D.ParseError, match="missing column"):
        D.parse_original_csv(tmp_path / "nopdos.csv")


def test_original_resampled_grid(tmp_path):
    import pandas as pd

    df = pd.read_csv(FIXTURE_CSV, dtype=str, keep_default_na=False)
    freq = np.linspace(0, 1200, 121)                          # a finer, wider grid than the target
    df["phfreq"] = str(freq.tolist())
    df["phdos"] = str((0.5 * _gauss(freq, 400.0, 50.0)).tolist())
    df["pdos"] = "{}"
    df.to_csv(tmp_path / "grid.csv", index=False)
    ds = D.parse_original_csv(tmp_path / "grid.csv")
    assert ds.dos.shape == (3, 51) and np.allclose(ds.dos.max(axis=1), 1.0)
    assert COARSE[np.argmax(ds.dos[0])] == 400.0


def test_original_offline(tmp_path):
    with socket.socket() as s:                   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(D.DatasetUnavailable, match=r"load_dataset\(\)"):
        D.load_original(url=f"http://127.0.0.1:{port}/data.csv", cache_dir=tmp_path, timeout=5)
    assert not (tmp_path / "data.csv").exists()


def test_original_http_error(server, tmp_path):
    base, _ = server
    with pytest.raises(D.DatasetUnavailable, match="404"):
        D.download_original(url=f"{base}/missing.csv", cache_dir=tmp_path, timeout=5)


# ------------------------------------------------------------------------ the real packed dataset
def _real_files():
    return sorted(REAL_DIR.glob("phonon_dos_*.npz"))


real = pytest.mark.skipif(not _real_files(), reason=f"no packed dataset ({REAL_DIR}/phonon_dos_*.npz): "
                          "run `python -m utils.data pack --version v0` after labelling")


@pytest.fixture(scope="module")
def real_ds():
    t0 = time.perf_counter()
    ds = D.load_dataset(data_dir=REAL_DIR)
    dt = time.perf_counter() - t0
    print(f"\nloaded {ds} in {dt:.3f} s")
    return ds, dt


@real
def test_real_load_time(real_ds):
    ds, dt = real_ds
    assert dt < 5.0, f"load took {dt:.2f} s (budget 2 s for ~1,500 materials)"


@real
def test_real_grids_and_normalization(real_ds):
    ds, _ = real_ds
    a = ds.arrays
    np.testing.assert_allclose(ds.freq_cm1, COARSE)
    np.testing.assert_allclose(ds.fine_freq_cm1, FINE)
    n = len(ds)
    assert ds.dos.shape == (n, 51) and ds.dos.dtype == np.float32
    assert ds.fine_dos.shape == (n, 1001) and ds.fine_dos.dtype == np.float32
    for key, arr in a.items():
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
            assert np.isfinite(arr).all(), f"non-finite values in {key}"
    assert np.allclose(ds.dos.max(axis=1), 1.0, atol=1e-6) and ds.dos.min() >= 0
    integral = np.trapezoid(ds.fine_dos.astype(float), FINE, axis=1)
    np.testing.assert_allclose(integral / (3 * a["n_atoms"]), 1.0, atol=0.02)
    pdos_sum = np.zeros_like(ds.fine_dos, dtype=float)
    np.add.at(pdos_sum, a["pdos_material"], a["pdos_values"])
    assert np.abs(pdos_sum - ds.fine_dos).max() <= 1e-3 * ds.fine_dos.max()
    assert a["numbers"].min() >= 1 and a["numbers"].max() <= 118 and a["n_atoms"].min() >= 1
    assert a["atom_offsets"][-1] == len(a["numbers"]) == a["n_atoms"].sum()
    assert (a["weight_above_1000_cm1"] <= D.LIGHT_MODE_LIMIT).all()
    assert (a["imaginary_weight"] <= 0.01).all()
    assert len(set(ds.ids.tolist())) == n


@real
def test_real_splits(real_ds):
    ds, _ = real_ds
    n = len(ds)
    parts = [set(ds.split(s).tolist()) for s in D.SPLIT_NAMES]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set.union(*parts) == set(range(n))
    if n >= 200:   # train/valid/test shares of the materials outside the benchmark (polymorphs of its members go to test)
        sizes = np.array([len(p) for p in parts[:3]], float)
        frac = sizes / sizes.sum()
        assert np.allclose(frac, D.SPLIT_FRACTIONS, atol=0.03), frac
    # the balance rule holds for the materials the splitter assigned: not the benchmark members, nor the other
    # polymorphs of their compositions, which go to test by rule
    bench_formulas = {m.formula for m in ds.split("benchmark", materials=True)}
    free = [i for i in range(n) if ds.split_codes[i] != 3 and str(ds.arrays["formulas"][i]) not in bench_formulas]
    sets = [ds.species(i) for i in free]
    assert D.split_balance_violations(sets, ds.split_codes[free]) == []


@real
def test_real_alloys_and_meta(real_ds):
    ds, _ = real_ds
    assert ds.meta["version"] == ds.version and ds.meta["counts"]["packed"] == len(ds)
    assert ds.meta["structure_types"]["n"] == len(set(ds.structure_types.tolist()))
    if f"alloys_{ds.version}.npz" in json.loads((REAL_DIR / "versions.json").read_text())[ds.version]:
        al = D.load_alloys(ds.version, data_dir=REAL_DIR)
        assert all(0.0 <= m.x <= 1.0 and m.split == "test" for m in al)


@pytest.mark.skipif(not (REAL_DIR / "phonon_dos_v1.npz").exists(), reason="v1 not packed")
def test_v1_meets_the_dataset_targets():
    """v1: ≥ 1,200 stable materials, ≥ 70 elements each in ≥ 5 materials, ≥ 15 structure types, 1 to ≥ 20 atoms."""
    ds = D.load_dataset("v1", data_dir=REAL_DIR)
    s = ds.summary()
    assert s["n_materials"] >= 1200 and s["n_structure_types"] >= 15
    counts = Counter(z for i in range(len(ds)) for z in ds.species(i))
    assert len(counts) >= 70 and min(counts.values()) >= 5, sorted(counts.items(), key=lambda kv: kv[1])[:5]
    assert s["n_elements"] == len(counts) == s["elements_with_ge5"]
    assert ds.arrays["n_atoms"].min() == 1 and ds.arrays["n_atoms"].max() >= 20
    assert ds.meta["settings"]["supercell_min_length_A"] == 8.0


@pytest.mark.skipif(not (REAL_DIR / "phonon_dos_v2.npz").exists(), reason="v2 not packed")
def test_v2_meets_the_dataset_targets():
    """v2: ≥ 2,000 stable materials, ≥ 75 elements, ≥ 40 structure types, ≥ 300 known crystals, and a known-crystal
    benchmark split of ≥ 60 members whose compositions appear nowhere in train/valid."""
    ds = D.load_dataset("v2", data_dir=REAL_DIR)
    s = ds.summary()
    assert s["n_materials"] >= 2000 and s["n_elements"] >= 75 and s["n_structure_types"] >= 40, s
    assert s["origin"]["known"] >= 300 and s["split"]["benchmark"] >= 60, s
    bench = ds.split("benchmark", materials=True)
    assert all(m.known for m in bench)
    seen = {m.formula for name in ("train", "valid") for m in ds.split(name, materials=True)}
    assert not seen & {m.formula for m in bench}
    assert (ds.arrays["min_freq_cm1"] >= -30).all() and (ds.arrays["imaginary_weight"] <= 0.01).all()


def test_readme_states_the_latest_dataset_summary():
    """README § The dataset quotes `python -m utils.data --summary` of the latest version."""
    s = D.load_dataset(data_dir=REAL_DIR).summary()
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    sp = s["split"]
    for text in (f"Version **{s['version']}** (`python -m utils.data --summary`): **{s['n_materials']:,} dynamically "
                 f"stable crystals, {s['n_elements']} elements", f"{s['n_structure_types']} structure types",
                 f"split {sp['train']:,} / {sp['valid']:,} / {sp['test']:,}"):
        assert text in readme, text
    if "origin" in s:
        assert f"{s['origin']['known']} known crystals" in readme and f"benchmark of {sp['benchmark']}" in readme


def test_pack_excludes_atoms_isolated_at_the_graph_cutoff(tmp_path):
    """bcc Cs-like: the nearest neighbour (here 6 Å) lies beyond r_max = 4 Å, so no graph can be built."""
    labels, out = tmp_path / "labels", tmp_path / "data"
    recs = [fake_record(f"m{i}", [11 + i % 3, 17]) for i in range(12)] + [fake_record("lonely", [55], a=6.0)]
    (labels / "pending").mkdir(parents=True)
    for r in recs:
        (labels / "pending" / f"{r['id']}.json").write_text(json.dumps(r))
    pack("v0", labels_dir=labels, out_dir=out, seed=0, min_materials_per_element=1)
    ds = D.load_dataset("v0", data_dir=out)
    assert "lonely" not in ds.ids.tolist() and len(ds) == 12
    assert ds.meta["excluded"]["isolated_at_r_max"]["ids"] == ["lonely"]
    assert ds.meta["counts"]["excluded_isolated"] == 1


def test_pack_applies_the_rare_element_rule_by_default(tmp_path):
    """Default: 12 materials, each element in 1–2 of them → nothing left, and the error says why and what to do."""
    labels = tmp_path / "labels"
    synthetic_labels(labels)
    with pytest.raises(D.DataError, match=r"fewer than 5 materials \(.*Na.*\).*--min-per-element 1"):
        pack("v0", labels_dir=labels, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "versions.json").exists()


def test_drop_rare_elements_repeats_until_every_element_has_enough():
    """Na occurs once: its material goes; that leaves Cl in 4 materials, so Cl's go too; O (5) stays."""
    def rec(i, zs):
        return dict(id=f"m{i}", structure=dict(numbers=list(zs)))
    recs = [rec(0, [11, 17])] + [rec(i, [12, 17]) for i in range(1, 5)] + [rec(i, [12, 8]) for i in range(5, 10)]
    keep, ids, els = D.drop_rare_elements(recs, min_materials=5)
    assert ids == ["m0", "m1", "m2", "m3", "m4"] and els == ["Na", "Cl"]
    assert [r["id"] for r in keep] == [f"m{i}" for i in range(5, 10)]
    assert D.drop_rare_elements(keep, min_materials=5)[1] == []          # nothing left to drop


# ------------------------------------------------------------------ one validator, one label store
def _user_json(path: Path, structure: dict, freq=None, dos=None) -> Path:
    freq = list(COARSE) if freq is None else freq
    dos = list(_gauss(COARSE, 300, 50)) if dos is None else dos
    path.write_text(json.dumps(dict(materials=[dict(id="x-1", structure=structure, freq_cm1=freq, dos=dos)])))
    return path


def test_every_importer_refuses_a_bad_structure_with_the_same_check(tmp_path):
    """The packer's record check and the user-JSON importer go through utils.data.schema.check_structure."""
    bad_z = dict(cell=(np.eye(3) * 4).tolist(), numbers=[0, 17], frac_coords=[[0, 0, 0], [.5, .5, .5]])
    assert "atomic numbers outside 1..118" in D.validate_record(dict(fake_record("a", [11, 17]), structure=bad_z))
    with pytest.raises(D.ParseError, match=r"material 0 \('x-1'\).*atomic numbers outside 1\.\.118"):
        D.load_user_dataset(_user_json(tmp_path / "z.json", bad_z))
    flat = dict(bad_z, numbers=[11, 17], cell=[[4, 0, 0], [0, 4, 0], [0, 0, 0]])       # singular cell
    assert "non-singular" in D.validate_record(dict(fake_record("a", [11, 17]), structure=flat))
    with pytest.raises(D.ParseError, match="non-singular"):
        D.load_user_dataset(_user_json(tmp_path / "cell.json", flat))
    good = dict(bad_z, numbers=[11, 17])
    with pytest.raises(D.ParseError, match="dos: 50 values for 51 frequencies"):
        D.load_user_dataset(_user_json(tmp_path / "dos.json", good, dos=[0.1] * 50))
    with pytest.raises(D.ParseError, match="freq_cm1: expected an increasing list"):
        D.load_user_dataset(_user_json(tmp_path / "freq.json", good, freq=list(COARSE[::-1])))
    ds = D.load_user_dataset(_user_json(tmp_path / "ok.json", good))
    assert ds[0].formula == "NaCl" and ds.dos.max() == 1.0 and ds.arrays["numbers"].tolist() == [11, 17]


def test_pack_names_a_truncated_shard(tmp_path):
    """The packer reads the label store through utils.datagen.store: a cut shard is a DataError naming the file."""
    labels = tmp_path / "labels"
    write_labels(labels, [fake_record(f"m{i}", [11, 17]) for i in range(3)])
    shard = labels / "shards" / "shard-0000.jsonl.gz"
    shard.write_bytes(shard.read_bytes()[:200])
    with pytest.raises(D.DataError, match=r"shard-0000\.jsonl\.gz: unreadable.*truncated"):
        pack("v0", labels_dir=labels, out_dir=tmp_path / "out", min_materials_per_element=1)
    assert not (tmp_path / "out" / "versions.json").exists()
