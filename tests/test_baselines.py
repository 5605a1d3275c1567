"""The coreset baselines pick real images of the right class; herding tracks the class mean."""

from __future__ import annotations

import torch
from condensed_datasets.recipes import get_method, list_methods
from condensed_datasets.recipes.herding import herding_select
from conftest import TEST_DEVICE as DEVICE

from condensed_datasets.condense.settings import RunOptions


def _rows_in(images: torch.Tensor, pool: torch.Tensor) -> bool:
    return all(bool((pool == img).flatten(1).all(1).any()) for img in images)


def test_methods_registry_starts_with_the_baselines():
    assert list_methods()[:2] == ["random", "herding"]


def test_random_picks_distinct_real_images_of_each_class(digits):
    method = get_method("random")
    digits = digits.to(DEVICE)
    cset = method.condense(digits, 5, method.config("digits", 5), RunOptions(device=DEVICE, seed=1, progress=False))
    assert cset.images.shape == (50, 1, 8, 8) and cset.labels.tolist() == [c for c in range(10) for _ in range(5)]
    for c in range(10):
        mine = cset.images[cset.labels == c]
        assert _rows_in(mine, digits.train_images[digits.class_indices[c]])
        assert len(torch.unique(mine.flatten(1), dim=0)) == 5
    again = method.condense(digits, 5, {}, RunOptions(device=DEVICE, seed=1, progress=False))
    assert torch.equal(again.images, cset.images)


def test_herding_select_tracks_the_mean_better_than_random():
    torch.manual_seed(0)
    feats = torch.randn(500, 16) + torch.linspace(0, 3, 500)[:, None]
    picked = herding_select(feats, 10)
    assert len(set(picked.tolist())) == 10
    herd_err = (feats[picked].mean(0) - feats.mean(0)).norm()
    rand_err = torch.stack([(feats[torch.randperm(500)[:10]].mean(0) - feats.mean(0)).norm() for _ in range(50)])
    assert herd_err < rand_err.quantile(0.05)


def test_herding_recipe_returns_real_images_per_class(digits):
    method = get_method("herding")
    config = method.config("digits", 3, {"train_steps": 20})
    digits = digits.to(DEVICE)
    cset = method.condense(digits, 3, config, RunOptions(device=DEVICE, seed=0, progress=False))
    assert cset.meta["config"]["train_steps"] == 20 and cset.method == "herding"
    for c in range(10):
        assert _rows_in(cset.images[cset.labels == c], digits.train_images[digits.class_indices[c]])
