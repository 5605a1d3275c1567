"""``eval.json``: the one store of a set's evaluation results and the one rule for its headline number.

Every writer goes through `record_evaluation`, which binds the result to the set file it measured (its
sha256) and refuses a result that does not say its protocol, epochs, networks, device and whether it was
reduced. Every reader (the card, ``collection status``, ``condensed info`` and ``list``) asks `headline`:
the latest full-protocol evaluation of exactly this file, else none ("not evaluated at its protocol").
Reduced evaluations stay in the file and are listed, labelled, never shown as the set's accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from condensed_datasets.core.files import atomic_write_bytes, sha256_file
from condensed_datasets.core.layout import EVAL_FILENAME, SET_FILENAME
from condensed_datasets.core.locks import file_lock
from condensed_datasets.core.validation import check_evaluation

NEEDED = ("mean", "std", "protocol", "epochs", "models", "arch")  # what every record, old or new, holds
RECORDED = ("protocol", "epochs", "models", "device", "reduced_epochs")  # what a writer must state besides the numbers
NOT_AT_PROTOCOL = "not evaluated at its protocol"


def read_evaluations(set_folder: str | Path) -> list[dict[str, Any]]:
    """The evaluation results recorded beside a set (``eval.json``, a list, oldest first)."""
    path = Path(set_folder) / EVAL_FILENAME
    if not path.is_file():
        return []
    try:
        results = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); fix or remove it") from None
    if not isinstance(results, list) or not all(isinstance(r, dict) and all(k in r for k in NEEDED) for r in results):
        raise ValueError(f"{path} must hold a list of evaluation results, each with {', '.join(NEEDED)}; fix or remove it")
    for i, result in enumerate(results):
        try:
            check_evaluation(result, f"result {i}")  # every field's type and range (mean, std, epochs, models, ...)
        except ValueError as err:
            raise ValueError(f"{path}: {err}; fix or remove it") from None
    return results


def record_evaluation(set_path: str | Path, result: dict[str, Any]) -> dict[str, Any]:
    """Append ``result`` to the ``eval.json`` beside the set file ``set_path`` (atomically, under a lock).

    The record gains the file's sha256 (``set_sha256``); ``result`` must state `RECORDED` (the protocol,
    epochs, networks, device and ``reduced_epochs``). Returns the record as written.
    """
    missing = [k for k in NEEDED + RECORDED if k not in result]
    if missing:
        raise ValueError(f"an evaluation record needs {', '.join(missing)}; got {', '.join(sorted(result))}")
    set_path = Path(set_path)
    record = {**result, "set_sha256": sha256_file(set_path)}
    check_evaluation(record, "the new evaluation")
    path = set_path.parent / EVAL_FILENAME
    with file_lock(path):
        results = read_evaluations(set_path.parent) + [record]
        atomic_write_bytes(path, (json.dumps(results, indent=2) + "\n").encode())
    return record


def at_protocol(record: dict[str, Any]) -> bool:
    """Whether a record is a full-protocol evaluation (it says so: ``reduced_epochs`` is recorded and false)."""
    return record.get("reduced_epochs") is False


def headline(records: list[dict[str, Any]], sha256: str | None) -> dict[str, Any] | None:
    """The one rule: the latest full-protocol evaluation of exactly the file with ``sha256``, else ``None``.

    ``sha256=None`` stands for a set staged without its file (a real-image baseline): its latest
    full-protocol evaluation of any file counts.
    """
    for record in reversed(records):
        if at_protocol(record) and (sha256 is None or record.get("set_sha256") == sha256):
            return record
    return None


def shown(records: list[dict[str, Any]], sha256: str | None) -> dict[str, Any] | None:
    """What a listing shows: the `headline`, else the latest record of exactly this file, labelled by `at_protocol`."""
    return headline(records, sha256) or next(
        (r for r in reversed(records) if sha256 is None or r.get("set_sha256") == sha256), None)


def set_headline(set_folder: str | Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """`headline` of the set in ``set_folder`` (its file hashed if present) and every record beside it."""
    records = read_evaluations(set_folder)
    path = Path(set_folder) / SET_FILENAME
    return headline(records, sha256_file(path) if path.is_file() else None), records


def accuracy_text(record: dict[str, Any] | None) -> str:
    """``mean ± std`` of a headline record, else `NOT_AT_PROTOCOL`."""
    return f"{record['mean']:.2f} ± {record['std']:.2f}" if record else NOT_AT_PROTOCOL


def label(record: dict[str, Any]) -> str:
    """One line describing any record, reduced ones labelled as such (for listings)."""
    kind = "full protocol" if at_protocol(record) else ("reduced" if record.get("reduced_epochs") else "unlabelled")
    return (f"{record['mean']:.2f} ± {record['std']:.2f} % ({record['protocol']} protocol, {record['models']} x "
            f"{record['arch']}, {record['epochs']} epochs, {kind})")


def summary(record: dict[str, Any] | None, records: list[dict[str, Any]]) -> str:
    """One line for a listing: the headline with its protocol, else `NOT_AT_PROTOCOL` and the latest other record."""
    if record is not None:
        others = len(records) - 1
        return f"{accuracy_text(record)} % ({record['protocol']})" + (f" [{others} other evaluation(s)]" if others else "")
    if not records:
        return NOT_AT_PROTOCOL
    latest = records[-1]
    kind = "reduced" if latest.get("reduced_epochs") else "unlabelled"
    return (f"{NOT_AT_PROTOCOL}; latest: {latest['mean']:.2f} ± {latest['std']:.2f} % ({latest['protocol']}), {kind}, "
            f"{latest['epochs']} epochs")
