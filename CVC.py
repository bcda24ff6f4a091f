"""``datasets`` builder class for the Chinese Values Corpus, for maintainers.

Not a Hub loading script (datasets>=4 refuses those, and this file is never uploaded):
instantiate it directly to build a config from a raw tree into the ``datasets`` cache::

    from CVC import CVC
    builder = CVC(config_name="rules", data_dir="sample/raw")
    builder.download_and_prepare()
    rules = builder.as_dataset(split="train")

All the work is done by the ``builders`` package; this class only adapts it.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow as pa

from builders import __version__
from builders.build import CONFIG_BUILDERS, DEFAULT_CONFIG, SPLIT, collect
from builders.resources import sample_raw_dir
from builders.schema import features
from builders.stages.readers.license import read_license

_DEFAULT_NAME, _DEFAULT_TARGET, _DEFAULT_SPLIT = DEFAULT_CONFIG


class CVCConfig(datasets.BuilderConfig):
    """One config of the corpus; ``schema_config`` names the schema its rows follow."""

    def __init__(self, *, schema_config: str, split: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.schema_config = schema_config
        self.split = split


class CVC(datasets.ArrowBasedBuilder):
    """Builds the CVC configs from a raw upstream tree (``data_dir``; default: the shipped sample)."""

    VERSION = datasets.Version(__version__)
    BUILDER_CONFIGS = [
        CVCConfig(name=_DEFAULT_NAME, schema_config=_DEFAULT_TARGET, split=_DEFAULT_SPLIT,
                  description="The rules under the v1 split name `cvc`."),
        *(CVCConfig(name=m.CONFIG, schema_config=m.CONFIG, split=SPLIT, description=m.__doc__.split("\n")[0])
          for m in CONFIG_BUILDERS),
    ]
    DEFAULT_CONFIG_NAME = "rules"

    def _raw_dir(self) -> Path:
        return Path(self.config.data_dir) if self.config.data_dir else sample_raw_dir()

    def _info(self) -> datasets.DatasetInfo:
        stated = read_license(self._raw_dir())  # the raw tree's own statement; none fails here, as a build does
        return datasets.DatasetInfo(
            description=self.config.description,
            features=features(self.config.schema_config),
            homepage="https://huggingface.co/datasets/Beijing-AISI/CVC",
            license=stated.name if stated.id == "other" else stated.id,
            citation="arXiv:2506.01495",
        )

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        return [datasets.SplitGenerator(name=self.config.split, gen_kwargs={"raw_dir": self._raw_dir()})]

    def _generate_tables(self, raw_dir: Path):
        ctx = collect(raw_dir)
        config = self.config.schema_config
        if config in ctx.tables:
            yield 0, ctx.tables[config]
        else:
            yield 0, pa.Table.from_pylist(ctx.results[config], schema=self.info.features.arrow_schema)
