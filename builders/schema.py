"""JSON Schemas of the configs, and everything derived from them.

``schemas/<config>.schema.json`` is the single source of truth for a config's fields:
the ``datasets.Features`` written into Parquet, the card's field table and row validation
all come from here. Value names are not restated in the schemas: a ``$defs`` entry marked
``x-taxonomy`` gets its ``enum`` from ``schemas/taxonomy.json`` when loaded.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any

from builders.resources import schemas_dir
from builders.taxonomy import load_taxonomy

if TYPE_CHECKING:
    import datasets

_SCALARS = {"string": "string", "boolean": "bool", "integer": "int64", "number": "float64"}


@cache
def _load(config: str) -> dict:
    path = schemas_dir() / f"{config}.schema.json"
    if not path.exists():
        raise FileNotFoundError(f"No schema for config '{config}': expected {path}")
    with open(path, encoding="utf-8") as fh:
        schema = json.load(fh)
    taxonomy = load_taxonomy()
    for definition in schema.get("$defs", {}).values():
        tier = definition.get("x-taxonomy")
        if tier:
            definition["enum"] = taxonomy.names(tier)
    return schema


def load_schema(config: str) -> dict:
    """The config's schema with taxonomy enums filled in (a copy the caller may change)."""
    return copy.deepcopy(_load(config))


def schema_bytes(config: str) -> bytes:
    """The resolved schema as published in a release: stable key order, UTF-8."""
    return (json.dumps(_load(config), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def schema_sha256(config: str) -> str:
    """Hash of the published schema, recorded in the manifest to detect schema changes."""
    return hashlib.sha256(schema_bytes(config)).hexdigest()


def resolve_refs(node: Any, root: dict) -> Any:
    """Inline local ``#/$defs/...`` references so each property is self-contained."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"only local $ref is supported, got {ref!r}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part]
            merged = {**resolve_refs(target, root), **{k: v for k, v in node.items() if k != "$ref"}}
            return merged
        return {k: resolve_refs(v, root) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [resolve_refs(v, root) for v in node]
    return node


def properties(config: str) -> dict[str, dict]:
    """Field name → resolved property schema, in schema order."""
    schema = _load(config)
    return {name: resolve_refs(prop, schema) for name, prop in schema["properties"].items()}


def _types(prop: dict) -> list[str]:
    declared = prop.get("type", "string")
    return [declared] if isinstance(declared, str) else list(declared)


def _feature(prop: dict, where: str) -> Any:
    import datasets  # here, not at the top: a build's worker processes validate and read but make no Features

    types = [t for t in _types(prop) if t != "null"]
    if len(types) != 1:
        raise ValueError(f"{where}: a field needs exactly one non-null type, got {types}")
    kind = types[0]
    if kind == "array":
        return datasets.List(_feature(prop["items"], f"{where}[]"))
    if kind == "object":
        return {name: _feature(sub, f"{where}.{name}") for name, sub in prop["properties"].items()}
    return datasets.Value(prop.get("x-dtype", _SCALARS[kind]))


def features(config: str) -> datasets.Features:
    """``datasets.Features`` of a config, derived from its schema."""
    import datasets

    return datasets.Features({name: _feature(prop, name) for name, prop in properties(config).items()})


def type_label(prop: dict) -> str:
    """A short human-readable type for the card's field table."""
    types = _types(prop)
    nullable = "null" in types
    kind = next(t for t in types if t != "null")
    if kind == "array":
        label = f"list[{type_label(prop['items'])}]"
    elif kind == "object":
        label = "struct{" + ", ".join(prop["properties"]) + "}"
    else:
        label = prop.get("x-dtype", _SCALARS[kind])
    return f"{label} (nullable)" if nullable else label


def field_table(config: str) -> list[tuple[str, str, str]]:
    """(field, type, description) rows for the card, in schema order."""
    return [
        (name, type_label(prop), prop.get("description", ""))
        for name, prop in properties(config).items()
    ]
