"""The compiled gradient-matching pass: the eager distance and its image gradient, from one compiled graph per
architecture and batch shape; where recipes use it, how they record it, and where they must not."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from condensed_datasets.condense.matching_pass import (
    can_compile_matching,
    class_distance,
)
from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.core.storage import load
from condensed_datasets.pipeline.build import build
from condensed_datasets.training.compilation import (
    AUTO_MIN_PIXELS,
    can_compile,
    matching_compilation,
)
from condensed_datasets.training.nets import get_network

NEEDS_COMPILER = pytest.mark.skipif(not can_compile(torch.device("cpu")), reason="Inductor needs a C++ compiler")


def _distance_and_gradient(net, params, real, stored, metric, compiled):
    stored = stored.detach().requires_grad_(True)
    syn = torch.cat([stored, stored.flip(-1)])  # not a leaf: the gradient must flow on through what made the batch
    distance = class_distance(net, params, real, syn, 3, metric, compiled=compiled)
    (2.0 * distance).backward()  # the distance is summed and scaled like any loss
    return distance.detach(), stored.grad


@NEEDS_COMPILER
@pytest.mark.parametrize("metric, conv_only", [("l1", True), ("dc", False)])  # IDC's matching, DC/DSA's
def test_compiled_distance_and_image_gradient_equal_the_eager_ones_from_one_graph(metric, conv_only):
    from torch._dynamo.utils import counters

    gen = torch.Generator().manual_seed(0)
    real, stored = torch.randn(12, 1, 8, 8, generator=gen), torch.randn(3, 1, 8, 8, generator=gen)
    graphs = []
    for seed in range(3):  # fresh networks: their parameters are the graph's inputs, not constants baked into it
        torch.manual_seed(seed)
        net = get_network("convnet-w32", 1, 10, (8, 8))
        params = [p for p in net.parameters() if p.ndim >= 3] if conv_only else list(net.parameters())
        eager = _distance_and_gradient(net, params, real, stored, metric, compiled=False)
        fused = _distance_and_gradient(net, params, real, stored, metric, compiled=True)
        graphs.append(counters["stats"]["unique_graphs"])
        assert torch.allclose(fused[0], eager[0], rtol=1e-4), (fused[0], eager[0])
        assert float((fused[1] - eager[1]).norm() / eager[1].norm()) < 1e-3
    assert graphs[1] == graphs[2] == graphs[0]  # the first network compiled it; the others reuse it


def test_matching_compilation_follows_the_work_and_the_architecture():
    cpu = torch.device("cpu")
    on = can_compile(cpu)
    assert matching_compilation("auto", cpu, AUTO_MIN_PIXELS, True) == (on, {"match_compiled": True} if on else {})
    assert matching_compilation("auto", cpu, AUTO_MIN_PIXELS - 1, True) == (False, {})
    assert matching_compilation("on", cpu, 0, True) == (True, {"match_compiled": True})
    assert matching_compilation("on", cpu, 10**12, False) == (False, {})  # batch norm or an inter-class term
    assert matching_compilation("off", cpu, 10**12, True) == (False, {})
    assert can_compile_matching("convnet", 3, 10, (32, 32)) and not can_compile_matching("convnet-bn", 3, 10, (32, 32))
    with pytest.raises(ValueError, match=r"'always'.*auto, on, off"):
        matching_compilation("always", cpu, 0, True)


@NEEDS_COMPILER
@pytest.mark.parametrize("method, overrides, compiles", [
    ("idc-i", {"inner_loop": 2}, True),
    ("dsa", {"outer_loop": 2, "inner_loop": 1}, True),
    ("dcmg", {"outer_loop": 2}, False),  # the inter-class term needs the gradients themselves: stays eager
])
def test_compiled_matching_builds_the_eager_set_and_says_so(method, overrides, compiles, digits, tmp_path):
    """One iteration, compiled and eager, differ by float reassociation only: far less than what an iteration moves.
    (Over more iterations gradient matching amplifies it, DSA's ~100x per iteration on an AVX2 CPU, so the
    comparison is made after the first.)"""
    run = dict(source=digits, progress=False, overrides=overrides, iterations=1)
    base = RunSettings(train_precision="fp32", device="cpu")
    eager = load(build("digits", method, 1, out=tmp_path / "a", settings=replace(base, match_compilation="off"), **run))
    fused = load(build("digits", method, 1, out=tmp_path / "b", settings=replace(base, match_compilation="on"), **run))
    by_default = load(build("digits", method, 1, out=tmp_path / "c", settings=base, **run))  # a 1-iteration digits run stays eager
    assert fused.meta.get("match_compiled") is (True if compiles else None)
    assert "match_compiled" not in eager.meta and "match_compiled" not in by_default.meta
    assert torch.equal(by_default.images, eager.images)
    second = load(build("digits", method, 1, out=tmp_path / "d", settings=replace(base, match_compilation="off"),
                        **{**run, "iterations": 2}))
    moved = (second.images - eager.images).abs().max()
    assert (fused.images - eager.images).abs().max() < 0.01 * moved  # far closer than one iteration's change

