"""`condensed collection status`: each set of the collection beside its paper, as a table, Markdown or JSON."""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from condensed_datasets.condense.checkpoint import checkpoint_info, device_label
from condensed_datasets.core.errors import CheckpointMismatchError
from condensed_datasets.core.evaluations import at_protocol
from condensed_datasets.core.layout import (
    CHECKPOINT_FILENAME,
    EVAL_CHECKPOINT_FILENAME,
    SET_FILENAME,
    set_dir,
)
from condensed_datasets.pipeline.collection import CollectionEntry, format_gap
from condensed_datasets.training.eval_checkpoint import progress_summary

FORMATS = ("table", "markdown", "json")
COLUMNS = ("set", "state", "iterations", "device", "accuracy", "evaluation", "paper", "gap", "sha256")


def status_rows(entries: Iterable[CollectionEntry], out: str | os.PathLike) -> list[dict[str, Any]]:
    """One row per entry: what is built under ``out`` and how it compares with its paper."""
    from condensed_datasets.core.evaluations import read_evaluations, shown
    from condensed_datasets.core.files import sha256_file
    from condensed_datasets.core.storage import load

    rows = []
    for entry in entries:
        folder = set_dir(out, entry.dataset, entry.method, entry.ipc)
        path = folder / SET_FILENAME
        budget = entry.budget
        row: dict[str, Any] = {"set": entry.key, "budget": budget, "paper_mean": entry.paper.mean if entry.paper else None,
                               "paper_std": entry.paper.std if entry.paper else None,
                               "paper_source": entry.paper.citation if entry.paper else None, "note": entry.note}
        if entry.left_out:
            rows.append({**row, "state": "left out", "iterations_run": None, "left_out": entry.left_out})
            continue
        if not path.is_file():
            # a staged real-image set keeps its evaluations, not its file
            evaluation = shown(read_evaluations(folder), None)
            if evaluation:
                rows.append({**row, "state": "evaluated, file not staged", "iterations_run": None,
                             "sha256": evaluation.get("set_sha256"), **_evaluation_cells(evaluation, entry)})
            else:
                rows.append({**row, **_unfinished_build(folder / CHECKPOINT_FILENAME, budget)})
            continue
        cset, sha256 = load(path), sha256_file(path)
        run = int(cset.meta.get("iterations_run", 0)) if budget is not None else None
        evaluation = shown(read_evaluations(folder), sha256)
        complete = budget is None or run >= budget
        progress = None if evaluation else progress_summary(folder / EVAL_CHECKPOINT_FILENAME)
        state = ("complete" if complete else "partial") + (", evaluated" if evaluation else "")
        if progress is not None:
            state += f", evaluating ({progress['done']}/{progress['models']} networks)"
        row.update(state=state, iterations_run=run, device=cset.meta.get("built_on"), sha256=sha256)
        if evaluation:
            row.update(_evaluation_cells(evaluation, entry))
        rows.append(row)
    return rows


def _unfinished_build(checkpoint: os.PathLike, budget: int | None) -> dict[str, Any]:
    """The state of a set with no file yet: ``missing``, or how far its (staged or running) build's checkpoint got,
    with the time its budget still needs at the pace between its last two checkpoints (its machine, its load at the
    time), else of its latest stretch (checkpoints written before they recorded that interval)."""
    try:
        info = checkpoint_info(checkpoint) if os.path.isfile(checkpoint) else None
    except CheckpointMismatchError:
        return {"state": "checkpoint unreadable", "iterations_run": 0}
    if info is None:
        return {"state": "missing", "iterations_run": 0}
    segments = [s for s in info.get("segments") or [] if isinstance(s, dict)]  # a hand-edited record may hold anything
    done = int(info.get("iteration", 0))
    device = segments[-1].get("device") if segments else None
    row = {"state": "checkpoint", "iterations_run": done, "device": device_label(device) if isinstance(device, str) else None}
    latest = info.get("latest")
    pace = _seconds_per_iteration([*segments, *([latest] if isinstance(latest, dict) else [])])
    if budget is not None and budget > done and pace is not None:
        row["seconds_per_iteration"] = pace
        row["hours_to_go"] = (budget - done) * pace / 3600
    return row


def _seconds_per_iteration(segments: list[dict[str, Any]]) -> float | None:
    """The pace of the latest stretch that ran iterations in measurable time (a resume that found nothing to do
    records an empty one); None when no stretch says, or a hand-edited record holds other things than numbers."""
    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    for segment in reversed(segments):
        start, end, seconds = (segment.get(k) for k in ("from", "to", "seconds"))
        if number(start) and number(end) and number(seconds) and end > start and seconds > 0:
            return seconds / (end - start)
    return None


def _to_go(hours: float) -> str:
    return f"~{hours * 60:.0f} min to go" if hours < 1.5 else f"~{hours:.1f} h to go"


def _evaluation_cells(evaluation: dict[str, Any], entry: CollectionEntry) -> dict[str, Any]:
    cells: dict[str, Any] = {f"eval_{k}": evaluation[k] for k in ("mean", "std", "protocol", "epochs", "models", "device")}
    cells["eval_at_protocol"] = at_protocol(evaluation)  # else a reduced (or unlabelled) evaluation: never the headline
    if entry.paper and cells["eval_at_protocol"]:
        cells["gap"], cells["gap_in_std"] = entry.paper.gap(evaluation["mean"], evaluation["std"])
        cells["below_paper"] = entry.below_paper(evaluation["mean"], evaluation["std"])
    return cells


def _cells(row: dict[str, Any]) -> dict[str, str]:
    iterations = "-" if row["budget"] is None or row.get("iterations_run", 0) is None else f"{row.get('iterations_run') or 0}/{row['budget']}"
    if "hours_to_go" in row:
        iterations += f", {_to_go(row['hours_to_go'])}"
    has_eval = "eval_mean" in row
    headline = has_eval and row["eval_at_protocol"]
    gap = format_gap(row["gap"], row.get("gap_in_std")) if "gap" in row else "-"
    return {
        "set": row["set"], "state": row["state"], "iterations": iterations, "device": row.get("device") or "-",
        "accuracy": f"{row['eval_mean']:.2f} ± {row['eval_std']:.2f}" if headline else ("not at protocol" if has_eval else "-"),
        "evaluation": (f"{row['eval_protocol']}, {row['eval_epochs']} ep, {row['eval_models']} models"
                       + ("" if headline else f", reduced: {row['eval_mean']:.2f} ± {row['eval_std']:.2f}")) if has_eval else "-",
        "paper": (f"{row['paper_mean']:.1f}" + (f" ± {row['paper_std']:.1f}" if row["paper_std"] is not None else ""))
                 if row["paper_mean"] is not None else "none reported",
        "gap": gap, "sha256": (row.get("sha256") or "-")[:12],
    }


def render_status(rows: list[dict[str, Any]], fmt: str) -> str:
    """The rows as an aligned text table, a Markdown table, or JSON (full values)."""
    if fmt == "json":
        return json.dumps(rows, indent=2)
    cells = [_cells(r) for r in rows]
    lists = {title: [f"{r['set']}: {r[key]}" for r in rows if r.get(key)]
             for title, key in (("left out", "left_out"), ("more than one std below the paper", "below_paper"))}
    if fmt == "markdown":
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(c[k] for k in COLUMNS) + " |" for c in cells]
        for title, items in lists.items():
            lines += (["", title[0].upper() + title[1:] + ":", ""] + [f"- {r}" for r in items]) if items else []
        return "\n".join(lines)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    widths = {k: max([len(k)] + [len(c[k]) for c in cells]) for k in COLUMNS}
    lines = ["  ".join(k.ljust(widths[k]) for k in COLUMNS)]
    lines += ["  ".join(c[k].ljust(widths[k]) for k in COLUMNS) for c in cells]
    for title, items in lists.items():
        lines += (["", f"{title}:"] + [f"  {r}" for r in items]) if items else []
    return "\n".join(line.rstrip() for line in lines)
