"""A safe reader of Python/numpy literals (the cells of the original tutorial's CSV): no ``eval``, only literals and
``array(...)`` calls; anything else raises :class:`~utils.data.errors.UnsafeExpression` naming where it was found.

Example:
    >>> parse_literal("{'numbers': array([11, 17]), 'pbc': True}")["numbers"].tolist()
    [11, 17]
"""
from __future__ import annotations

import ast

import numpy as np

from .errors import ParseError, UnsafeExpression

__all__ = ["parse_literal"]

_NAMED_CONSTANTS = {"nan": float("nan"), "inf": float("inf"), "True": True, "False": False, "None": None}
_ARRAY_FUNCS = {"array", "Cell"}          # numpy array repr; ase Cell repr of old ase versions
_SCALARS = {**{t: (int, float) for t in ("float16", "float32", "float64", "longdouble")},
            **{t: (int,) for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")},
            "bool": (bool,), "str_": (str,)}
_DTYPES = {"bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "float_", "int_", "float", "int", "complex64", "complex128"}


def parse_literal(text: str, where: str = "value"):
    """Evaluate a Python/numpy repr *without* ``eval``: only literals and ``array(...)`` calls.

    Accepted: numbers, strings, ``True/False/None``, ``nan``/``inf``, unary ``+``/``-``, lists, tuples,
    dicts, ``array(x)`` / ``array(x, dtype=int32)`` (also ``np.array``/``numpy.array``/``Cell``), which
    become numpy arrays, and numpy 2 scalar reprs such as ``np.float64(1.5)`` / ``np.str_('Ba')``.
    Anything else — names, attributes, other calls, operators, comprehensions, lambdas — raises :class:`UnsafeExpression` naming ``where`` (e.g. "data.csv row 3, column 'structure'").
    """
    if not isinstance(text, str):
        raise ParseError(f"{where}: expected text, got {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = getattr(exc, "msg", None) or type(exc).__name__
        raise ParseError(f"{where}: not a literal ({msg}): {text[:60]!r}") from None
    try:
        return _literal(tree.body, where)
    except RecursionError:
        raise ParseError(f"{where}: nested too deeply") from None


def _is_np(node) -> bool:
    return isinstance(node, ast.Name) and node.id in ("np", "numpy")


def _literal(node, where: str):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        raise UnsafeExpression(f"{where}: constant of type {type(node.value).__name__} is not allowed")
    if isinstance(node, (ast.List, ast.Tuple)):
        vals = [_literal(e, where) for e in node.elts]
        return vals if isinstance(node, ast.List) else tuple(vals)
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                raise UnsafeExpression(f"{where}: '**' in a dict is not allowed")
            key = _literal(k, where)
            if not isinstance(key, (str, int, float)):
                raise ParseError(f"{where}: dict key {key!r} is not a string or number")
            out[key] = _literal(v, where)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        val = _literal(node.operand, where)
        if isinstance(val, bool) or not isinstance(val, (int, float)):
            raise UnsafeExpression(f"{where}: unary {type(node.op).__name__} only applies to numbers")
        return -val if isinstance(node.op, ast.USub) else +val
    if isinstance(node, ast.Name):
        if node.id in _NAMED_CONSTANTS:
            return _NAMED_CONSTANTS[node.id]
        raise UnsafeExpression(f"{where}: name {node.id!r} is not allowed (only literals and array(...))")
    if isinstance(node, ast.Call):
        f = node.func
        scalar = f.attr if isinstance(f, ast.Attribute) and _is_np(f.value) else None
        if scalar in _SCALARS and len(node.args) == 1 and not node.keywords:   # numpy 2 scalar repr
            val = _literal(node.args[0], where)
            if not isinstance(val, _SCALARS[scalar]) or isinstance(val, bool) and scalar != "bool":
                raise UnsafeExpression(f"{where}: np.{scalar}() of {type(val).__name__} is not allowed")
            return val
        ok = (isinstance(f, ast.Name) and f.id in _ARRAY_FUNCS) or (
            isinstance(f, ast.Attribute) and f.attr == "array" and _is_np(f.value))
        if not ok:
            raise UnsafeExpression(f"{where}: call of {ast.unparse(f)[:40]!r} is not allowed "
                                   "(only array(...) is)")
        if len(node.args) != 1 or any(kw.arg != "dtype" for kw in node.keywords):
            raise UnsafeExpression(f"{where}: array(...) takes one value and optionally dtype=")
        dtype = None
        for kw in node.keywords:
            v = kw.value
            name = (v.id if isinstance(v, ast.Name) else v.attr if isinstance(v, ast.Attribute) and _is_np(v.value)
                    else v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else None)
            if name not in _DTYPES:
                raise UnsafeExpression(f"{where}: dtype {ast.unparse(v)[:30]!r} is not allowed")
            dtype = {"float_": "float64", "int_": "int64", "bool_": "bool"}.get(name, name)
        value = _literal(node.args[0], where)
        try:
            return np.asarray(value, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise ParseError(f"{where}: bad array ({exc})") from None
    raise UnsafeExpression(f"{where}: {type(node).__name__} is not allowed (only literals and array(...))")
