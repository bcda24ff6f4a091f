"""Parsers for the generated blobs of the scenario, dilemma and evaluation steps.

Upstream split these with regexes that needed an ASCII colon and one option per line
(raw-formats §6.5), while its own prompts asked for ``1：…`` and ``A：… B：… C：…`` on one
line. These parsers accept both colons, numbered lines or not, and options on one line
or several.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from builders.stages.normalizers.text import (
    WHITESPACE,
    clean_key,
    clean_key_column,
    clean_text,
    clean_text_column,
    re2_char_class,
    string_cells,
)
from builders.stages.parsers.replies import ReplyParseError

LETTERS = ("A", "B", "C")
_NUMBERED = re.compile(r"(?:^|\n)[ \t]*\d+[ \t]*[:：.、．][ \t]*")
_OPTION = re.compile(r"([A-C])(?<![^\s。！？!?；;][A-C])[ \t]*[:：.．、)）][ \t]*")
"""An option letter at the start or after whitespace or a sentence mark. The letter comes first so
the regex engine can skip to candidate letters; the lookbehind then checks the character before it."""
_CHOICE = re.compile(r"(?<![A-Za-z])([ABC])(?![A-Za-z])")


def split_numbered(blob: str) -> list[str]:
    """``1：…\\n2: …`` → the items; a blob without numbering is one item."""
    text = (blob or "").strip()
    if not text:
        return []
    parts = _NUMBERED.split(text)
    if len(parts) == 1:
        return [clean_text(text)]
    return [clean_text(part) for part in parts[1:] if part.strip()]


def split_options(text: str) -> list[tuple[str, str]]:
    """``A: …\\nB: …\\nC: …`` or ``A：… B：… C：…`` → ``[(letter, text), …]`` for A, B and C in order."""
    matches = list(_OPTION.finditer(text or ""))
    letters = tuple(m.group(1) for m in matches)
    if letters != LETTERS:
        raise ReplyParseError(f"expected options A, B and C in order, found {list(letters) or 'none'}")
    options = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = clean_text(text[match.end():end])
        if not body:
            raise ReplyParseError(f"option {match.group(1)} is empty")
        options.append((match.group(1), body))
    return options


def scene_and_options(scene_cell: str, options_cell: str) -> tuple[str, list[tuple[str, str]]]:
    """A generated scene and its options, each checked; errors name the raw column."""
    scene = clean_text(scene_cell)
    if not scene:
        raise ReplyParseError("empty scene", field="scene")
    try:
        return scene, split_options(options_cell)
    except ReplyParseError as err:
        raise ReplyParseError(str(err), field="options") from None


def split_scene_blob(blob: str) -> list[tuple[str, list[tuple[str, str]]] | ReplyParseError]:
    """A raw generation of numbered scenes each followed by options → ``(scene, options)`` per item.

    Upstream stored the whole reply (``1：scene\\nA：… B：… C：…\\n2：…``) before its extraction
    step; an item that does not parse is returned as its error, so callers can count it.
    """
    items: list[tuple[str, list[tuple[str, str]]] | ReplyParseError] = []
    for item in split_numbered(blob):
        first = next((m for m in _OPTION.finditer(item) if m.group(1) == "A"), None)
        cut = first.start() if first else len(item)
        try:
            items.append(scene_and_options(item[:cut], item[cut:]))
        except ReplyParseError as err:
            items.append(ReplyParseError(str(err), field=err.field))  # not the raised one: it holds the stack
    return items


def parse_choice(reply: str | None) -> str | None:
    """A model's reply → ``A``, ``B``, ``C`` or ``None`` (error, empty, or not exactly one letter).

    Accepts ``A``, ``A.``, ``选A``, ``答案：B``, ``(C)``, full-width letters; never turns an
    ``ERROR…`` or empty reply into a choice.
    """
    text = clean_text(reply)
    if not text or is_error_reply(text):
        return None
    letters = set(_CHOICE.findall(text))
    return letters.pop() if len(letters) == 1 else None


def is_error_reply(reply: str | None) -> bool:
    """Upstream stored failed calls as ``""`` or ``"ERROR: …"`` in the answer column."""
    text = (reply or "").strip()
    return not text or text.upper().startswith("ERROR")


SCENE_COLUMNS = ("scene_text", "scene_key", "option_a", "option_b", "option_c", "parse_field", "parse_error")
"""What :func:`parse_scenes` gives per row: the scene, its :func:`clean_key`, the three option texts,
or the raw column and the reason the row cannot be parsed."""


_AFTER = re2_char_class(WHITESPACE + "。！？!?；;")
"""What may stand before an option letter, as :data:`_OPTION`'s lookbehind allows."""
_SEPARATOR = "[ \\t]*" + re2_char_class(":：.．、)）") + "[ \\t]*"
_PLAIN_OPTIONS = f"^(?:|[^A-C]*{_AFTER})A{_SEPARATOR}[^A-C]*{_AFTER}B{_SEPARATOR}[^A-C]*{_AFTER}C{_SEPARATOR}[^A-C]*$"
"""An options cell whose only letters A to C are its three option letters, in order, each where
:data:`_OPTION` finds one. Split at those letters (:data:`_LETTER_SPLIT`), its last three parts are the
bodies :func:`split_options` gives before cleaning, so Arrow can split such cells."""
_LETTER_SPLIT = f"[A-C]{_SEPARATOR}"


def _cells(cells: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Array:
    """A column of cells as one string array, null as ``""`` (which every parser here treats alike)."""
    return string_cells(pa.array(cells, pa.string()) if isinstance(cells, list) else cells)


def parse_scenes(scenes: pa.Array | pa.ChunkedArray | list[str | None],
                 options: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Table:
    """:func:`scene_and_options` of many rows, as Arrow columns (:data:`SCENE_COLUMNS`).

    The cells of the usual shape (:data:`_PLAIN_OPTIONS`, a scene that is not empty, three
    options that are not) are split and cleaned by Arrow; every other row goes through
    :func:`scene_and_options` itself, so its result and its error are that function's.
    """
    scene_cells, option_cells = _cells(scenes), _cells(options)
    scene = clean_text_column(scene_cells)
    plain = pc.match_substring_regex(option_cells, _PLAIN_OPTIONS)
    parts = pc.list_flatten(pc.split_pattern_regex(option_cells.filter(plain), _LETTER_SPLIT))
    if len(parts) != 4 * np.count_nonzero(plain.to_numpy(zero_copy_only=False)):
        raise AssertionError("internal error: a plain options cell did not split into four parts")
    nulls = pa.nulls(len(scene), pa.string())
    bodies = [pc.replace_with_mask(nulls, plain, clean_text_column(parts.take(np.arange(i, len(parts), 4))))
              for i in range(1, 4)]
    fast = pc.and_(plain, pc.not_equal(scene, ""))
    for body in bodies:
        fast = pc.and_(fast, pc.not_equal(body, "").fill_null(False))
    fast = fast.to_numpy(zero_copy_only=False)
    columns = [scene, clean_key_column(scene), *bodies, nulls, nulls]
    slow = np.flatnonzero(~fast)
    if not len(slow):
        return pa.table(columns, names=list(SCENE_COLUMNS))
    parsed: list[tuple] = []
    for scene_cell, options_cell in zip(scene_cells.take(slow).to_pylist(), option_cells.take(slow).to_pylist(),
                                        strict=True):
        try:
            text, (a, b, c) = scene_and_options(scene_cell, options_cell)
        except ReplyParseError as err:
            parsed.append((None,) * 5 + (err.field, str(err)))
            continue
        parsed.append((text, clean_key(text), a[1], b[1], c[1], None, None))
    mask = pa.array(~fast)
    columns = [pc.replace_with_mask(column, mask, pa.array(values, pa.string()))
               for column, values in zip(columns, zip(*parsed, strict=True), strict=True)]
    return pa.table(columns, names=list(SCENE_COLUMNS))
