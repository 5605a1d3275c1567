"""Property-based: any valid set round-trips exactly; any changed byte of its file is refused."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.decoders import multi_formation_spec
from condensed_datasets.core.errors import CondensedFormatError
from condensed_datasets.core.storage import load, save

names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"), min_size=1, max_size=8)


@st.composite
def condensed_sets(draw) -> CondensedSet:
    n_classes = draw(st.integers(1, 4))
    ipc = draw(st.integers(1, 3))
    channels = draw(st.sampled_from([1, 3]))
    size = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n_classes * ipc, channels, size, size, generator=g) * draw(st.floats(0.01, 100))
    labels = torch.arange(n_classes).repeat_interleave(ipc)
    classes = draw(st.lists(names, min_size=n_classes, max_size=n_classes, unique=True))
    mean = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=channels, max_size=channels))
    std = draw(st.lists(st.floats(0.01, 2), min_size=channels, max_size=channels))
    meta = {"dataset": draw(names), "classes": classes, "mean": mean, "std": std, "method": draw(st.sampled_from(["dm", "idc"])),
            "ipc": ipc, "seed": seed, "config": {"lr_img": draw(st.floats(0, 10)), "note": draw(names)}}
    decoder = multi_formation_spec(2, tuple(mean), tuple(std)) if draw(st.booleans()) else DecoderSpec()
    soft = torch.softmax(torch.randn(len(labels), n_classes, generator=g), 1) if draw(st.booleans()) else None
    return CondensedSet(images, labels, meta, decoder, soft)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cset=condensed_sets())
def test_any_valid_set_round_trips_exactly(cset):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.safetensors"
        save(cset, path)
        back = load(path)
    assert torch.equal(back.images, cset.images) and torch.equal(back.labels, cset.labels)
    assert back.meta == cset.meta and back.decoder.to_json() == cset.decoder.to_json()
    assert (back.soft_labels is None) == (cset.soft_labels is None)
    if cset.soft_labels is not None:
        assert torch.equal(back.soft_labels, cset.soft_labels)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cset=condensed_sets(), where=st.floats(0, 1, exclude_max=True), delta=st.integers(1, 255), cut=st.booleans())
def test_any_changed_or_missing_byte_is_refused(cset, where, delta, cut):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.safetensors"
        save(cset, path)
        data = bytearray(path.read_bytes())
        i = int(where * len(data))
        if cut:
            data = data[:i]
        else:
            data[i] = (data[i] + delta) % 256
        path.write_bytes(bytes(data))
        with pytest.raises(CondensedFormatError):
            load(path)
