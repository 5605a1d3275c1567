"""The on-disk format: one safetensors file per set, metadata as one JSON document in the header.

Tensors: ``images``, ``labels``, optional ``soft_labels`` and ``decoder.<name>`` weights. Header
metadata (str -> str): ``format``, ``schema_version`` and ``condensed`` (JSON with the schema
version, `CondensedSet.meta`, the decoder spec and a sha256 of the tensor bytes, so a corrupted
payload is caught even where the header still parses). No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from .condensed_set import CondensedSet, DecoderSpec

SCHEMA_VERSION = 1
SUPPORTED_SCHEMAS = (1,)
DECODER_PREFIX = "decoder."


class CondensedFormatError(ValueError, RuntimeError):
    """A file is not a valid condensed set: truncated, corrupted, inconsistent or of an unknown schema.

    A `RuntimeError`, torchvision's error for a dataset that is "not found or corrupted", and a
    `ValueError` as in earlier versions, so both ``except`` clauses catch it.
    """


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file (what the registry pins and the Hub uses as the LFS oid)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tensor_digest(tensors: dict[str, Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().view(torch.uint8).numpy().tobytes() if tensors[name].numel() else b"")
    return digest.hexdigest()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    Same filesystem, so ``os.replace`` is atomic: readers see the old file or the new one, never half
    of one. On error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp (and safetensors' writer, which recreates the file) make 0600 files: give the usual mode
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temporaries(path: str | os.PathLike) -> None:
    """Delete temporary files `atomic_path` left beside ``path`` when a writer was killed mid-write.

    Only for files one process owns (a run's checkpoint): another writer's live temporary would go too.
    """
    path = Path(path)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: never half-written."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save(cset: CondensedSet, path: str | os.PathLike) -> str:
    """Validate and write ``cset`` to ``path`` atomically; returns the file's sha256."""
    cset = cset.detached()
    tensors = {"images": cset.images, "labels": cset.labels}
    if cset.soft_labels is not None:
        tensors["soft_labels"] = cset.soft_labels
    tensors.update({DECODER_PREFIX + k: v.contiguous() for k, v in cset.decoder.weights.items()})
    _validate(tensors, cset.meta, cset.decoder.to_json(), "the set to save")
    document = {
        "schema_version": SCHEMA_VERSION, "meta": cset.meta, "decoder": cset.decoder.to_json(),
        "tensors_sha256": _tensor_digest(tensors),
    }
    metadata = {"format": "pt", "schema_version": str(SCHEMA_VERSION), "condensed": json.dumps(document, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return sha256_file(path)


def read_document(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON document in a file's header (schema checked), without reading tensors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no condensed set at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
    except Exception as err:  # safetensors raises its own error types for every header problem
        raise CondensedFormatError(f"{path} is truncated or corrupted (not a readable safetensors file): {err}") from None
    if "condensed" not in metadata:
        raise CondensedFormatError(f"{path} is a safetensors file but not a condensed set (no 'condensed' metadata)")
    try:
        document = json.loads(metadata["condensed"])
    except json.JSONDecodeError as err:
        raise CondensedFormatError(f"{path}: the metadata JSON is corrupted: {err}") from None
    version = document.get("schema_version")
    if version not in SUPPORTED_SCHEMAS:
        raise CondensedFormatError(
            f"{path} uses schema_version {version!r}; this version of condensed-datasets reads "
            f"{', '.join(map(str, SUPPORTED_SCHEMAS))}. Upgrade the package (pip install -U condensed-datasets)."
        )
    return document


def load(path: str | os.PathLike, sha256: str | None = None) -> CondensedSet:
    """Read and validate a condensed set; with ``sha256`` the file must have exactly that hash."""
    path = Path(path)
    if sha256 is not None:
        actual = sha256_file(path) if path.is_file() else None
        if actual != sha256:
            raise CondensedFormatError(f"{path} has sha256 {actual}, expected {sha256}: the file is corrupted or not the pinned one")
    document = read_document(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:
        raise CondensedFormatError(f"{path} is truncated or corrupted: {err}") from None
    if _tensor_digest(tensors) != document.get("tensors_sha256"):
        raise CondensedFormatError(f"{path} is corrupted: its tensor bytes do not match the checksum in its header")
    _validate(tensors, document.get("meta", {}), document.get("decoder", {}), str(path))
    spec = document["decoder"]
    weights = {k[len(DECODER_PREFIX):]: v for k, v in tensors.items() if k.startswith(DECODER_PREFIX)}
    return CondensedSet(tensors["images"], tensors["labels"], document["meta"],
                        DecoderSpec(spec["name"], spec.get("params", {}), weights), tensors.get("soft_labels"))


def _validate(tensors: dict[str, Tensor], meta: dict[str, Any], decoder: dict[str, Any], where: str) -> None:
    """Shapes, dtypes and metadata agree with each other; raises `CondensedFormatError` naming the problem."""

    def fail(msg: str) -> None:
        raise CondensedFormatError(f"{where}: {msg}")

    for key in ("dataset", "classes", "mean", "std", "method", "ipc"):
        if key not in meta:
            fail(f"metadata lacks {key!r}")
    if not isinstance(decoder.get("name"), str):
        fail("metadata lacks the decoder name")
    images, labels = tensors.get("images"), tensors.get("labels")
    if images is None or labels is None:
        fail("the file must hold 'images' and 'labels' tensors")
    if images.ndim != 4 or not images.is_floating_point():
        fail(f"images must be a float [n, C, H, W] tensor, got {images.dtype} {tuple(images.shape)}")
    if labels.ndim != 1 or labels.dtype != torch.int64 or labels.shape[0] != images.shape[0]:
        fail(f"labels must be int64 [{images.shape[0]}], got {labels.dtype} {tuple(labels.shape)}")
    n_classes = len(meta["classes"])
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        fail(f"labels must lie in [0, {n_classes}), found [{int(labels.min())}, {int(labels.max())}]")
    if len(meta["mean"]) != images.shape[1] or len(meta["std"]) != images.shape[1]:
        fail(f"mean/std have {len(meta['mean'])}/{len(meta['std'])} values for {images.shape[1]} channels")
    soft = tensors.get("soft_labels")
    if soft is not None and (soft.ndim != 2 or tuple(soft.shape) != (images.shape[0], n_classes)):
        fail(f"soft_labels must be [{images.shape[0]}, {n_classes}], got {tuple(soft.shape)}")
