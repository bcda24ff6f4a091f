"""Build, validate, version and publish the Chinese Values Corpus (Beijing-AISI/CVC)."""

__version__ = "0.1.0"
