"""Dataset cards: render the README.md of one Hub repo from the sets in a local dataset folder.

A dataset folder is ``ROOT/<dataset>/`` holding ``<method>/ipc<N>/condensed.safetensors`` (plus
``eval.json`` and ``preview.png``) for every set; the card is rendered from ``hub_cards/`` through
``huggingface_hub.DatasetCard`` and states honestly when a set was condensed or evaluated at a
reduced budget or on the CPU.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from condensed_datasets.condense.checkpoint import device_label
from condensed_datasets.core.condensed_set import CondensedSet
from condensed_datasets.core.evaluations import (
    accuracy_text,
    at_protocol,
    headline,
    read_evaluations,
    shown,
)
from condensed_datasets.core.files import atomic_write_bytes, sha256_file
from condensed_datasets.core.layout import (
    BUILD_FILENAME,
    EVAL_FILENAME,
    PARQUET_FILENAME,
    PREVIEW_FILENAME,
    SET_FILENAME,
    set_files,
    set_relative_dir,
)
from condensed_datasets.core.methods import METHOD_NAMES, method_paper

TEMPLATE = "dataset_card.md"
LICENSE_NOTES = {
    "cc-by-sa-3.0": "MNIST (LeCun, Cortes, Burges) is distributed under CC BY-SA 3.0; these derived sets are shared alike.",
    "other": "The source dataset is distributed for research use; check its terms before other uses.",
}


@dataclass
class LocalSet:
    """A set on disk with its latest evaluation (if any)."""

    path: Path
    cset: CondensedSet
    evaluation: dict[str, Any] | None  # the headline (`core.evaluations.headline`)
    records: list[dict[str, Any]]
    sha256: str  # of the file, hashed once here (evaluation records bind to it)

    @property
    def relative(self) -> str:
        return set_relative_dir(self.cset.method, self.cset.ipc)


def find_sets(folder: str | os.PathLike) -> list[LocalSet]:
    """Every ``<method>/ipc<N>/condensed.safetensors`` under a dataset folder, sorted by method then IPC."""
    found = []
    for path in set_files(folder):
        records, sha256 = read_evaluations(path.parent), sha256_file(path)
        found.append(LocalSet(path, CondensedSet.load(path), headline(records, sha256), records, sha256))
    return sorted(found, key=lambda s: (s.cset.method, s.cset.ipc))


def find_baselines(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The evaluations of sets staged without their file (``<method>/ipc<N>/eval.json`` alone): the real-image
    baselines (`random`, `herding`), whose files are the source's images; sorted by method then IPC."""
    found = []
    for path in Path(folder).glob(f"*/ipc*/{EVAL_FILENAME}"):
        if (path.parent / SET_FILENAME).exists():
            continue
        evaluation = shown(read_evaluations(path.parent), None)  # labelled below when reduced
        method = evaluation.get("method") if evaluation else None
        if method in METHOD_NAMES and method_paper(method).real_images:
            found.append(evaluation)
    return sorted(found, key=lambda e: (str(e.get("method")), int(e.get("ipc", 0))))


def _baseline_row(e: dict[str, Any]) -> dict[str, Any]:
    sha = e.get("set_sha256")
    return {"method": e.get("method", "-"), "ipc": e.get("ipc", "-"), "accuracy": f"{e['mean']:.2f} ± {e['std']:.2f}",
            "evaluation": _evaluation_text(e) + ("" if at_protocol(e) else "; reduced, not at its protocol"),
            "seed": e.get("seed", "-"), "sha256": f"`{sha[:12]}`" if sha else "-"}


def _built_from(s: LocalSet) -> str:
    """The copies of the source a set's build read: each stretch's (``build.json``), else the set's own record."""
    sources = (_build_record(s) or {}).get("sources")
    return " + ".join(_short(x) for x in sources) if sources else _short(s.cset.meta.get("source_sha256"))


def _short(digest: str | None) -> str:
    return f"`{digest[:12]}`" if digest and digest != "not recorded" else "not recorded"


def _source_copies(sets: list[LocalSet], baselines: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Which copy of the source each set was built from and its shown accuracy tested on (``source_sha256``), one row
    per pair of copies; empty when nothing records one (all written before it was recorded)."""
    def tested(e: dict[str, Any] | None) -> str:
        return _short(e.get("source_sha256")) if e else "no evaluation"

    pairs = [(_built_from(s), tested(s.evaluation or shown(s.records, s.sha256)), f"{s.cset.method} IPC {s.cset.ipc}")
             for s in sets]
    pairs += [(_short(e.get("set_source_sha256")), tested(e), f"{e.get('method')} IPC {e.get('ipc')} (baseline)")
              for e in baselines]
    if all("`" not in built + where for built, where, _ in pairs):
        return []
    groups: dict[tuple[str, str], list[str]] = {}
    for built, where, name in pairs:
        groups.setdefault((built, where), []).append(name)
    return [{"built": built, "tested": where, "sets": ", ".join(names)} for (built, where), names in groups.items()]


def _unrecorded_copy_note(dataset: str, sets: list[LocalSet], baselines: list[dict[str, Any]]) -> str:
    """The collection's word on which copy of ``dataset`` the sets were built from, when some set's files do not say."""
    from condensed_datasets.pipeline.collection import copy_note

    unrecorded = [s for s in sets if "source_sha256" not in s.cset.meta] + [e for e in baselines if "source_sha256" not in e]
    return copy_note(dataset) if unrecorded else ""


def dataset_folders(root: str | os.PathLike) -> list[Path]:
    """``root`` itself when it holds sets, else each sub-folder of ``root`` that does."""
    root = Path(root)
    if set_files(root):
        return [root]
    return [d for d in sorted(root.iterdir()) if d.is_dir() and set_files(d)]


def _published(s: LocalSet) -> tuple[int | None, dict[str, Any]]:
    """The set's published budget and its changes from the published config: as recorded when it was built,
    else (a set built before sets recorded them) from its recipe."""
    meta = s.cset.meta
    if "budget" in meta:
        return meta["budget"], dict(meta.get("config_changes") or {})
    from condensed_datasets.recipes import get_method

    method = get_method(s.cset.method)
    reference = method.config(s.cset.dataset, s.cset.ipc)
    changed = {k: v for k, v in meta.get("config", {}).items()
               if k in reference and reference[k] not in (None, v) and k != method.iterations_key}  # None: resolved at run time
    return (reference.get(method.iterations_key) if method.iterations_key else None), changed


def _notes(s: LocalSet) -> str:
    entry = _entry(s)
    notes = [entry.note] if entry is not None and entry.note else []  # how the collection departs from the paper
    budget, changed = _published(s)
    run = s.cset.meta.get("iterations_run")
    if budget and run is not None and run < budget:
        notes.append(f"reduced budget: {run} of {budget} iterations")
    if s.cset.meta.get("built_on") == "cpu" and budget is not None:
        notes.append("condensed on CPU")
    if changed:
        notes.append("changed from the published config: " + ", ".join(f"{k}={v}" for k, v in sorted(changed.items())))
    for record in [r for r in s.records if not at_protocol(r)][-MAX_LISTED:]:
        notes.append(_not_headline(record, s))
    if s.evaluation:
        notes += _how_evaluated(s.evaluation)
    return "; ".join(notes) or "-"


MAX_LISTED = 3  # reduced evaluations listed in a set's notes (the latest)


def _how_evaluated(e: dict[str, Any]) -> list[str]:
    notes = ["evaluated on CPU"] if str(e.get("device", "")).startswith("cpu") else []
    if e.get("precision", "float32") != "float32":
        notes.append(f"evaluation networks computed in {e['precision']} (float32 weights)")
    return notes


def _not_headline(e: dict[str, Any], s: LocalSet) -> str:
    """A reduced (or unlabelled) evaluation, listed with its label, never as the set's accuracy."""
    from condensed_datasets.training.evaluate import full_epochs

    full = full_epochs(e["protocol"], s.cset.dataset, s.cset.num_classes, int(e.get("train_images", s.cset.ipc)))
    kind = f"reduced evaluation: {e['epochs']} of {full} epochs" if e.get("reduced_epochs") else \
        "unlabelled evaluation (recorded before evaluations said whether they were reduced)"
    how = ", ".join([f"{e['models']} x {e['arch']}, {e['epochs']} epochs"] + _how_evaluated(e))
    return f"{kind}, not the set's accuracy: {e['mean']:.2f} ± {e['std']:.2f} % ({how})"


def _entry(s: LocalSet) -> Any:
    """The set's `CollectionEntry`, or ``None`` for a set outside the collection."""
    from condensed_datasets.pipeline.collection import load_collection

    return next((e for e in load_collection() if (e.dataset, e.method, e.ipc) == (s.cset.dataset, s.cset.method, s.cset.ipc)), None)


def _beside_paper(s: LocalSet) -> dict[str, str]:
    """The paper's number for this set (from the collection), our gap to it, and its source."""
    from condensed_datasets.pipeline.collection import format_gap

    entry = _entry(s)
    if entry is None or entry.paper is None:
        return {"paper_accuracy": "none reported", "gap": "-", "paper_source": "", "shortfall": ""}
    e = s.evaluation
    gap = format_gap(*entry.paper.gap(e["mean"], e["std"])) if e else "-"
    return {"paper_accuracy": str(entry.paper), "gap": gap, "paper_source": entry.paper.citation,
            "shortfall": entry.below_paper(e["mean"], e["std"]).rstrip(".") if e else ""}  # the card ends it


def _build_record(s: LocalSet) -> dict[str, Any] | None:
    """The set's ``build.json`` (each stretch of its build), if it has one."""
    path = s.path.parent / BUILD_FILENAME
    return json.loads(path.read_text()) if path.is_file() else None


def _built(s: LocalSet) -> str:
    """Where, on what and how long the set was built (``build.json``), else what the set itself records."""
    iterations = s.cset.meta.get("iterations_run")
    record = _build_record(s)
    if record is not None:
        machines = _per_machine(record["segments"])
        total = f"{record['iterations']} iterations, {record['seconds'] / 3600:.2f} h"
        if len(machines) == 1:
            return f"{total} on {next(iter(machines))}"
        return f"{total}: " + "; ".join(f"{n} in {seconds / 3600:.2f} h on {device}" for device, (n, seconds) in machines.items())
    where = s.cset.meta.get("built_on", "-")
    return f"{iterations} iterations on {where}" if iterations is not None else f"on {where}"


def _per_machine(segments: list[dict[str, Any]]) -> dict[str, tuple[int, float]]:
    """Iterations and seconds of a build's stretches summed per machine, in the order the machines first ran it."""
    machines: dict[str, tuple[int, float]] = {}
    for segment in segments:
        device = device_label(segment["device"])
        n, seconds = machines.get(device, (0, 0.0))
        machines[device] = (n + segment["to"] - segment["from"], seconds + segment["seconds"])
    return machines


def _row(s: LocalSet) -> dict[str, Any]:

    with_decoded = s.cset.decode_all()[0].shape[0]
    e = s.evaluation
    return {**_beside_paper(s), "built": _built(s),
        "method": s.cset.method, "ipc": s.cset.ipc, "stored": len(s.cset.images), "decoded": with_decoded,
        "bytes": s.path.stat().st_size,
        "accuracy": accuracy_text(e),
        "evaluation": _evaluation_text(e),
        "seed": s.cset.meta.get("seed", "-"), "version": s.cset.meta.get("package_version", "-"), "notes": _notes(s),
        "paper": method_paper(s.cset.method).paper, "path": f"{s.relative}/{SET_FILENAME}",
        "decoder": s.cset.decoder.describe(), "preview": f"{s.relative}/{PREVIEW_FILENAME}",
    }


def _evaluation_text(e: dict[str, Any] | None) -> str:
    """The protocol, networks and epochs of the (last-epoch) accuracy; the papers' best-of-periodic number labelled apart."""
    if not e:
        return "-"
    text = f"{e['protocol']} protocol, {e['models']} x {e['arch']}, {e['epochs']} epochs (accuracy after the last epoch)"
    best = e.get("best_of_periodic")
    if best:
        epochs = ", ".join(str(x) for x in best["epochs"])
        text += f"; best of periodic tests at epochs {epochs}, as IDC/IDM report: {best['mean']:.2f} ± {best['std']:.2f}"
    return text


def _left_out(dataset: str) -> list[dict[str, Any]]:
    """The sets of ``dataset`` the collection decided not to publish, with the reason."""
    from condensed_datasets.pipeline.collection import load_collection

    return [{"method": e.method, "ipc": e.ipc, "reason": e.left_out} for e in load_collection()
            if e.dataset == dataset and e.left_out]


def _size_category(n: int) -> str:
    return "n<1K" if n < 1000 else ("1K<n<10K" if n < 10_000 else ("10K<n<100K" if n < 100_000 else "100K<n<1M"))


def render_card(folder: str | os.PathLike, repo_id: str | None = None, sets: list[LocalSet] | None = None) -> str:
    """The README.md (YAML header + body) for the Hub repo of the sets in ``folder`` (``sets``: `find_sets`'s answer
    for it, when the caller already has it)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from condensed_datasets.datasets import DATASET_CLASSES
    from condensed_datasets.hub.pins import default_repo_id
    from condensed_datasets.training.sources import get_source

    sets = find_sets(folder) if sets is None else sets
    if not sets:
        raise FileNotFoundError(f"no condensed sets under {folder} (expected <method>/ipc<N>/{SET_FILENAME})")
    dataset = sets[0].cset.dataset
    spec = get_source(dataset)
    rows = [_row(s) for s in sets]
    baselines = find_baselines(folder)
    methods = sorted({s.cset.method for s in sets})
    configs = [{"config_name": f"{s.cset.method}-ipc{s.cset.ipc}", "data_files": [{"split": "train", "path": f"{s.relative}/{PARQUET_FILENAME}"}]}
               for s in sets]
    configs[0]["default"] = True
    card_data = DatasetCardData(
        license=spec.license, task_categories=["image-classification"], task_ids=["multi-class-image-classification"],
        size_categories=[_size_category(sum(r["decoded"] for r in rows))], annotations_creators=["machine-generated"],
        source_datasets=[spec.hub_id] if spec.hub_id else ["original"], pretty_name=f"Condensed {dataset}",
        tags=["dataset-condensation", "dataset-distillation", "synthetic", "condensed-datasets", *methods], configs=configs,
        **({"license_name": spec.license_name, "license_link": spec.license_link} if spec.license_name else {}),
    )
    loader = DATASET_CLASSES.get(dataset)
    bibtex = [b for b in dict.fromkeys(method_paper(m).bibtex for m in methods) if b] + ([spec.citation] if spec.citation else [])
    template = resources.files("condensed_datasets.hub_cards").joinpath(TEMPLATE).read_text()
    card = DatasetCard.from_template(
        card_data, template_str=template, source_title=dataset, loader_class=loader.__name__ if loader else "CondensedDataset",
        example=rows[0], repo_id=repo_id or default_repo_id(dataset), sets=rows,
        baselines=[_baseline_row(e) for e in baselines], source_copies=_source_copies(sets, baselines),
        copy_note=_unrecorded_copy_note(dataset, sets, baselines), left_out=_left_out(dataset), bibtex=bibtex, license=spec.license,
        license_link=spec.license_link, license_note=LICENSE_NOTES.get(spec.license, ""),
    )
    return str(card)


def write_card(folder: str | os.PathLike, repo_id: str | None = None) -> Path:
    """Render the card and write ``folder/README.md`` atomically; returns its path."""
    path = Path(folder) / "README.md"
    atomic_write_bytes(path, render_card(folder, repo_id).encode())
    return path
