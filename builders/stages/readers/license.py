"""The license of a release: read from the raw tree (or the command line), never assumed.

A raw tree states its license in one or both of two places:

- a ``LICENSE`` file at its root (``LICENSE``, ``LICENSE.md`` or ``LICENSE.txt``): its text is
  shipped in the release as it is;
- a ``license`` entry in ``cvc-raw.yaml``: a Hub license id (``license: cc-by-4.0``), or a
  mapping ``{id: other, name: my-license-1.0, title: …, link: URL, attribution: …}`` for a
  license the Hub does not list.

``--license ID`` on the command line names a Hub id and overrides both. A tree that states
nothing fails the build (:class:`LicenseError` says how to give one): a publishing tool must
not state a license nobody chose.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from builders.stages.readers.layout import RAW_MANIFEST

LICENSE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt")
RELEASE_LICENSE_FILE = "LICENSE"
"""The file a release ships its license in, and the card's ``license_link`` for a license the Hub does not list."""
HUB_LICENSES_PAGE = "https://huggingface.co/docs/hub/repositories-licenses"
HUB_LICENSE_IDS = frozenset([
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd",
    "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5",
    "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0",
    "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0",
    "cc-by-nc-sa-4.0", "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0",
    "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0",
    "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl", "apple-ascl",
    "apple-amlr", "mpl-2.0", "odc-by", "odbl", "openmdw-1.0", "openrail++", "osl-3.0", "postgresql", "ofl-1.1",
    "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license",
    "fair-noncommercial-research-license", "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4",
    "gemma", "unknown", "other",
])
"""The ``license`` values the Hub accepts in a card (the table at :data:`HUB_LICENSES_PAGE`)."""
_LICENSE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
"""A ``license_name``: an id such as ``my-license-1.0``."""
_ATTRIBUTION_LABELS = ("citation", "acknowledgment", "acknowledgement", "attribution")
_HOW = (f"state the release's license in the raw tree: put the license text in {LICENSE_FILES[0]} at its root, "
        f"or add to {RAW_MANIFEST} `license: <Hub id>` (see {HUB_LICENSES_PAGE}) or `license: {{id: other, "
        "name: <id-like-name>, link: <URL of the terms>}`; or pass --license <Hub id>")


class LicenseError(ValueError):
    """A raw tree with no usable license statement."""


@dataclass(frozen=True)
class License:
    """What a release says about its license, and where that came from."""

    id: str
    """A Hub license id, or ``other``."""
    given_by: str
    """Where it was stated: the LICENSE file, ``cvc-raw.yaml`` or ``--license``."""
    name: str | None = None
    """``license_name`` (an id-like name) when ``id`` is ``other``."""
    title: str | None = None
    """The license's own name, for people."""
    link: str | None = None
    """Where its terms are published, when the raw tree does not hold their text."""
    attribution: str | None = None
    """Citation or acknowledgment text the license requires users to give."""
    text: str | None = None
    """The raw tree's LICENSE text, shipped unchanged."""

    def manifest_entry(self) -> dict:
        """The license as ``manifest.json`` records it: the text itself is the shipped LICENSE file, named by its
        hash, so a reworded license shows as a change."""
        entry = {k: v for k, v in asdict(self).items() if v is not None and k != "text"}
        return {**entry, "sha256": hashlib.sha256(self.file_text().encode("utf-8")).hexdigest()}

    def file_text(self) -> str:
        """The release's LICENSE file: the raw tree's text, or a statement naming the license and its terms."""
        if self.text is not None:
            return self.text
        named = f"{self.title or self.name} (`{self.name}`)" if self.id == "other" else f"`{self.id}`"
        lines = [f"This dataset is distributed under the license {named}."]
        if self.link:
            lines.append(f"Its terms: {self.link}")
        elif self.id != "other":
            lines.append(f"Hub license ids: {HUB_LICENSES_PAGE}")
        if self.attribution:
            lines += ["", "Users must give this attribution:", "", self.attribution]
        return "\n".join(lines) + "\n"


def slug(title: str) -> str:
    """An id-like ``license_name`` from a license's title: ``Academic Research License (Non-Commercial)``
    → ``academic-research-license-non-commercial``."""
    return re.sub(r"[^a-z0-9.]+", "-", title.casefold()).strip("-.") or "custom"


def attribution_in(text: str) -> str | None:
    """The citation and acknowledgment a license text requires: the paragraph after each line such as
    ``Citation:`` or ``Acknowledgment:``, labels kept."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        label = line.strip().rstrip(":").casefold()
        if line.strip().endswith(":") and label in _ATTRIBUTION_LABELS:
            paragraph = []
            for following in lines[i + 1:]:
                if not following.strip():
                    if paragraph:
                        break
                    continue
                paragraph.append(following.strip())
            if paragraph:
                found.append(f"{line.strip()} {' '.join(paragraph)}")
    return "\n\n".join(found) or None


def _license_file(raw_dir: Path) -> Path | None:
    return next((raw_dir / name for name in LICENSE_FILES if (raw_dir / name).is_file()), None)


def _hub_id(value: object, where: str) -> str:
    if not isinstance(value, str) or value not in HUB_LICENSE_IDS:
        raise LicenseError(f"{where}: {value!r} is not a Hub license id (see {HUB_LICENSES_PAGE}); "
                           "for another license use `id: other` with a `name` and a `link` or a LICENSE file")
    return value


def _from_yaml(entry: object, text: str | None) -> License:
    where = f"{RAW_MANIFEST}: license"
    if isinstance(entry, str):
        entry = {"id": entry}
    if not isinstance(entry, dict):
        raise LicenseError(f"{where}: give a Hub license id or a mapping with `id`; {_HOW}")
    unknown = sorted(set(entry) - {"id", "name", "title", "link", "attribution"})
    if unknown:
        raise LicenseError(f"{where}: unknown keys {unknown} (known: id, name, title, link, attribution)")
    license_id = _hub_id(entry.get("id"), f"{where}.id")
    name, title = entry.get("name"), entry.get("title")
    if license_id == "other":
        name = name or (slug(title) if title else None)
        if not name or not _LICENSE_NAME.match(str(name)):
            raise LicenseError(f"{where}.name: `id: other` needs an id-like name such as my-license-1.0, got {name!r}")
        if not entry.get("link") and text is None:
            raise LicenseError(f"{where}: `id: other` needs a `link` to its terms, or the text in {LICENSE_FILES[0]}")
    attribution = entry.get("attribution") or (attribution_in(text) if text else None)
    return License(license_id, RAW_MANIFEST, name=name, title=title, link=entry.get("link"),
                   attribution=attribution, text=text)


def _from_text(text: str, file: str) -> License:
    """A LICENSE file alone: a license the Hub does not list, named by its first line (and a version line)."""
    heading = [line.strip() for line in text.splitlines() if line.strip()][:2]
    if not heading:
        raise LicenseError(f"{file} is empty; {_HOW}")
    title = heading[0].title() if heading[0].isupper() else heading[0]
    if len(heading) > 1 and heading[1].casefold().startswith("version"):
        title = f"{title}, {heading[1]}"
    return License("other", file, name=slug(title), title=title, attribution=attribution_in(text), text=text)


def read_license(raw_dir: Path, override: str | None = None) -> License:
    """The license a raw tree states (``override``: a Hub id from the command line, which wins)."""
    raw_dir = Path(raw_dir)
    if override is not None:
        return License(_hub_id(override, "--license"), "--license")
    path = _license_file(raw_dir)
    text = path.read_text(encoding="utf-8") if path else None
    entry = None
    if (raw_dir / RAW_MANIFEST).is_file():
        with open(raw_dir / RAW_MANIFEST, encoding="utf-8") as fh:
            entry = (yaml.safe_load(fh) or {}).get("license")
    if entry is not None:
        return _from_yaml(entry, text)
    if path is not None:
        return _from_text(text, path.name)
    raise LicenseError(f"{raw_dir}: no license statement; {_HOW}")
