"""DSA is siamese (one draw -> one transform for both batches), differentiable, and within its ranges."""

from __future__ import annotations

import pytest
import torch
from conftest import TEST_DEVICE as DEVICE

from condensed_datasets.training.augment import (
    OPS,
    DiffAugment,
    cutmix,
    standard_layout,
)

STRATEGY = "color_crop_cutout_flip_scale_rotate"


@pytest.mark.parametrize("op", OPS.names())
def test_shared_draw_transforms_real_and_synthetic_batches_alike(op):
    g = torch.Generator().manual_seed(0)
    real = torch.randn(6, 3, 16, 16, device=DEVICE)
    syn = real[:2].clone()  # a smaller batch holding copies of the first two real images
    aug = DiffAugment(op).sample(len(real), (16, 16), g, shared=True)
    out_real, out_syn = aug(real), aug(syn)
    assert torch.allclose(out_real[:2], out_syn, atol=1e-6)
    # one parameter set for the whole batch: identical inputs give identical outputs
    same = aug(real[:1].expand(4, -1, -1, -1).contiguous())
    assert torch.allclose(same[0], same[3], atol=1e-6)


@pytest.mark.parametrize("op", OPS.names())
def test_ops_are_differentiable_and_change_the_images(op):
    x = torch.randn(8, 3, 16, 16, device=DEVICE, requires_grad=True)
    g = torch.Generator().manual_seed(1)
    out = DiffAugment(op)(x, g)
    assert out.shape == x.shape and not torch.equal(out, x)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_per_sample_draws_differ_between_images():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 3, 16, 16, device=DEVICE).expand(16, -1, -1, -1).contiguous()
    out = DiffAugment("rotate")(x, g)
    assert not torch.allclose(out[0], out[1])


def test_same_seed_same_augmentation_and_single_mode_picks_one_family():
    x = torch.randn(4, 3, 16, 16, device=DEVICE)
    a = DiffAugment(STRATEGY)(x, torch.Generator().manual_seed(3), shared=True)
    b = DiffAugment(STRATEGY)(x, torch.Generator().manual_seed(3), shared=True)
    assert torch.equal(a, b)
    steps = DiffAugment(STRATEGY).sample(4, (16, 16), torch.Generator().manual_seed(4)).steps
    assert len(steps) == 1
    idc = DiffAugment(STRATEGY, composition="idc").sample(4, (16, 16), torch.Generator().manual_seed(4)).steps
    names = [n for n, _ in idc]
    assert names[:2] == ["flip", "color"] and names[-1] == "cutout" and names[2] in ("crop", "scale", "rotate")


def test_parameter_ranges_follow_the_reference():
    g = torch.Generator().manual_seed(5)
    p = OPS.get("scale").sample(10000, 32, 32, g)
    assert 1 / 1.2 - 1e-6 <= float(p["sx"].min()) and float(p["sx"].max()) <= 1.2 + 1e-6
    crop = OPS.get("crop").sample(10000, 32, 32, g)
    assert int(crop["dx"].abs().max()) == 4  # 0.125 * 32
    x = torch.ones(1, 1, 32, 32, device=DEVICE)
    cut = OPS.get("cutout").apply(x, {"cx": torch.tensor([16], device=DEVICE), "cy": torch.tensor([16], device=DEVICE)})
    assert int((cut == 0).sum()) == 16 * 16


def test_unknown_op_lists_choices():
    with pytest.raises(ValueError, match="rotate"):
        DiffAugment("color_blur")


def test_cutmix_pastes_a_box_from_the_partner():
    x = torch.arange(4, device=DEVICE).float().view(4, 1, 1, 1).expand(4, 1, 16, 16).contiguous()
    mixed, perm, r = cutmix(x, torch.Generator().manual_seed(6))
    kept = (mixed == x).float().mean(dim=(1, 2, 3))
    changed = perm.to(DEVICE) != torch.arange(4, device=DEVICE)
    assert torch.allclose(kept[changed], torch.full_like(kept[changed], r))
    assert 0 <= r <= 1


def _row_major(shape: tuple[int, ...]) -> tuple[int, ...]:
    return torch.empty(shape).stride()


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("strategy", ["crop", STRATEGY])
def test_augmented_batches_come_out_row_major_with_the_ops_values(strategy, channels):
    # A ConvNet on CPU ran its GroupNorm and ReLU backward several times slower on a channels-last batch; a
    # 1-channel batch with channels-last strides still passes `is_contiguous()`, so the strides are checked.
    x = torch.randn(8, channels, 16, 16, device=DEVICE)
    draw = DiffAugment(strategy).sample(len(x), (16, 16), torch.Generator().manual_seed(3))
    out = draw(x)
    raw = x
    for name, params in draw.steps:
        raw = OPS.get(name).apply(raw, params)
    assert out.stride() == _row_major(out.shape)
    assert torch.equal(out, raw)


def test_standard_layout_rewrites_only_batches_whose_strides_are_not_row_major():
    x = torch.randn(4, 16, 16, 1).permute(0, 3, 1, 2)  # 1 channel, channels-last strides
    assert x.is_contiguous() and x.stride() != _row_major(x.shape)  # what `contiguous()` cannot see
    fixed = standard_layout(x)
    assert fixed.stride() == _row_major(x.shape) and torch.equal(fixed, x)
    assert standard_layout(fixed) is fixed
