"""The collection: every (dataset, method, IPC) the project publishes, as data, and selectors over it.

``collection.json`` (shipped in the package) lists the sets and, where a paper or official README
reports one, the accuracy to compare with, with its source; where none is available to us it says
nothing rather than invent one. An entry with ``left_out`` is a set the project decided not to publish,
with the reason (status and cards show it; `collection build` skips it). A set's budget (iterations) and evaluation protocol come from its
recipe's published configuration, so they live in one place only.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from condensed_datasets.core.methods import method_paper

COLLECTION_FILE = "collection.json"


@dataclass(frozen=True)
class PaperResult:
    """What a paper (or its official README) reports for one set: accuracy %, std when given, and where from."""

    mean: float
    std: float | None
    source: str
    citation: str

    def __str__(self) -> str:
        return f"{self.mean:.1f}" + (f" ± {self.std:.1f}" if self.std is not None else "")

    def gap(self, mean: float, std: float) -> tuple[float, float | None]:
        """Ours minus the paper's, in points and in units of the larger std (None when both are 0)."""
        points = round(mean - self.mean, 2)
        spread = max(std, self.std or 0.0)
        return points, (round(points / spread, 1) if spread > 0 else None)


def format_gap(points: float, in_std: float | None) -> str:
    """``+0.3 (+0.6 std)``: how a gap to a paper is shown (status tables, cards)."""
    return f"{points:+.1f}" + (f" ({in_std:+.1f} std)" if in_std is not None else "")


@dataclass(frozen=True)
class CollectionEntry:
    """One set of the collection."""

    dataset: str
    method: str
    ipc: int
    paper: PaperResult | None = None
    note: str = ""
    left_out: str = ""  # why the project does not publish this set (never built by `collection build`); "" when it does
    shortfall: str = ""  # our best reading of why the staged set lands more than one std below its paper

    def below_paper(self, mean: float, std: float) -> str:
        """Why ``mean ± std`` lands more than one std (the larger of ours and the paper's) below the paper: our
        reading (``shortfall``), or that none is recorded; "" when it does not."""
        in_std = self.paper.gap(mean, std)[1] if self.paper else None
        return (self.shortfall or "no reading recorded yet") if in_std is not None and in_std < -1 else ""

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.method}/{self.ipc}"

    def recipe(self) -> Any:
        from condensed_datasets.recipes import get_method

        return get_method(self.method)

    @property
    def budget(self) -> int | None:
        """The published number of iterations (``None`` for a method without iterations, such as ``random``)."""
        method = self.recipe()
        return int(method.config(self.dataset, self.ipc)[method.iterations_key]) if method.iterations_key else None

    @property
    def protocol(self) -> str:
        return method_paper(self.method).protocol


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(COLLECTION_FILE).read_text())


def copy_note(dataset: str) -> str:
    """Which copy of ``dataset`` the published sets whose files predate ``source_sha256`` were built and tested on
    (``collection.json``'s ``copies``); "" where the collection says nothing."""
    return _document().get("copies", {}).get(dataset, "")


@lru_cache(maxsize=1)
def load_collection() -> tuple[CollectionEntry, ...]:
    """Every entry of ``collection.json``, in file order."""
    document = _document()
    sources = document["sources"]
    entries = []
    for raw in document["sets"]:
        paper = raw.get("paper")
        entries.append(CollectionEntry(
            raw["dataset"], raw["method"], int(raw["ipc"]),
            PaperResult(paper["mean"], paper.get("std"), paper["source"], sources[paper["source"]]) if paper else None,
            raw.get("note", ""), raw.get("left_out", ""), raw.get("shortfall", "")))
    return tuple(entries)


def select(selectors: list[str] | tuple[str, ...], *, as_named: bool = False) -> list[CollectionEntry]:
    """The entries matched by selectors such as ``cifar10/dm/*``, ``*/idc/10``, ``digits`` (all of digits).

    Each selector is ``DATASET[/METHOD[/IPC]]`` with shell wildcards in any part; no selector means
    every entry. A part that names no dataset, method or IPC of the collection, or a selector that
    matches nothing, is a `ValueError` listing the valid choices. The entries come in the collection's
    order, or with ``as_named`` in the order the selectors name them (a build queue): each selector's
    matches in the collection's order, an entry named twice where it was named first.
    """
    entries = load_collection()
    if not selectors:
        return list(entries)
    choices = {
        "dataset": sorted({e.dataset for e in entries}),
        "method": list(dict.fromkeys(e.method for e in entries)),
        "IPC": [str(i) for i in sorted({e.ipc for e in entries})],
    }
    chosen: dict[str, CollectionEntry] = {}
    for selector in selectors:
        parts = selector.strip("/").split("/")
        if not selector.strip("/") or len(parts) > 3:
            raise ValueError(f"bad selector {selector!r}: use DATASET[/METHOD[/IPC]] with * wildcards, e.g. 'cifar10/dm/*'")
        parts += ["*"] * (3 - len(parts))
        for part, (what, valid) in zip(parts, choices.items()):
            if not any(fnmatch.fnmatchcase(v, part) for v in valid):
                raise ValueError(f"selector {selector!r}: no {what} matches {part!r}; valid: {', '.join(valid)}")
        matched = [e for e in entries if all(fnmatch.fnmatchcase(v, p) for v, p in zip((e.dataset, e.method, str(e.ipc)), parts))]
        if not matched:
            raise ValueError(f"selector {selector!r} matches no set of the collection "
                             f"(e.g. {', '.join(e.key for e in entries[:3])}; see `condensed collection status`)")
        chosen.update((e.key, e) for e in matched)  # a key named again keeps its first place
    return list(chosen.values()) if as_named else [e for e in entries if e.key in chosen]
