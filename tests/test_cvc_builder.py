"""CVC.py: the datasets builder class maintainers instantiate directly."""

from builders.build import collect
from CVC import CVC


def test_builder_class_prepares_rules_and_default(raw_tree, tmp_path):
    expected = collect(raw_tree).results["rules"].to_pylist()
    builder = CVC(config_name="rules", data_dir=str(raw_tree), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    rules = builder.as_dataset(split="train")
    assert rules.features == builder.info.features
    assert rules.to_list() == expected

    legacy = CVC(config_name="default", data_dir=str(raw_tree), cache_dir=str(tmp_path / "cache"))
    legacy.download_and_prepare()
    assert list(legacy.as_dataset()) == ["cvc"]
    assert legacy.as_dataset(split="cvc")["id"] == [row["id"] for row in expected]


def test_every_config_of_the_package_is_a_builder_config():
    from builders.build import CONFIG_BUILDERS

    names = {config.name for config in CVC.BUILDER_CONFIGS}
    assert names == {"default"} | {module.CONFIG for module in CONFIG_BUILDERS}
