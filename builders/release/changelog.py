"""The release history: one entry per version, carried forward from the previous release.

The history lives in ``manifest.json``; ``CHANGELOG.md`` and the card's "Versions" section
are both rendered from it, so they never disagree.
"""

from __future__ import annotations

from builders.release.diff import ReleaseDiff


def history_entry(version: str, rows: dict[str, int], diff: ReleaseDiff | None) -> dict:
    """The entry for a new version: row counts per config and, given a previous release, the diff."""
    entry: dict = {"version": version, "previous": None, "bump": "initial",
                   "configs": {name: {"rows": n} for name, n in rows.items()}}
    if diff is None:
        return entry
    entry["previous"], entry["bump"] = diff.old_version, diff.bump()
    if diff.license is not None:
        entry["license"] = [_license_name(stated) for stated in diff.license]
    for name, c in diff.configs.items():
        summary = entry["configs"].setdefault(name, {"rows": 0})
        summary["status"] = c.status
        for key, value in (("added", len(c.added)), ("removed", len(c.removed)), ("changed", len(c.changed)),
                           ("fields_added", c.fields_added), ("fields_removed", c.fields_removed),
                           ("fields_retyped", sorted(c.fields_retyped)), ("splits_added", c.splits_added),
                           ("splits_removed", c.splits_removed)):
            if value:
                summary[key] = value
    return entry


def _license_name(stated: dict | None) -> str:
    return (stated or {}).get("name") or (stated or {}).get("id") or "none stated"


def _license_line(entry: dict) -> list[str]:
    """The history entry's license change, as a line of its summary (none when it kept its license)."""
    return [f"license changed: {entry['license'][0]} → {entry['license'][1]}"] if entry.get("license") else []


def _describe(name: str, summary: dict) -> str:
    status = summary.get("status")
    if status == "added":
        return f"`{name}`: new config, {summary['rows']:,} rows"
    if status == "removed":
        return f"`{name}`: config removed"
    parts = [f"{summary['rows']:,} rows"]
    for key, word in (("added", "added"), ("removed", "removed"), ("changed", "changed")):
        if summary.get(key):
            parts.append(f"{summary[key]:,} {word}")
    for key, word in (("fields_added", "new fields"), ("fields_removed", "removed fields"),
                      ("fields_retyped", "retyped fields"), ("splits_added", "new splits"),
                      ("splits_removed", "removed splits")):
        if summary.get(key):
            parts.append(f"{word}: " + ", ".join(f"`{f}`" for f in summary[key]))
    return f"`{name}`: " + "; ".join(parts)


def render_changelog(history: list[dict]) -> str:
    """CHANGELOG.md, newest version first."""
    lines = ["# Changelog", ""]
    for entry in reversed(history):
        since = f" ({entry['bump']} change since v{entry['previous']})" if entry["previous"] else " (first release)"
        lines += [f"## v{entry['version']}{since}", ""]
        lines += [f"- {line}" for line in _license_line(entry)]
        lines += [f"- {_describe(name, s)}" for name, s in entry["configs"].items() if name != "default"]
        lines.append("")
    return "\n".join(lines)


def versions_section(history: list[dict]) -> str:
    """The card's "Versions" table: one line per version, newest first."""
    lines = ["| Version | Change | Summary |", "|---|---|---|"]
    for entry in reversed(history):
        summary = "; ".join([*_license_line(entry),
                             *(_describe(n, s) for n, s in entry["configs"].items() if n != "default")])
        lines.append(f"| `v{entry['version']}` | {entry['bump']} | {summary} |")
    return "\n".join(lines)
