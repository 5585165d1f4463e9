"""Your own structures and DoS as a :class:`~utils.data.dataset.PhononDataset` (``python -m utils.train --data``),
checked by the same validator as every other importer (:mod:`utils.data.schema`)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..spectra import FREQ_CM1
from .dataset import PhononDataset
from ..elements import atomic_number
from .errors import InvalidMaterial, ParseError
from .files import FORMAT_VERSION, sha256_file
from .schema import check_spectrum, check_structure, material_arrays, to_target_grid
from .split import SPLIT_NAMES, element_balanced_split

__all__ = ["USER_FORMAT_DOC", "load_user_dataset"]

USER_FORMAT_DOC = """\
Your own data for `python -m utils.train --data my.json`: one JSON object
    {"materials": [
        {"id": "mp-149",                                   # any unique string
         "structure": {"cell": [[..3..], [..3..], [..3..]],   # Å, rows are lattice vectors
                       "species": ["Si", "Si"],              # or "numbers": [14, 14]
                       "frac_coords": [[0, 0, 0], [0.25, 0.25, 0.25]]},
         #   … or instead of "structure": "cif": "<the text of a CIF file>"
         "freq_cm1": [0, 5, 10, ...],                      # any increasing grid, cm^-1
         "dos": [0.0, 0.01, ...],                          # same length, any normalization
         "split": "train"}                                 # optional: train | valid | test
    ]}
Each DoS is resampled (linear interpolation, 0 outside its grid) onto the model's 51-point 0–1000 cm^-1 grid
and max-normalized. Materials without "split" get an element-balanced one (seed 0)."""

_KEY = dict(cell="structure cell", numbers="structure species/numbers", coords="structure frac_coords",
            freq="freq_cm1", dos="dos")


def load_user_dataset(path: Path | str, seed: int = 0) -> PhononDataset:
    """Read your own structures + DoS (format: ``USER_FORMAT_DOC``) into a :class:`PhononDataset`.

    Raises ``ParseError`` naming the file, the material (index and id) and the problem.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{path}: not a readable JSON file ({exc})") from None
    items = doc.get("materials") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise ParseError(f"{path}: expected an object with a non-empty list 'materials' (see utils.data.USER_FORMAT_DOC)")
    ids, cells, numbers, fracs, doss, given = [], [], [], [], [], []
    for k, item in enumerate(items):
        where = f"{path.name} material {k} ({item.get('id', '?')!r})" if isinstance(item, dict) else f"{path.name} material {k}"
        try:
            cell, z, frac = _user_structure(item)
            freq, dos = check_spectrum(item["freq_cm1"], item["dos"])
            d = to_target_grid(freq, dos)
        except InvalidMaterial as exc:
            raise ParseError(f"{where}: {_KEY[exc.field]}: {exc} (see utils.data.USER_FORMAT_DOC)") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(f"{where}: {exc.__class__.__name__}: {exc} (see utils.data.USER_FORMAT_DOC)") from None
        ids.append(str(item.get("id", f"material-{k}")))
        cells.append(cell), numbers.append(z), fracs.append(frac), doss.append(d)
        given.append(item.get("split"))
    if len(set(ids)) != len(ids):
        raise ParseError(f"{path}: material ids are not unique")
    n = len(ids)
    if all(g is None for g in given):
        split = element_balanced_split([set(z.tolist()) for z in numbers], seed=seed) if n >= 10 else \
            np.array([0] * max(n - 2, 1) + [1, 2][: n - max(n - 2, 1)], np.int8)
    else:
        bad = [g for g in given if g not in SPLIT_NAMES]
        if bad:
            raise ParseError(f"{path}: split must be one of {list(SPLIT_NAMES)} for every material (found {bad[0]!r})")
        split = np.array([SPLIT_NAMES.index(g) for g in given], np.int8)
    nan = np.full(n, np.nan)
    arrays = material_arrays(
        ids, cells, numbers, fracs, doss, structure_types=[""] * n, spacegroups=np.zeros(n, np.int16),
        imaginary_weight=nan, max_freq_cm1=nan.copy(), freq_cm1=FREQ_CM1.copy(), split=np.asarray(split, np.int8),
        meta_json=np.array(json.dumps(dict(format_version=FORMAT_VERSION, version="user", set="user",
                                           file=path.name, counts=dict(packed=n)))))
    return PhononDataset(arrays, version="user", sha256=sha256_file(path), path=path, source="user")


def _user_structure(item: dict):
    """(cell (3,3) Å, numbers (n,), frac (n,3)) from a user item's 'structure' dict or 'cif' text, checked."""
    if "cif" in item:
        from pymatgen.io.cif import CifParser
        s = CifParser.from_str(item["cif"]).parse_structures(primitive=False)[0]
        if not s.is_ordered:
            raise ValueError("partially occupied sites are not supported for training data")
        return check_structure(s.lattice.matrix, np.array(s.atomic_numbers), s.frac_coords)
    st = item["structure"]
    z = np.array([atomic_number(s) for s in st["species"]]) if "species" in st else np.asarray(st["numbers"])
    frac = np.asarray(st["frac_coords"], float).reshape(len(z), 3)
    return check_structure(np.asarray(st["cell"], float).reshape(3, 3), z, frac)
