"""The evaluation protocol trains real networks on a set and scores them on the real test split."""

from __future__ import annotations

import re
import signal

import pytest
import torch
from conftest import TEST_DEVICE as DEVICE
from conftest import sigterm_once_listening

from condensed_datasets.condense.sampling import real_init
from condensed_datasets.core.errors import RunStopped, UnknownNameError
from condensed_datasets.training.eval_checkpoint import (
    progress_summary,
    resume_progress,
)
from condensed_datasets.training.evaluate import (
    PROTOCOLS,
    SetTraits,
    _idc_epochs,
    _ModelLoop,
    _StackedModels,
    train_and_test,
)
from condensed_datasets.training.nets import get_network


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


EVAL_RESUME = dict(models=3, epochs=8, protocol="dc", together="sequential", precision="fp32", compilation="off", progress=False)


def test_an_evaluation_stopped_between_networks_continues_to_the_uninterrupted_result(digits, small_set, tmp_path):
    images, labels = small_set
    whole = train_and_test(images, labels, digits, device=DEVICE, **EVAL_RESUME)
    checkpoint = tmp_path / "eval-checkpoint.safetensors"
    before = signal.getsignal(signal.SIGTERM)
    sender = sigterm_once_listening()
    with pytest.raises(RunStopped, match=f"after 1 of 3 networks; they are kept in {re.escape(str(checkpoint))}"):
        train_and_test(images, labels, digits, device=DEVICE, checkpoint=checkpoint, **EVAL_RESUME)
    sender.join()
    assert signal.getsignal(signal.SIGTERM) is before  # the handler lives only as long as the evaluation
    saved = progress_summary(checkpoint)
    assert (saved["done"], saved["models"]) == (1, 3) and saved["accuracies"] == whole["accuracies"][:1]
    resumed = train_and_test(images, labels, digits, device=DEVICE, checkpoint=checkpoint, **EVAL_RESUME)
    assert resumed["accuracies"] == whole["accuracies"] and resumed["best_of_periodic"] == whole["best_of_periodic"]
    assert resumed["resumed_after_networks"] == 1 and "resumed_after_networks" not in whole
    assert not checkpoint.exists()  # the evaluation finished: its progress has served


def test_progress_of_another_evaluation_or_a_damaged_file_is_not_used(digits, small_set, tmp_path):
    images, labels = small_set
    checkpoint = tmp_path / "eval-checkpoint.safetensors"
    sender = sigterm_once_listening()
    with pytest.raises(RunStopped):
        train_and_test(images, labels, digits, device=DEVICE, checkpoint=checkpoint, **EVAL_RESUME)
    sender.join()
    other_seed = train_and_test(images, labels, digits, device=DEVICE, checkpoint=checkpoint, **{**EVAL_RESUME, "seed": 1})
    assert "resumed_after_networks" not in other_seed and not checkpoint.exists()
    assert other_seed["accuracies"] == train_and_test(images, labels, digits, device=DEVICE, **{**EVAL_RESUME, "seed": 1})["accuracies"]
    for damage in (b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{}", b"not safetensors at all"):
        checkpoint.write_bytes(damage)
        generator = torch.Generator().manual_seed(5)
        before = generator.get_state(), torch.get_rng_state()
        assert resume_progress(checkpoint, "any", 3, generator).done == 0 and progress_summary(checkpoint) is None
        assert torch.equal(generator.get_state(), before[0]) and torch.equal(torch.get_rng_state(), before[1])


def test_the_package_exports_its_api_but_imports_the_heavy_parts_on_first_use():
    import subprocess
    import sys

    import condensed_datasets
    from condensed_datasets import datasets
    from condensed_datasets.training import evaluate as module

    assert condensed_datasets.evaluate is module.evaluate and condensed_datasets.EvalSettings is module.EvalSettings
    assert condensed_datasets.CondensedCIFAR10 is datasets.CondensedCIFAR10 and "load_condensed" in dir(condensed_datasets)
    assert all(getattr(condensed_datasets, name) is not None for name in condensed_datasets.__all__)
    # The command line and a plain import pay for torch only: no torchvision (which brings Dynamo), no Inductor,
    # no training stack, until something uses them.
    heavy = ("torchvision", "torch._dynamo", "torch._inductor.compile_fx")
    for entry, also in (("condensed_datasets", ("condensed_datasets.training.evaluate",)), ("condensed_datasets.cli.main", ())):
        probe = f"import sys, {entry}; print(sorted(m for m in {heavy + also!r} if m in sys.modules))"
        assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'evaluation'"):
        condensed_datasets.evaluation  # noqa: B018 - a misspelt name fails as any module attribute does
    # What type checkers, the docs and the layering test read (the TYPE_CHECKING imports) is what runs (`_LAZY`).
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(condensed_datasets))
    typed = {alias.name: node.module for block in tree.body if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
             for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert typed == condensed_datasets._LAZY
    assert set(condensed_datasets.__all__) == {*condensed_datasets._LAZY, "CondensedSet", "DecoderSpec", "RealData",
                                                "list_sources", "load_source", "__version__"}
