"""Validate whole tables against a config's JSON Schema, column by column.

Checking 257k rows one dict at a time with ``jsonschema`` takes tens of seconds; the same
keywords evaluated as Arrow compute kernels over each column take a fraction of that and
reject exactly the same rows (tests compare both on corrupted data). Supported keywords:
``type`` (with null), ``enum``, ``minLength``, ``maxLength``, ``pattern``, ``minimum``,
``maximum``, ``items``, ``minItems``, ``maxItems``, ``uniqueItems``, ``properties``,
``required`` and ``additionalProperties: false``. A schema using anything else is refused,
so a check can never be silently skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.schema import resolve_refs
from builders.stages.normalizers.text import string_offsets
from builders.stages.writer import single_chunk

_ANNOTATIONS = {"description", "title", "x-dtype", "x-taxonomy", "$comment", "examples", "default"}
_CHECKED = {
    "type", "enum", "minLength", "maxLength", "pattern", "minimum", "maximum", "items",
    "minItems", "maxItems", "uniqueItems", "properties", "required", "additionalProperties",
}
_ARROW_KINDS = {
    "string": (pa.types.is_string, pa.types.is_large_string),
    "integer": (pa.types.is_integer,),
    "number": (pa.types.is_floating, pa.types.is_integer),
    "boolean": (pa.types.is_boolean,),
    "array": (pa.types.is_list, pa.types.is_large_list),
    "object": (pa.types.is_struct,),
}


@dataclass(frozen=True, order=True)
class RowError:
    """One invalid value: the row (0-based in the table), the field path and what is wrong."""

    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


_FIXED_HEX = re.compile(r"\^([A-Za-z0-9_-]*)\[0-9a-f\]\{([1-9][0-9]*)\}\$")
"""A pattern of a literal head and a fixed count of lowercase hex digits: the ids (``^rule-[0-9a-f]{16}$``)."""
_HEX_DIGITS = b"0123456789abcdef"


def _all_fixed_hex(arr: pa.Array, pattern: str) -> bool:
    """Whether every cell of ``arr`` matches ``pattern`` when it is a :data:`_FIXED_HEX` pattern, read off
    the bytes: every cell is as long as the pattern allows, starts with its head and ends in hex digits.
    A few times faster than the regex on a column of ids; ``False`` (the regex decides, and names the rows)
    for any other pattern, any null, or any cell that may not match."""
    form = _FIXED_HEX.fullmatch(pattern)
    if form is None or arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return False
    head, digits = form.group(1).encode(), int(form.group(2))
    width, n = len(head) + digits, len(arr)
    offsets = string_offsets(arr)
    if not n or int(offsets[-1] - offsets[0]) != n * width or (np.diff(offsets) != width).any():
        return False
    data = memoryview(arr.buffers()[2])[offsets[0]:offsets[-1]]
    heads = np.frombuffer(data, np.uint8).reshape(n, width)[:, :len(head)]
    if not (heads == np.frombuffer(head, np.uint8)).all():
        return False
    # Each cell starts with the head; what is not a hex digit must then be the heads' own letters.
    return bytes(data).translate(None, _HEX_DIGITS) == head.translate(None, _HEX_DIGITS) * n


class SchemaError(ValueError):
    """The table cannot be checked at all (missing or mistyped column, unsupported keyword)."""


def _types(prop: dict) -> list[str]:
    declared = prop.get("type")
    if declared is None:
        raise SchemaError("every property needs a 'type'")
    return [declared] if isinstance(declared, str) else list(declared)


def _rules_of(prop: dict) -> str:
    """What a property checks, without its annotations: equal for properties that check the same."""
    if isinstance(prop, dict):
        return "{" + ",".join(f"{k!r}:{_rules_of(v)}" for k, v in sorted(prop.items()) if k not in _ANNOTATIONS) + "}"
    return repr(prop)


def _rows(mask: pa.Array) -> list[int]:
    mask = pc.fill_null(mask, False)
    return pc.indices_nonzero(mask).to_pylist()


_NEAR = 64
"""Lists up to this long are searched for a duplicate item by comparing each item with the next few."""


def _rows_with_duplicates(values: pa.Array, parents: np.ndarray, longest: int,
                          encoded: pa.DictionaryArray | None = None) -> list[int]:
    """The rows (sorted) whose list holds a non-null item twice; ``values``: the lists' items,
    ``parents``: the row of each item, ``longest``: the longest list's length, ``encoded``: the items
    dictionary-encoded, if done already.

    Items of a row are next to each other, so a list of at most :data:`_NEAR` items is searched by
    comparing each item with the next ``longest - 1``: a few passes over the items, where hashing
    every (row, item) pair takes a tenth of a second for a quarter of a million rows.
    """
    encoded = values.dictionary_encode() if encoded is None else encoded
    codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    valid = pc.is_valid(encoded.indices).to_numpy(zero_copy_only=False)
    codes[~valid] = -1 - np.flatnonzero(~valid)  # nulls never match: they are not counted as items
    if longest > _NEAR:
        keys = parents.astype(np.int64) * (len(encoded.dictionary) + len(codes)) + codes + len(codes)
        keys.sort()
        return np.unique(keys[1:][keys[1:] == keys[:-1]] // (len(encoded.dictionary) + len(codes))).tolist()
    found = np.zeros(int(parents[-1]) + 1, bool)
    for step in range(1, longest):
        same = (codes[step:] == codes[:-step]) & (parents[step:] == parents[:-step])
        found[parents[step:][same]] = True
    return np.flatnonzero(found).tolist()


def _length_for_bounds(arr: pa.Array, low: int | None, high: int | None) -> pa.Array:
    """Each string's length in characters as far as the bounds ``low`` and ``high`` can tell: its length
    in bytes (read off the offsets), except where a character's one to four bytes in UTF-8 leave the
    answer open; there its characters are counted (which reads every byte)."""
    nbytes = pc.binary_length(arr)
    open_ = []
    if low is not None:
        open_.append(pc.and_(pc.greater_equal(nbytes, low), pc.less(nbytes, 4 * low)))
    if high is not None:
        open_.append(pc.and_(pc.greater(nbytes, high), pc.less_equal(nbytes, 4 * high)))
    unsure = open_[0] if len(open_) == 1 else pc.or_(*open_)
    return pc.if_else(unsure, pc.utf8_length(arr), nbytes) if pc.any(unsure).as_py() else nbytes


class TableValidator:
    """Checks every row of an Arrow table against one object schema."""

    def __init__(self, schema: dict) -> None:
        self.schema = resolve_refs(schema, schema)
        self._check_supported(self.schema, "$")

    def _check_supported(self, node: dict, where: str) -> None:
        unknown = set(node) - _CHECKED - _ANNOTATIONS - {"$schema", "$id"}
        if unknown:
            raise SchemaError(f"{where}: unsupported schema keywords {sorted(unknown)}")
        for name, sub in node.get("properties", {}).items():
            self._check_supported(sub, f"{where}.{name}")
        if "items" in node:
            self._check_supported(node["items"], f"{where}[]")

    def validate(self, table: pa.Table, *, partial: bool = False) -> list[RowError]:
        """All row errors, sorted by row. ``partial`` checks only the columns present."""
        props = self.schema["properties"]
        extra = [c for c in table.column_names if c not in props]
        if extra and self.schema.get("additionalProperties") is False:
            raise SchemaError(f"columns not in the schema: {extra}")
        missing = [name for name in self.schema.get("required", []) if name not in table.column_names]
        if missing and not partial:
            raise SchemaError(f"required columns missing: {missing}")
        errors: list[RowError] = []
        checked: dict[tuple, tuple[str, list[RowError]]] = {}
        for name, prop in props.items():
            if name not in table.column_names:
                continue
            column = single_chunk(table.column(name))
            # A column holding another's data under the same rules (an id that is its own cluster's,
            # a text that is its own original) has that column's errors: checked once.
            same = (_rules_of(prop), column.type, column.offset, len(column),
                    *(b.address if b else None for b in column.buffers()))
            if same in checked:
                first, found = checked[same]
                errors += [RowError(e.row, name + e.field[len(first):], e.message) for e in found]
            else:
                found = self._check(column, prop, name)
                checked[same] = name, found
                errors += found
        return sorted(errors)

    def _check(self, arr: pa.Array, prop: dict, path: str) -> list[RowError]:
        types = _types(prop)
        kinds = [t for t in types if t != "null"]
        if len(kinds) != 1:
            raise SchemaError(f"{path}: exactly one non-null type is supported, got {types}")
        kind = kinds[0]
        if not pa.types.is_null(arr.type) and not any(f(arr.type) for f in _ARROW_KINDS[kind]):
            raise SchemaError(f"{path}: column type {arr.type} cannot hold JSON type {kind!r}")
        errors: list[RowError] = []
        if "null" not in types:
            errors += [RowError(r, path, "is null") for r in _rows(arr.is_null())]
        if pa.types.is_null(arr.type):
            return errors
        if "enum" in prop:
            allowed = [v for v in prop["enum"] if v is not None]
            bad = pc.invert(pc.is_in(arr, value_set=pa.array(allowed, type=arr.type)))
            bad = pc.and_(bad, arr.is_valid())
            errors += [RowError(r, path, f"{arr[r].as_py()!r} is not one of the allowed values")
                       for r in _rows(bad)]
        if kind == "string":
            errors += self._check_string(arr, prop, path)
        elif kind in ("integer", "number"):
            for key, op, word in (("minimum", pc.less, "below"), ("maximum", pc.greater, "above")):
                if key in prop:
                    errors += [RowError(r, path, f"{arr[r].as_py()} is {word} {key} {prop[key]}")
                               for r in _rows(op(arr, prop[key]))]
        elif kind == "array":
            errors += self._check_array(arr, prop, path)
        elif kind == "object":
            errors += self._check_object(arr, prop, path)
        return errors

    def _check_string(self, arr: pa.Array, prop: dict, path: str) -> list[RowError]:
        errors: list[RowError] = []
        if "minLength" in prop or "maxLength" in prop:
            length = _length_for_bounds(arr, prop.get("minLength"), prop.get("maxLength"))
            if "minLength" in prop:
                errors += [RowError(r, path, f"shorter than {prop['minLength']} characters")
                           for r in _rows(pc.less(length, prop["minLength"]))]
            if "maxLength" in prop:
                errors += [RowError(r, path, f"longer than {prop['maxLength']} characters")
                           for r in _rows(pc.greater(length, prop["maxLength"]))]
        if "pattern" in prop and not _all_fixed_hex(arr, prop["pattern"]):
            ok = pc.match_substring_regex(arr, prop["pattern"])
            errors += [RowError(r, path, f"{arr[r].as_py()!r} does not match {prop['pattern']}")
                       for r in _rows(pc.invert(ok))]
        return errors

    def _check_array(self, arr: pa.Array, prop: dict, path: str) -> list[RowError]:
        errors: list[RowError] = []
        length = pc.list_value_length(arr)
        if "minItems" in prop:
            errors += [RowError(r, path, f"has fewer than {prop['minItems']} items")
                       for r in _rows(pc.less(length, prop["minItems"]))]
        if "maxItems" in prop:
            errors += [RowError(r, path, f"has more than {prop['maxItems']} items")
                       for r in _rows(pc.greater(length, prop["maxItems"]))]
        values = pc.list_flatten(arr)
        if not len(values):
            return errors
        parent_rows = pc.list_parent_indices(arr).to_numpy()
        # Items of a few distinct strings (values from a taxonomy) are hashed once, for both checks.
        strings = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
        encoded = values.dictionary_encode() if strings and (prop.get("uniqueItems") or "items" in prop) else None
        if prop.get("uniqueItems"):
            errors += [RowError(r, path, "has duplicate items")
                       for r in _rows_with_duplicates(values, parent_rows, pc.max(length).as_py(), encoded)]
        if "items" in prop:
            found = (self._check(values, prop["items"], f"{path}[]") if encoded is None
                     else self._check_distinct(values, encoded, prop["items"], f"{path}[]"))
            errors += [RowError(int(parent_rows[err.row]), err.field, err.message) for err in found]
        return errors

    def _check_distinct(self, values: pa.Array, encoded: pa.DictionaryArray, prop: dict, path: str) -> list[RowError]:
        """:meth:`_check` of string ``values`` through their distinct values: each is checked once and
        its errors are given to every item that holds it (the checks of a string look at it alone)."""
        errors = [RowError(r, path, "is null") for r in _rows(values.is_null())] if (
            values.null_count and "null" not in _types(prop)) else []
        by_code: dict[int, list[RowError]] = {}
        for err in self._check(encoded.dictionary, prop, path):
            by_code.setdefault(err.row, []).append(err)
        if by_code:
            codes = pc.fill_null(encoded.indices, -1).to_numpy()
            for item in np.flatnonzero(np.isin(codes, list(by_code))).tolist():
                errors += [RowError(item, err.field, err.message) for err in by_code[int(codes[item])]]
        return errors

    def _check_object(self, arr: pa.StructArray, prop: dict, path: str) -> list[RowError]:
        errors: list[RowError] = []
        fields = {arr.type.field(i).name for i in range(arr.type.num_fields)}
        sub_props = prop.get("properties", {})
        if prop.get("additionalProperties") is False and fields - set(sub_props):
            raise SchemaError(f"{path}: fields not in the schema: {sorted(fields - set(sub_props))}")
        missing = [n for n in prop.get("required", []) if n not in fields]
        if missing:
            raise SchemaError(f"{path}: required fields missing: {missing}")
        for name, sub in sub_props.items():
            if name in fields:
                child = arr.field(name)
                child_errors = self._check(child, sub, f"{path}.{name}")
                valid_parent = arr.is_valid()
                errors += [e for e in child_errors if valid_parent[e.row].as_py()]
        return errors
