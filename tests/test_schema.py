import json

import datasets

from builders.schema import features, field_table, load_schema, schema_bytes
from builders.taxonomy import load_taxonomy


def test_features_are_derived_from_the_schema():
    feats = features("rules")
    assert list(feats) == list(load_schema("rules")["properties"])
    assert feats["label"] == datasets.Value("int8")
    assert feats["derived_values"] == datasets.List(datasets.Value("string"))
    assert feats["rewritten"] == datasets.Value("bool")


def test_value_enums_come_from_the_taxonomy():
    schema = load_schema("rules")
    assert schema["$defs"]["derived_value"]["enum"] == load_taxonomy().names("derived_values")
    published = json.loads(schema_bytes("rules"))
    assert published["$defs"]["core_value"]["enum"] == load_taxonomy().names("core_values")


def test_field_table_has_every_field_with_a_description():
    rows = field_table("rules")
    assert [r[0] for r in rows] == list(features("rules"))
    assert all(description for _, _, description in rows)
    assert ("rule_en", "string (nullable)") in [(r[0], r[1]) for r in rows]
