"""Semantic versions of releases: parse, compare, and refuse a version that understates a change."""

from __future__ import annotations

import re

from builders.release.diff import BUMPS

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


class VersionError(ValueError):
    """A release version that is malformed, not newer, or too small a bump for the change."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"1.2.0"`` or ``"v1.2.0"`` → ``(1, 2, 0)``."""
    match = _SEMVER.match(str(text).strip())
    if not match:
        raise VersionError(f"{text!r} is not a version like 1.2.0")
    return int(match[1]), int(match[2]), int(match[3])


def next_version(previous: str, bump: str) -> str:
    """The version after ``previous`` for a bump; ``none`` still moves the patch number."""
    major, minor, patch = parse_version(previous)
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def bump_between(previous: str, version: str) -> str:
    """Which part of the version moved from ``previous`` to ``version``."""
    old, new = parse_version(previous), parse_version(version)
    if new <= old:
        raise VersionError(f"v{version} is not newer than the previous release v{previous}")
    if new[0] > old[0]:
        return "major"
    return "minor" if new[1] > old[1] else "patch"


def check_version(previous: str, version: str, required: str) -> None:
    """Raise unless ``version`` is newer than ``previous`` by at least the ``required`` bump."""
    given = bump_between(previous, version)
    if BUMPS.index(given) < BUMPS.index(required):
        raise VersionError(
            f"v{version} is a {given} bump over v{previous}, but the changes need a {required} bump: "
            f"use --version {next_version(previous, required)} (or --bump auto)"
        )
