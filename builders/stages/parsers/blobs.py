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


_AT = r"(?<![^\s。！？!?；;，,：:、])"
"""At the start, or after a space or a punctuation mark (a bracketed letter may stand anywhere)."""
_MARKER = re.compile(
    rf"(?:{_AT}选项\s*(?P<a>[A-C])\s*[:：.．、]?"  # 选项A：
    rf"|{_AT}(?P<b>[A-C])\s*选项\s*[:：.．、]?"  # A选项：
    r"|[(（]\s*(?P<c>[A-C])\s*[)）]\s*[:：.．、]?"  # (A) （A）
    r"|[【\[]\s*(?P<d>[A-C])\s*[】\]]\s*[:：.．、]?"  # 【A】 [A]
    rf"|{_AT}(?P<e>[A-C])\s*[:：.．、)）])"  # A： A: A. A． A、 A)
    r"\s*")
"""An option marker in a cell that went through :func:`clean_text` (full-width letters made ASCII)."""
_NOTE = re.compile(r"\s*[(（]?\s*(?:注|备注|说明|提示)\s*[:：].*$")
"""A trailing note after the last option (``（注：以上选项顺序随机排列）``): not part of the option."""
_HEADER = re.compile(r"\s*(?:选项|options?)\s*[:：]?\s*$", re.IGNORECASE)
"""A ``选项：`` header before the first option."""


def _markers(text: str) -> list[tuple[str, str, int, int]]:
    """Every option marker: its letter, its style (which form, which separator), where it starts and ends."""
    found = []
    for match in _MARKER.finditer(text):
        form = next(name for name in "abcde" if match.group(name))
        style = form + re.sub(r"[A-C\s]", "", match.group(0))
        found.append((match.group(form), style, match.start(), match.end()))
    return found


def _option_markers(text: str) -> list[tuple[str, str, int, int]] | None:
    """The markers of options A, B and C in order: the first A whose style B and C repeat after it,
    else the first A, B after it and C after that; ``None`` when there is no such chain."""
    markers = _markers(text)
    for at, (letter, style, _, _) in enumerate(markers):
        if letter != "A":
            continue
        chain = [markers[at]]
        for wanted in "BC":
            following = (m for m in markers if m[2] >= chain[-1][3] and m[0] == wanted and m[1] == style)
            step = next(following, None)
            if step is None:
                break
            chain.append(step)
        if len(chain) == 3:
            return chain
    chain = []
    for wanted in "ABC":
        start = chain[-1][3] if chain else 0
        step = next((m for m in markers if m[2] >= start and m[0] == wanted), None)
        if step is None:
            return None
        chain.append(step)
    return chain


def split_options(text: str) -> list[tuple[str, str]]:
    """An options cell → ``[(letter, text), …]`` for A, B and C in order.

    Accepts what generators write: ``A：`` ``A:`` ``A.`` ``A．`` ``A、`` ``A)`` ``(A)`` ``【A】``
    ``选项A：`` ``A选项：``, full-width letters, options on one line or several, a leading number
    or ``选项：`` header, and a trailing note (``注：…``), which is dropped.
    """
    cleaned = clean_text(text)
    chain = _option_markers(cleaned)
    if chain is None:
        letters = [letter for letter, *_ in _markers(cleaned)]
        raise ReplyParseError(f"expected options A, B and C in order, found {letters or 'none'}")
    options = []
    for i, (letter, _, _, end) in enumerate(chain):
        stop = chain[i + 1][2] if i + 1 < len(chain) else len(cleaned)
        body = cleaned[end:stop]
        if i == len(chain) - 1:
            body = _NOTE.sub("", body)
        body = clean_text(body)
        if not body:
            raise ReplyParseError(f"option {letter} is empty")
        options.append((letter, body))
    return options


def first_option_at(text: str) -> int | None:
    """Where option A's marker starts in a :func:`clean_text`-ed item (``None``: no options)."""
    chain = _option_markers(text)
    return chain[0][2] if chain else None


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
        first = first_option_at(item)
        cut = len(item) if first is None else first
        try:
            items.append(scene_and_options(_HEADER.sub("", item[:cut]), item[cut:]))
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
"""What may stand before an option letter in the cells :func:`parse_scenes` splits in Arrow (fewer than
:data:`_MARKER` allows: a cell it refuses goes through :func:`split_options`)."""
_SEPARATOR = "[ \\t]*" + re2_char_class(":：.．、)）") + "[ \\t]*"
_PLAIN_OPTIONS = f"^(?:|[^A-C]*{_AFTER})A{_SEPARATOR}[^A-C]*{_AFTER}B{_SEPARATOR}[^A-C]*{_AFTER}C{_SEPARATOR}[^A-C]*$"
"""An options cell whose only letters A to C are its three option letters, in order, each where
:data:`_MARKER` finds one. Split at those letters (:data:`_LETTER_SPLIT`), its last three parts are the
bodies :func:`split_options` gives before cleaning, so Arrow can split such cells."""
_LETTER_SPLIT = f"[A-C]{_SEPARATOR}"
_NOT_PLAIN = "[\uff21-\uff23]|选项|(?:注|备注|说明|提示)[ \t]*[:：]"
"""What a cell's :func:`split_options` treats apart from its plain split (full-width letters, 选项, a note)."""


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
    plain = pc.and_(pc.match_substring_regex(option_cells, _PLAIN_OPTIONS),
                    pc.invert(pc.match_substring_regex(option_cells, _NOT_PLAIN)))
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
