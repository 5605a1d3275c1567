"""Each decoder against an independent computation (slicing + F.interpolate), gradients included."""

from __future__ import annotations

import pytest
import torch
from conftest import TEST_DEVICE as DEVICE
from torch import nn
from torch.nn import functional as F

from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.decoders import (
    decode,
    learned_decoder_init,
    multi_formation_spec,
)
from condensed_datasets.core.errors import UnknownNameError


def _reference_multi_formation(images, labels, f, pad):
    """IDC decode_zoom written out plainly: per class, crop-major, pad right/bottom with `pad`."""
    out, out_labels = [], []
    for c in sorted(set(labels.tolist())):
        x = images[labels == c]
        n, ch, h, w = x.shape
        side = -(-h // f)
        canvas = torch.empty(n, ch, side * f, side * f)
        canvas[:] = torch.tensor(pad).view(1, ch, 1, 1)
        canvas[:, :, :h, :w] = x
        for i in range(f):
            for j in range(f):
                crop = canvas[:, :, i * side:(i + 1) * side, j * side:(j + 1) * side]
                out.append(F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False))
                out_labels += [c] * n
    return torch.cat(out), torch.tensor(out_labels)


@pytest.mark.parametrize("factor,size", [(2, 32), (3, 32), (2, 28), (3, 9)])
def test_multi_formation_matches_the_reference(factor, size):
    torch.manual_seed(0)
    images = torch.randn(6, 3, size, size, device=DEVICE, requires_grad=True)
    labels = torch.tensor([1, 0, 1, 0, 2, 2], device=DEVICE)
    spec = multi_formation_spec(factor, (0.4, 0.5, 0.6), (0.2, 0.25, 0.3))
    decoded, source = decode(spec, images, labels)
    expected, expected_labels = _reference_multi_formation(images.detach().cpu(), labels.cpu(), factor, spec.params["pad_value"])
    assert decoded.shape == (6 * factor * factor, 3, size, size)
    assert decoded.device == images.device and source.device == images.device
    assert torch.allclose(decoded.detach().cpu(), expected, atol=1e-5)
    assert torch.equal(labels[source].cpu(), expected_labels)
    decoded.square().sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_pad_value_is_pixel_half_in_normalised_space():
    spec = multi_formation_spec(3, (0.5, 0.25), (0.5, 0.25))
    assert spec.params["pad_value"] == [0.0, 1.0]


def test_multi_scale_concatenates_factors_per_class():
    torch.manual_seed(1)
    images, labels = torch.randn(4, 1, 16, 16, device=DEVICE), torch.tensor([0, 0, 1, 1], device=DEVICE)
    decoded, source = decode(DecoderSpec("multi_scale", {"factors": [1, 2]}), images, labels)
    assert decoded.shape == (4 * (1 + 4), 1, 16, 16)
    class0 = decoded[:10]
    assert torch.equal(class0[:2], images[:2])  # factor 1 is the stored images themselves
    assert torch.allclose(class0[2:4], F.interpolate(images[:2, :, :8, :8], size=16, mode="bilinear", align_corners=False))
    assert labels[source].tolist() == [0] * 10 + [1] * 10


def _fsrcnn_module(params, weights):
    """The learned decoder rebuilt as an nn.Sequential with the same weights."""
    layers = []
    names = ["extract", "shrink"] + [f"map{i}" for i in range(params["m"])] + ["expand"]
    for name in names:
        w = weights[f"{name}.weight"]
        conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=w.shape[2] // 2)
        conv.weight.data, conv.bias.data = w.clone(), weights[f"{name}.bias"].clone()
        act = nn.PReLU(w.shape[0])
        act.weight.data = weights[f"{name}.prelu"].clone()
        layers += [conv, act]
    deconv = nn.ConvTranspose2d(params["d"], params["channels"], 9, stride=params["scale"], padding=4, output_padding=params["scale"] - 1)
    deconv.weight.data, deconv.bias.data = weights["deconv.weight"].clone(), weights["deconv.bias"].clone()
    return nn.Sequential(*layers, deconv)


def test_learned_decoder_matches_an_fsrcnn_module_and_round_trips(tmp_path):
    params, weights = learned_decoder_init(3, scale=2, generator=torch.Generator().manual_seed(0))
    images = torch.randn(4, 3, 16, 16, device=DEVICE, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1], device=DEVICE)
    decoded, source = decode(DecoderSpec("learned", params, weights), images, labels)
    assert decoded.shape == (4, 3, 32, 32) and source.tolist() == [0, 1, 2, 3]
    assert torch.allclose(decoded, _fsrcnn_module(params, weights).to(DEVICE)(images), atol=1e-5)
    decoded.sum().backward()
    assert images.grad.abs().sum() > 0
    meta = {"dataset": "toy", "classes": ["a", "b"], "mean": [0.5] * 3, "std": [0.5] * 3, "method": "random", "ipc": 2}
    cset = CondensedSet(images.detach(), labels, meta, DecoderSpec("learned", params, weights)).detached()
    cset.save(tmp_path / "s.safetensors")
    back = CondensedSet.load(tmp_path / "s.safetensors")
    assert torch.allclose(back.decode()[0], decoded.detach().cpu(), atol=1e-5)


def test_unknown_decoder_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="identity, multi_formation"):
        decode(DecoderSpec("wavelet"), torch.zeros(1, 1, 4, 4), torch.zeros(1, dtype=torch.long))


def test_soft_labels_follow_the_decoded_images():
    meta = {"dataset": "toy", "classes": ["a", "b"], "mean": [0.5], "std": [0.5], "method": "random", "ipc": 1}
    soft = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    soft = soft.to(DEVICE)
    cset = CondensedSet(torch.randn(2, 1, 8, 8, device=DEVICE), torch.tensor([0, 1], device=DEVICE), meta,
                        multi_formation_spec(2, (0.5,), (0.5,)), soft)
    images, targets = cset.decode()
    assert images.shape == (8, 1, 8, 8) and torch.equal(targets, soft.repeat_interleave(4, dim=0))
