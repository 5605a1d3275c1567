"""The on-disk format: one safetensors file per set, metadata as one JSON document in the header.

Tensors: ``images``, ``labels``, optional ``soft_labels`` and ``decoder.<name>`` weights. Header
metadata (str -> str): one key, ``condensed`` (JSON with the schema
version, `CondensedSet.meta`, the decoder spec and one sha256 over every tensor's dtype, shape and
bytes and the metadata). A reader checks every byte: the header must be exactly the JSON the writer
produces, and the checksum covers the rest. No pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.errors import CondensedFormatError
from condensed_datasets.core.files import atomic_path, sha256_file
from condensed_datasets.core.validation import MAX_NESTING, check_storable, validate_set

SCHEMA_VERSION = 2
SUPPORTED_SCHEMAS = (1, 2)  # 1: the checksum covered the tensor bytes only
DECODER_PREFIX = "decoder."


def tensor_bytes(t: Tensor) -> np.ndarray:
    """A tensor's bytes as checksums hash them (any dtype or device; row-major), without a copy where it can."""
    return t.detach().cpu().contiguous().view(torch.uint8).numpy()


def _tensor_digest(tensors: dict[str, Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensor_bytes(tensors[name]))
    return digest.hexdigest()


def _content_digest(tensors: dict[str, Tensor], meta: dict[str, Any], decoder: dict[str, Any]) -> str:
    """sha256 of everything that defines a set: each tensor's name, dtype, shape and bytes, then the metadata."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        digest.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        digest.update(tensor_bytes(t))
    digest.update(_canonical({"meta": meta, "decoder": decoder}).encode())
    return digest.hexdigest()


def _canonical(document: Any) -> str:
    """The one JSON text of a document (what `save` writes; `load` refuses any other spelling of it)."""
    return json.dumps(document, sort_keys=True)


def save(cset: CondensedSet, path: str | os.PathLike) -> str:
    """Validate and write ``cset`` to ``path`` atomically; returns the file's sha256.

    Images must be floating point and labels integers: a uint8 image batch (pixels, not the normalised
    space) or float labels are refused rather than silently cast.
    """
    where = "the set to save"
    check_storable(cset.images, cset.labels, cset.soft_labels, cset.decoder.weights, where)
    cset = cset.detached()
    tensors = {"images": cset.images, "labels": cset.labels}
    if cset.soft_labels is not None:
        tensors["soft_labels"] = cset.soft_labels
    tensors.update({DECODER_PREFIX + k: v.contiguous() for k, v in cset.decoder.weights.items()})
    decoder = cset.decoder.to_json()
    meta = json.loads(_canonical(cset.meta))  # what a reader gets back (tuples become lists)
    _validate(tensors, meta, decoder, where)
    document = {"schema_version": SCHEMA_VERSION, "meta": meta, "decoder": decoder,
                "content_sha256": _content_digest(tensors, meta, decoder)}
    # One metadata key: safetensors orders header metadata by a per-process hash, so several keys would make
    # the same set serialise to different bytes in different processes (and different sha256 pins).
    metadata = {"condensed": _canonical(document)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return sha256_file(path)


_HEADER_LIMIT = 100 << 20  # safetensors' own bound on a header


def _read_header(path: Path) -> dict[str, Any]:
    """The safetensors header, refused unless it is byte for byte what `save` writes (no byte is unchecked)."""
    corrupt = f"{path} is truncated or corrupted (not a readable safetensors file)"
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise CondensedFormatError(f"{corrupt}: {len(prefix)} bytes")
        size = int.from_bytes(prefix, "little")
        if size > min(_HEADER_LIMIT, path.stat().st_size - 8):
            raise CondensedFormatError(f"{corrupt}: header length {size} exceeds the file")
        raw = f.read(size)
    try:
        header = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CondensedFormatError(f"{corrupt}: its header is not JSON ({err})") from None
    except RecursionError:
        raise CondensedFormatError(f"{corrupt}: its header nests deeper than {MAX_NESTING} levels") from None
    if not isinstance(header, dict):
        raise CondensedFormatError(f"{corrupt}: its header is not a JSON object")
    canonical = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if raw.rstrip(b" ") != canonical:
        raise CondensedFormatError(f"{corrupt}: its header was altered (it is not the JSON the writer produced)")
    return header


def read_document(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON document in a file's header (header bytes and schema checked), without reading tensors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no condensed set at {path}")
    metadata = _read_header(path).get("__metadata__") or {}
    if "condensed" not in metadata:
        raise CondensedFormatError(f"{path} is a safetensors file but not a condensed set (no 'condensed' metadata)")
    unexpected = sorted(set(metadata) - {"format", "schema_version", "condensed"})
    if unexpected or metadata.get("format", "pt") != "pt" or not isinstance(metadata["condensed"], str):
        raise CondensedFormatError(f"{path} is corrupted: unexpected header metadata {unexpected or metadata.get('format')!r}")
    try:
        document = json.loads(metadata["condensed"])
    except json.JSONDecodeError as err:
        raise CondensedFormatError(f"{path}: the metadata JSON is corrupted: {err}") from None
    except RecursionError:  # nested deeper than Python's parser goes; a set's metadata nests 3 levels
        raise CondensedFormatError(f"{path}: the metadata JSON nests deeper than {MAX_NESTING} levels") from None
    if not isinstance(document, dict):
        raise CondensedFormatError(f"{path}: the metadata JSON is corrupted: not an object")
    version = document.get("schema_version")
    if version not in SUPPORTED_SCHEMAS:
        raise CondensedFormatError(
            f"{path} uses schema_version {version!r}; this version of condensed-datasets reads "
            f"{', '.join(map(str, SUPPORTED_SCHEMAS))}. Upgrade the package (pip install -U condensed-datasets)."
        )
    if version >= 2 and (metadata["condensed"] != _canonical(document) or set(metadata) != {"condensed"}):
        raise CondensedFormatError(f"{path} is corrupted: its metadata was altered (not the JSON the writer produced)")
    return document


def load(path: str | os.PathLike, sha256: str | None = None) -> CondensedSet:
    """Read and verify a condensed set; with ``sha256`` the file must have exactly that hash.

    Every byte is checked: the header must be exactly what `save` writes, and (schema 2) one
    checksum covers every tensor's dtype, shape and bytes and all the metadata. The content is then
    validated against its own metadata (shapes, finite values, per-class counts, normalisation).
    """
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
    meta, decoder = document.get("meta"), document.get("decoder")
    if not isinstance(meta, dict) or not isinstance(decoder, dict):
        raise CondensedFormatError(f"{path}: metadata lacks the 'meta' or 'decoder' object")
    if document["schema_version"] == 1:
        intact = _tensor_digest(tensors) == document.get("tensors_sha256")
    else:
        intact = _content_digest(tensors, meta, decoder) == document.get("content_sha256")
    if not intact:
        raise CondensedFormatError(f"{path} is corrupted: its tensor bytes do not match the checksum in its header")
    _validate(tensors, meta, decoder, str(path))
    weights = {k[len(DECODER_PREFIX):]: v for k, v in tensors.items() if k.startswith(DECODER_PREFIX)}
    return CondensedSet(tensors["images"], tensors["labels"], meta,
                        DecoderSpec(decoder["name"], decoder.get("params", {}), weights), tensors.get("soft_labels"))


def _validate(tensors: dict[str, Tensor], meta: dict[str, Any], decoder: dict[str, Any], where: str) -> None:
    """The content agrees with its own metadata and every claim is in range (`validation.validate_set`)."""
    validate_set(tensors, meta, decoder, where)
