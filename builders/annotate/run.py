"""Annotate the open items of a raw tree and append the answers to its annotation artifact, resumably."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Protocol

from builders.annotate.endpoint import GiveUp
from builders.annotate.items import open_items
from builders.annotate.prompt import Item, read_reply

ARTIFACT = "annotations/option_roles.jsonl"
"""Where the answers go in the raw tree (the build reads ``annotations/option_roles*.jsonl``)."""


class Backend(Protocol):
    model: str
    backend: str
    prompt_version: str

    def ask(self, item: Item) -> str: ...


def recorded_keys(path: Path) -> set[str]:
    """The content keys the artifact already answers (any status); a last line cut short by an interrupted
    run is removed first, so its item is asked again and the file stays one JSON object per line."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[:data.rfind(b"\n") + 1]
        path.write_bytes(data)
    keys = set()
    for line in data.decode("utf-8").splitlines():
        try:
            keys.add(json.loads(line)["key"])
        except (ValueError, KeyError, TypeError):
            continue
    return keys


def _record(item: Item, backend: Backend, reply: str) -> dict:
    rule_a, rule_b, status = read_reply(reply)
    return {"key": item.key, "item": item.item, "item_id": item.item_id, "rule_a": rule_a, "rule_b": rule_b,
            "status": status, "model": backend.model, "backend": backend.backend,
            "prompt_version": backend.prompt_version, "reply": reply}


def annotate(items: Iterable[Item], backend: Backend, path: Path, *, concurrency: int = 4) -> Counter:
    """Ask the backend about each item not yet in the artifact and append one line per answer, flushed as
    it comes, so an interrupted run loses nothing. An item the backend did not answer (after its retries)
    is not written: a rerun asks it again. Counts per status, ``failed`` and ``skipped``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    done = recorded_keys(path)
    counts: Counter = Counter()
    todo: dict[str, Item] = {}
    for item in items:
        if item.key in done or item.key in todo:
            counts["skipped"] += 1
        else:
            todo[item.key] = item
    with open(path, "a", encoding="utf-8") as fh, ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(backend.ask, item): item for item in todo.values()}
        for future in as_completed(futures):
            try:
                reply = future.result()
            except GiveUp:
                counts["failed"] += 1
                continue
            record = _record(futures[future], backend, reply)
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            counts[record["status"]] += 1
    return counts


def annotate_option_roles(raw: Path, backend: Backend, *, concurrency: int = 4) -> Counter:
    """:func:`annotate` of every item of ``raw`` the text leaves open, into ``raw / ARTIFACT``."""
    return annotate(open_items(Path(raw)), backend, Path(raw) / ARTIFACT, concurrency=concurrency)
