"""Locate the files the package ships beside its code: schemas, card parts, the sample raw tree.

In a source checkout (or an editable install) they live at the repository root; a wheel
carries them under ``builders/_data``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"Cannot find the shipped '{name}' directory; reinstall the package (pip install -e .)."
    )


def schemas_dir() -> Path:
    """Directory holding the JSON Schemas and the value taxonomy."""
    return _find("schemas")


def card_dir() -> Path:
    """Directory holding the dataset card template and its fixed sections."""
    return _find("dataset_card")


def sample_raw_dir() -> Path:
    """The raw tree shipped for the default build."""
    return _find("sample") / "raw"
