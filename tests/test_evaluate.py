"""The evaluation protocol trains real networks on a set and scores them on the real test split."""

from __future__ import annotations

import pytest
import torch

from condensed_datasets.condense.sampling import real_init
from condensed_datasets.training.evaluate import (
    PROTOCOLS,
    SetTraits,
    _idc_epochs,
    _ModelLoop,
    _StackedModels,
    train_and_test,
)
from condensed_datasets.training.nets import get_network
from condensed_datasets.core.errors import UnknownNameError

from conftest import TEST_DEVICE as DEVICE


@pytest.fixture(scope="module")
def small_set(digits):
    images = real_init(digits, 10, torch.Generator().manual_seed(0)).to(DEVICE)
    return images, torch.arange(10, device=DEVICE).repeat_interleave(10)


def test_stacked_models_compute_what_each_model_computes():
    torch.manual_seed(0)
    models = [get_network("convnet-w32", 1, 10, (8, 8)).to(DEVICE) for _ in range(3)]
    x = torch.randn(3, 5, 1, 8, 8, device=DEVICE)
    stacked, loop = _StackedModels(models), _ModelLoop(models)
    assert torch.allclose(stacked.forward(x), loop.forward(x), atol=1e-5)
    assert torch.allclose(stacked.forward_shared(x[0]), loop.forward_shared(x[0]), atol=1e-5)


@pytest.mark.parametrize("together", ["loop", "vmap"])
def test_training_on_a_small_real_set_beats_chance(digits, small_set, together):
    images, labels = small_set
    result = train_and_test(images, labels, digits, models=2, epochs=40, protocol="dsa", together=together, progress=False, device=DEVICE)
    assert result["models"] == 2 and len(result["accuracies"]) == 2
    assert result["protocol"] == "dsa" and result["epochs"] == 40 and result["together"] == together
    assert result["mean"] > 50, result  # chance is 10 %
    assert result["std"] == pytest.approx(float(torch.tensor(result["accuracies"]).std(unbiased=False)), abs=1e-4)


def test_soft_labels_train_too(digits, small_set):
    images, labels = small_set
    soft = torch.nn.functional.one_hot(labels, 10).float() * 0.9 + 0.01
    result = train_and_test(images, soft, digits, models=1, epochs=30, protocol="dc", progress=False, device=DEVICE)
    assert result["mean"] > 40


def test_same_seed_same_result(digits, small_set):
    images, labels = small_set
    a = train_and_test(images, labels, digits, models=1, epochs=3, protocol="idc", seed=3, progress=False, device=DEVICE)
    b = train_and_test(images, labels, digits, models=1, epochs=3, protocol="idc", seed=3, progress=False, device=DEVICE)
    assert a["accuracies"] == b["accuracies"]


def test_protocol_defaults_follow_the_papers(digits):
    assert PROTOCOLS.get("dsa").epochs("cifar10", 10, 10) == 1000 and PROTOCOLS.get("dc").epochs("cifar10", 10, 10) == 300
    assert PROTOCOLS.get("dc").augmentation(digits, SetTraits()) is not None  # digits/MNIST are augmented under DC
    assert _idc_epochs("imagenet10", 10, 1) == 3000 and _idc_epochs("imagenet10", 10, 40) == 1500
    assert _idc_epochs("imagenet100", 100, 10) == 1300  # 2000 * 2/3, down to a multiple of 100
    assert PROTOCOLS.get("idc").batch_size == 64


def test_unknown_protocol_lists_choices(digits, small_set):
    with pytest.raises(UnknownNameError, match="dc, dsa, idc"):
        train_and_test(*small_set, digits, protocol="fast", progress=False)
