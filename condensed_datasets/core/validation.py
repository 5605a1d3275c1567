"""What a condensed set may claim, checked before anything is decoded: one validation for save, load, the loader and ``info``.

A set file claims tensors (names, dtypes, shapes), labels and soft labels, a class list, a
normalisation, sizes, and a decoder with its parameters. `check_set` refuses any claim outside its
domain with a `CondensedFormatError` naming the field, the value and the limit; values are printed
with `brief`, so a message stays one short line whatever the file holds. The decoder's own limits
are `formation.check_decoder`'s: together they bound what a set decodes to by what its stored
pixels can yield, so a small file never makes the loader allocate more than the decoded set's real
size.

The same kind of check for what travels beside a set: one evaluation record of ``eval.json``
(`check_evaluation`) and the class folders of an image-folder source (`check_split_classes`).

Pure checks over plain values and tensors: nothing here reads files, decodes, downloads or builds.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor

from condensed_datasets.core.decoders import check_decoder
from condensed_datasets.core.errors import CondensedFormatError, brief
from condensed_datasets.core.files import SHA256_HEX
from condensed_datasets.core.layout import check_name

DECODER_PREFIX = "decoder."
SET_TENSORS = ("images", "labels", "soft_labels")
REQUIRED_META = ("dataset", "classes", "mean", "std", "method", "ipc")
MAX_NESTING = 32  # levels of JSON objects and lists in the metadata (a set's config nests 3)
SOFT_LABEL_TOLERANCE = 1e-3  # how far a soft-label row may sum from 1 (float32 softmax is within 1e-5)
MAX_DECODED_VALUES = 1 << 30  # floats of a whole decoded set (4 GiB): TinyImageNet ipc50 with factor 2 decodes 4.9e8


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_count(x: Any, low: int = 1) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low


def _is_text(x: Any) -> bool:
    return isinstance(x, str) and bool(x)


# -- a set ---------------------------------------------------------------------------------------------------------
def check_storable(images: Any, labels: Any, soft_labels: Any, weights: Mapping[str, Any], where: str) -> None:
    """The kinds of an in-memory set's tensors, before `storage.save` stores them as float32 and int64.

    Floating images are stored as float32, integer labels as int64; raw pixels (uint8) and fractional
    or boolean labels are refused rather than cast into something else.
    """
    named = [("images", images), ("labels", labels), *([("soft_labels", soft_labels)] if soft_labels is not None else []),
             *((DECODER_PREFIX + str(k), v) for k, v in weights.items())]
    for name, t in named:
        if not isinstance(t, Tensor):
            raise CondensedFormatError(f"{where}: {name} must be a tensor, got {type(t).__name__}")
    if not images.is_floating_point():
        raise CondensedFormatError(f"{where}: images are {images.dtype}; a set stores float images in the source's "
                                   "normalised space ((pixels / 255 - mean) / std), not raw pixels")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise CondensedFormatError(f"{where}: labels are {labels.dtype}; class ids must be integers")
    for name, t in named[2:]:
        if not t.is_floating_point():
            raise CondensedFormatError(f"{where}: {name} must be floating point, got {t.dtype}")


def check_set(tensors: Mapping[str, Tensor], meta: Any, decoder: Any, where: str) -> None:
    """Every claim of a set: its metadata, its tensors' names, dtypes and shapes, its decoder against the stored
    images, then the values (finite, labels in range, ``ipc`` images per class, soft labels as probabilities).

    Raises `CondensedFormatError` ``"<where>: <field> <value> <what it must be>"``.
    """
    try:
        _check_document(meta, decoder)
        images, labels, soft = _check_tensors(tensors, meta)
        weights = {k[len(DECODER_PREFIX):]: v for k, v in tensors.items() if k.startswith(DECODER_PREFIX)}
        check_decoder(decoder["name"], decoder.get("params", {}), tuple(images.shape[1:]), weights)
        if "image_size" in meta and decoder["name"] != "learned" and list(images.shape[2:]) != meta["image_size"]:
            raise ValueError(f"images are {list(images.shape[2:])} pixels, the metadata says {brief(meta['image_size'])}")
        _check_decoded_size(decoder["name"], decoder.get("params", {}), tuple(images.shape))
        _check_values(tensors, meta, labels, soft)
    except ValueError as err:  # CondensedFormatError and UnknownNameError included
        raise CondensedFormatError(f"{where}: {err}") from None


def _check_decoded_size(name: str, params: dict[str, Any], shape: tuple[int, ...]) -> None:
    """What the decoder would allocate: refused above `MAX_DECODED_VALUES` (a factor may be as large as the image side,
    so a 3 MB file of 512 x 512 images could otherwise ask for terabytes). Runs after `check_decoder`."""
    n, channels, height, width = shape
    if name == "multi_formation":
        per_image = int(params.get("factor", 2)) ** 2 * height * width
    elif name == "multi_scale":
        per_image = sum(int(f) ** 2 for f in params.get("factors", [1, 2])) * height * width
    elif name == "learned":
        per_image = height * width * int(params.get("scale", 1)) ** 2
    else:
        per_image = height * width
    values = n * channels * per_image
    if values > MAX_DECODED_VALUES:
        raise ValueError(f"decoder {name!r} {brief(params)} would decode {n} stored images of {channels} x {height} x "
                         f"{width} into {values} values, more than the limit of {MAX_DECODED_VALUES}")


def _check_json(value: Any, what: str) -> None:
    """No NaN or infinity anywhere (JSON has none; Python's parser accepts them) and at most `MAX_NESTING` levels."""
    stack = [(value, what, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{path} is {item} (not a finite number)")
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in children:
            if isinstance(child, (dict, list, float)):
                if depth + 1 > MAX_NESTING:
                    raise ValueError(f"{what} nests deeper than {MAX_NESTING} levels")
                name = f"{path}[{key}]" if isinstance(item, list) else f"{path}.{key if len(str(key)) <= 40 else brief(key)}"
                stack.append((child, name, depth + 1))


def _check_document(meta: Any, decoder: Any) -> None:
    if not isinstance(meta, dict) or not isinstance(decoder, dict):
        raise ValueError("the metadata must hold a 'meta' and a 'decoder' object")
    _check_json(meta, "metadata")
    _check_json(decoder, "decoder")
    for key in REQUIRED_META:
        if key not in meta:
            raise ValueError(f"metadata lacks {key!r}")
    for key in ("dataset", "method"):
        if not _is_text(meta[key]):
            raise ValueError(f"metadata {key!r} must be a non-empty string, got {brief(meta[key])}")
    check_name(meta["method"], "method")
    classes = meta["classes"]
    if not isinstance(classes, list) or not classes or not all(_is_text(c) for c in classes):
        raise ValueError(f"metadata 'classes' must be a non-empty list of distinct names, got {brief(classes)}")
    if len(set(classes)) != len(classes):
        seen: set[str] = set()
        twice = next(c for c in classes if c in seen or seen.add(c))
        raise ValueError(f"metadata 'classes' must be a non-empty list of distinct names: {brief(twice)} appears twice")
    if not _is_count(meta["ipc"]):
        raise ValueError(f"metadata 'ipc' must be a positive integer, got {brief(meta['ipc'])}")
    for key in ("mean", "std"):
        if not isinstance(meta[key], list) or not meta[key] or not all(_is_number(v) for v in meta[key]):
            raise ValueError(f"metadata {key!r} must be a list of finite numbers (one per channel), got {brief(meta[key])}")
    if any(v <= 0 for v in meta["std"]):
        raise ValueError(f"metadata 'std' must be positive, got {brief(meta['std'])}")
    if "channels" in meta and not _is_count(meta["channels"]):
        raise ValueError(f"metadata 'channels' must be a positive integer, got {brief(meta['channels'])}")
    size = meta.get("image_size", [1, 1])
    if not isinstance(size, list) or len(size) != 2 or not all(_is_count(s) for s in size):
        raise ValueError(f"metadata 'image_size' must be [height, width] in pixels, got {brief(size)}")
    if not _is_text(decoder.get("name")) or len(decoder["name"]) > 64:
        raise ValueError(f"the decoder name must be a short non-empty string, got {brief(decoder.get('name'))}")
    unknown = sorted(str(k) for k in decoder if k not in ("name", "params"))
    if unknown:
        raise ValueError(f"the decoder has unknown field(s) {brief(unknown)}; valid: name, params")


def _check_tensors(tensors: Mapping[str, Tensor], meta: dict[str, Any]) -> tuple[Tensor, Tensor, Tensor | None]:
    """Names, dtypes and shapes, and the sizes the metadata claims; no tensor value is read."""
    unexpected = sorted(k for k in tensors if k not in SET_TENSORS and not k.startswith(DECODER_PREFIX))
    if unexpected:
        raise ValueError(f"unexpected tensor(s) {brief(unexpected)}; a set holds images, labels, soft_labels and "
                         f"{DECODER_PREFIX}* weights")
    images, labels, soft = tensors.get("images"), tensors.get("labels"), tensors.get("soft_labels")
    if images is None or labels is None:
        raise ValueError("the file must hold 'images' and 'labels' tensors")
    if images.dtype != torch.float32 or images.ndim != 4:
        raise ValueError(f"images must be a float32 [n, C, H, W] tensor, got {images.dtype} {list(images.shape)}")
    n, channels, height, width = images.shape
    if n == 0:
        raise ValueError("the set is empty (0 images)")
    if 0 in (channels, height, width):
        raise ValueError(f"images are {channels} x {height} x {width} (channels x height x width); each must be at least 1")
    if labels.dtype != torch.int64 or labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(f"labels must be int64 [{n}], got {labels.dtype} {list(labels.shape)}")
    classes, ipc = len(meta["classes"]), meta["ipc"]
    if classes * ipc != n:
        raise ValueError(f"ipc is {ipc} but the classes hold {n} images in all ({classes} classes x ipc {ipc} "
                         f"would be {classes * ipc})")
    if len(meta["mean"]) != channels or len(meta["std"]) != channels:
        raise ValueError(f"mean/std have {len(meta['mean'])}/{len(meta['std'])} values for {channels} channels")
    if "channels" in meta and meta["channels"] != channels:
        raise ValueError(f"images have {channels} channels, the metadata says {brief(meta['channels'])}")
    learned = meta.get("decoder") == "learned"  # unused key; the decoder spec is separate (below)
    del learned
    if soft is not None and (soft.dtype != torch.float32 or soft.ndim != 2 or tuple(soft.shape) != (n, classes)):
        raise ValueError(f"soft_labels must be float32 [{n}, {classes}], got {soft.dtype} {list(soft.shape)}")
    for name, t in tensors.items():
        if name.startswith(DECODER_PREFIX) and not t.is_floating_point():
            raise ValueError(f"decoder weight {name!r} must be floating point, got {t.dtype}")
    return images, labels, soft


def _check_values(tensors: Mapping[str, Tensor], meta: dict[str, Any], labels: Tensor, soft: Tensor | None) -> None:
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise ValueError(f"tensor {name!r} holds NaN or infinite values")
    classes, ipc = len(meta["classes"]), meta["ipc"]
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise ValueError(f"labels must lie in [0, {classes}), found [{low}, {high}]")
    counts = torch.bincount(labels, minlength=classes)
    if bool((counts != ipc).any()):
        c = int(torch.nonzero(counts != ipc)[0])
        raise ValueError(f"ipc is {ipc} but the classes hold {brief(counts)} images (class {c}, "
                         f"{brief(meta['classes'][c])}, holds {int(counts[c])})")
    if soft is not None:
        if bool((soft < 0).any()):
            row = int(torch.nonzero(soft < 0)[0, 0])
            raise ValueError(f"soft_labels must be probabilities: row {row} holds {float(soft[row].min()):.4g} "
                             "(entries must be >= 0)")
        error = (soft.sum(dim=1) - 1).abs()
        if bool((error > SOFT_LABEL_TOLERANCE).any()):
            row = int(error.argmax())
            raise ValueError(f"soft_labels must be probabilities: row {row} sums to {float(soft[row].sum()):.4g} "
                             f"(each row must sum to 1 within {SOFT_LABEL_TOLERANCE})")


# -- beside a set --------------------------------------------------------------------------------------------------
_EVALUATION_TEXT = ("protocol", "arch", "method", "dataset", "device", "precision", "together")
_EVALUATION_COUNTS = ("epochs", "models", "train_images", "ipc")


def check_evaluation(record: Any, where: str) -> dict[str, Any]:
    """One evaluation result (an entry of ``eval.json``, or a registry entry's ``accuracy``); returns it.

    ``mean``, ``std``, ``protocol``, ``epochs``, ``models`` and ``arch`` are required; every other known field is
    checked when present (others are kept as they are). A `ValueError` names ``where``, the field and the value.
    """
    if not isinstance(record, dict):
        raise ValueError(f"{where} must be an object, got {brief(record)}")
    missing = [k for k in ("mean", "std", "protocol", "epochs", "models", "arch") if k not in record]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")

    def refuse(field: str, want: str) -> None:
        raise ValueError(f"{where}: {field} {brief(record[field])} {want}")

    _check_accuracy(record, where)
    for key in _EVALUATION_TEXT:
        if key in record and not _is_text(record[key]):
            refuse(key, "must be a non-empty string")
    for key in _EVALUATION_COUNTS:
        if key in record and not _is_count(record[key]):
            refuse(key, "must be a positive integer")
    if "seed" in record and not _is_count(record["seed"], 0):
        refuse("seed", "must be an integer >= 0")
    if "reduced_epochs" in record and not isinstance(record["reduced_epochs"], bool):
        refuse("reduced_epochs", "must be true or false")
    if "set_sha256" in record and not (isinstance(record["set_sha256"], str) and SHA256_HEX.match(record["set_sha256"])):
        refuse("set_sha256", "must be 64 hex digits")
    if "accuracies" in record and not (isinstance(record["accuracies"], list) and all(_is_number(a) for a in record["accuracies"])):
        refuse("accuracies", "must be a list of finite numbers")
    best = record.get("best_of_periodic")
    if best is not None:
        if not isinstance(best, dict) or not {"mean", "std", "epochs"} <= set(best):
            refuse("best_of_periodic", "must be an object with mean, std and epochs")
        _check_accuracy(best, f"{where}: best_of_periodic")
        if not isinstance(best["epochs"], list) or not all(_is_count(e) for e in best["epochs"]):
            raise ValueError(f"{where}: best_of_periodic epochs {brief(best['epochs'])} must be a list of positive integers")
    return record


def _check_accuracy(record: dict[str, Any], where: str) -> None:
    if not _is_number(record["mean"]) or not 0 <= record["mean"] <= 100:
        raise ValueError(f"{where}: mean {brief(record['mean'])} must be a finite accuracy from 0 to 100 (%)")
    if not _is_number(record["std"]) or record["std"] < 0:
        raise ValueError(f"{where}: std {brief(record['std'])} must be a finite number >= 0")


def check_split_classes(train: list[str], test: list[str], where: str) -> None:
    """The class folders of an image-folder source's train and test splits must be the same names: a test class
    unknown to train would be dropped from the test split without a word, a train class without test images
    would go untested."""
    unknown, untested = sorted(set(test) - set(train)), sorted(set(train) - set(test))
    problems = ([f"test classes {brief(unknown)} are not train classes (their images would be dropped)"] if unknown else []) + \
               ([f"train classes {brief(untested)} have no test folder"] if untested else [])
    if problems:
        raise ValueError(f"{where}: the train and test splits must hold the same class folders; " + "; ".join(problems))


# -- names used by storage.py and datasets.py ------------------------------------------------------------------------
show = brief
validate_set = check_set


def validate_condensed_set(cset: Any, where: str) -> None:
    """`check_set` over an in-memory `CondensedSet` (its tensors as they would be stored)."""
    tensors = {"images": cset.images, "labels": cset.labels,
               **({"soft_labels": cset.soft_labels} if cset.soft_labels is not None else {}),
               **{DECODER_PREFIX + k: v for k, v in cset.decoder.weights.items()}}
    check_set(tensors, cset.meta, cset.decoder.to_json(), where)
