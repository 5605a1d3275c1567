"""The safetensors format: round trip, and every way a file can be bad gives a clear error."""

from __future__ import annotations

import json
import os

import pytest
import torch
from safetensors.torch import save_file

from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.errors import CondensedFormatError
from condensed_datasets.core.files import sha256_file
from condensed_datasets.core.storage import load, read_document, save


def make_set(n_per_class: int = 2, soft: bool = False) -> CondensedSet:
    torch.manual_seed(0)
    labels = torch.arange(3).repeat_interleave(n_per_class)
    meta = {"dataset": "toy", "classes": ["a", "b", "c"], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
            "method": "random", "ipc": n_per_class, "config": {"lr": 0.1}, "seed": 0}
    soft_labels = torch.softmax(torch.randn(len(labels), 3), 1) if soft else None
    decoder = DecoderSpec("identity", {}, {"w": torch.randn(2, 2)})
    return CondensedSet(torch.randn(len(labels), 3, 8, 8), labels, meta, decoder, soft_labels)


def test_round_trip_is_exact(tmp_path):
    cset = make_set(soft=True)
    digest = save(cset, tmp_path / "s.safetensors")
    assert digest == sha256_file(tmp_path / "s.safetensors")
    back = load(tmp_path / "s.safetensors", sha256=digest)
    assert torch.equal(back.images, cset.images) and torch.equal(back.labels, cset.labels)
    assert torch.equal(back.soft_labels, cset.soft_labels) and torch.equal(back.decoder.weights["w"], cset.decoder.weights["w"])
    assert back.meta == cset.meta and back.decoder.name == "identity"
    assert read_document(tmp_path / "s.safetensors")["schema_version"] == 2


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "s.safetensors"
    save(make_set(), path)
    first = path.read_bytes()
    bad = make_set()
    bad.labels = bad.labels[:-1]  # inconsistent: refused before anything is written
    with pytest.raises(CondensedFormatError):
        save(bad, path)
    assert path.read_bytes() == first
    assert os.listdir(tmp_path) == ["s.safetensors"]


def test_written_sets_get_the_usual_file_mode(tmp_path):
    """Not the 0600 of the temporary file (safetensors recreates it): a set is shared like any file."""
    mask = os.umask(0o022)
    try:
        save(make_set(), tmp_path / "s.safetensors")
    finally:
        os.umask(mask)
    assert (tmp_path / "s.safetensors").stat().st_mode & 0o777 == 0o644


def test_truncated_file_is_rejected(tmp_path):
    path = tmp_path / "s.safetensors"
    save(make_set(), path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CondensedFormatError, match="truncated or corrupted"):
        load(path)


def test_flipped_byte_in_tensor_data_is_rejected(tmp_path):
    path = tmp_path / "s.safetensors"
    save(make_set(), path)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CondensedFormatError, match="corrupted"):
        load(path)


def test_pinned_sha256_mismatch_is_rejected(tmp_path):
    path = tmp_path / "s.safetensors"
    save(make_set(), path)
    with pytest.raises(CondensedFormatError, match="expected 0000"):
        load(path, sha256="0000")


def _raw_file(path, tensors, document):
    save_file(tensors, str(path), metadata={"condensed": json.dumps(document)})


def test_unknown_schema_version_asks_for_an_upgrade(tmp_path):
    cset = make_set()
    _raw_file(tmp_path / "s.safetensors", {"images": cset.images, "labels": cset.labels},
              {"schema_version": 99, "meta": cset.meta, "decoder": {"name": "identity"}})
    with pytest.raises(CondensedFormatError, match="schema_version 99.*Upgrade"):
        load(tmp_path / "s.safetensors")


def test_inconsistent_shapes_are_rejected(tmp_path):
    from condensed_datasets.core.storage import _tensor_digest

    cset = make_set()
    tensors = {"images": cset.images, "labels": cset.labels[:-1]}
    _raw_file(tmp_path / "s.safetensors", tensors, {"schema_version": 1, "meta": cset.meta, "decoder": {"name": "identity"},
                                                      "tensors_sha256": _tensor_digest(tensors)})
    with pytest.raises(CondensedFormatError, match="labels must be int64"):
        load(tmp_path / "s.safetensors")


def test_a_foreign_safetensors_file_is_not_a_condensed_set(tmp_path):
    save_file({"x": torch.zeros(2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(CondensedFormatError, match="not a condensed set"):
        load(tmp_path / "model.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 3)
    with pytest.raises(CondensedFormatError):
        load(tmp_path / "junk.safetensors")


def test_labels_out_of_range_are_rejected(tmp_path):
    bad = make_set()
    bad.labels[0] = 7
    with pytest.raises(CondensedFormatError, match=r"labels must lie in \[0, 3\)"):
        save(bad, tmp_path / "s.safetensors")
