"""The CPU speed levers: the allocator setting, bf16 real embeddings, bf16 evaluation, chunked passes, the per-iteration
hook, compiled evaluation networks.

Each lever must leave results where they were (float32 paths: the same numbers; bf16 paths: close to
float32, with the precision recorded), and bad choices must be refused with the valid ones named.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from condensed_datasets.cli.main import main
from condensed_datasets.condense.sampling import real_init
from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.core.storage import load
from condensed_datasets.pipeline.build import build
from condensed_datasets.training import precision
from condensed_datasets.training.allocator import KEEP_FREED_ENV, keep_freed_memory
from condensed_datasets.training.compilation import (
    AUTO_MIN_PIXELS,
    can_compile,
    compiled,
    resolve_compilation,
    training_compilation,
)
from condensed_datasets.training.evaluate import (
    _ModelLoop,
    _StackedModels,
    train_and_test,
)
from condensed_datasets.training.nets import get_network
from condensed_datasets.training.precision import (
    DepthwiseAvgPool,
    Float32Summed,
    chunk_size,
    cpu_has_native_bf16,
    embed_real,
    real_pass_network,
    resolve_precision,
    resolve_train_precision,
)


def test_allocator_setting_applies_on_linux_and_can_be_turned_off():
    code = "from condensed_datasets.training.allocator import keep_freed_memory as k; print(k(), k())"
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "CONDENSED_KEEP_FREED_MEMORY": "0"}).stdout.split()
    assert on == (["True", "True"] if sys.platform.startswith("linux") else ["False", "False"])
    assert off == ["False", "False"]
    assert keep_freed_memory() is keep_freed_memory()  # once per process


def test_allocator_setting_changes_no_number(tmp_path):
    code = ("import sys; from condensed_datasets.pipeline.build import build; "
            "from condensed_datasets.condense.settings import RunSettings; "
            "print(build('digits', 'dm', 1, out=sys.argv[1], iterations=2, progress=False, "
            "settings=RunSettings(real_precision='fp32')))")
    paths = []
    for flag in ("1", "0"):
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path / flag)], capture_output=True, text=True, check=True,
                              env={**os.environ, "CONDENSED_KEEP_FREED_MEMORY": flag})
        paths.append(done.stdout.strip().splitlines()[-1])
    assert torch.equal(load(paths[0]).images, load(paths[1]).images)


# Prints whether a fresh 64 MiB tensor lies in the heap (kept, reusable memory) rather than in a mapping of its own.
_HEAP_CHECK = """
import sys, torch
from condensed_datasets.training.allocator import KEEP_FREED_ENV, keep_freed_memory
if sys.argv[1] == "call":
    keep_freed_memory()
address = torch.empty(64 << 20, dtype=torch.uint8).data_ptr()
heap = [line.split()[0] for line in open("/proc/self/maps") if line.rstrip().endswith("[heap]")]
print(any(int(lo, 16) <= address < int(hi, 16) for lo, hi in (span.split("-") for span in heap)))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.parametrize(("how", "extra_env", "in_heap"), [
    ("none", {}, "False"),  # glibc's default: a block this large is a fresh mapping
    ("call", {}, "True"),  # keep_freed_memory()
    ("none", KEEP_FREED_ENV, "True"),  # the same setting through the environment, for other programs
])
def test_large_blocks_come_from_the_heap_when_freed_memory_is_kept(how, extra_env, in_heap):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", _HEAP_CHECK, how], capture_output=True, text=True, check=True,
                          env={**env, **extra_env})
    assert done.stdout.split() == [in_heap]


@pytest.mark.parametrize("size", [(32, 32), (28, 28), (15, 9)])
def test_depthwise_pool_is_average_pooling(size):
    x = torch.randn(3, 5, *size, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(DepthwiseAvgPool()(x), nn.AvgPool2d(2, 2)(x), rtol=0, atol=1e-6)


def test_only_pools_equal_to_the_depthwise_form_are_replaced():
    net = nn.Sequential(nn.AvgPool2d(2, 2), nn.AvgPool2d(2, 2, ceil_mode=True), nn.AvgPool2d(3, 2), nn.Conv2d(1, 1, 1))
    fast = real_pass_network(net, torch.bfloat16, native_bf16=True)
    assert [type(m).__name__ for m in fast] == ["DepthwiseAvgPool", "AvgPool2d", "AvgPool2d", "Conv2d"]


def test_real_pass_network_is_the_network_in_fp32_and_a_rounded_copy_in_bf16(device):
    net = get_network("convnet", 3, 10, (32, 32)).to(device)
    assert real_pass_network(net, torch.float32) is net
    fast = real_pass_network(net, torch.bfloat16, native_bf16=True)
    assert fast is not net and all(p.dtype == torch.bfloat16 for p in fast.parameters())
    assert not any(isinstance(m, nn.AvgPool2d) for m in fast.modules())
    assert sum(isinstance(m, DepthwiseAvgPool) for m in fast.modules()) == 3
    assert all(p.dtype == torch.float32 for p in net.parameters())  # the matched network is untouched
    assert sum(isinstance(m, nn.AvgPool2d) for m in net.modules()) == 3
    for a, b in zip(net.parameters(), fast.parameters()):
        torch.testing.assert_close(b.float(), a.detach(), rtol=1e-2, atol=1e-3)


def test_embed_real_matches_the_network_in_fp32_and_closely_in_bf16(device):
    torch.manual_seed(0)
    net = get_network("convnet", 3, 10, (32, 32)).to(device)
    x = torch.randn(150, 3, 32, 32, device=device)  # on CPU more than one chunk, the last one partial
    with torch.no_grad():
        reference = net.embed(x)
    exact = embed_real(net, x)
    assert not exact.requires_grad and exact.dtype == torch.float32
    torch.testing.assert_close(exact, reference, rtol=1e-5, atol=1e-5)
    rounded = embed_real(real_pass_network(net, torch.bfloat16), x)
    assert rounded.dtype == torch.float32
    assert ((rounded - reference).norm() / reference.norm()).item() < 2e-2
    class_mean_error = (rounded.mean(0) - reference.mean(0)).norm() / reference.mean(0).norm()
    assert class_mean_error.item() < 5e-3  # DM matches means: rounding errors average out


def test_without_native_bf16_convolutions_and_pools_sum_in_float32_and_only_they_change():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
                        nn.GroupNorm(4, 4), nn.AvgPool2d(2, 2), nn.Flatten(), nn.Linear(64, 2))
    fast = real_pass_network(net, torch.bfloat16, native_bf16=False)
    assert [type(m).__name__ for m in fast] == ["Float32Summed", "Conv2d", "GroupNorm", "Float32Summed", "Flatten",
                                                "Float32Summed"]
    assert isinstance(fast[3].inner, DepthwiseAvgPool)
    assert all(p.dtype == torch.bfloat16 for p in fast.parameters())
    assert fast(torch.randn(2, 3, 8, 8).bfloat16()).dtype == torch.bfloat16


@pytest.mark.parametrize("native", [True, False])
def test_the_bf16_copys_form_follows_the_hardware(native, device, monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    net = get_network("convnet", 3, 10, (32, 32)).to(device)
    fast = real_pass_network(net, torch.bfloat16)
    summed = sum(isinstance(m, Float32Summed) for m in fast.modules())
    native_form = native or torch.device(device).type != "cpu"  # accelerators compute bf16 natively
    assert summed == (0 if native_form else 7)  # 3 convolutions, 3 pools, the classifier
    assert sum(isinstance(m, DepthwiseAvgPool) for m in fast.modules()) == 3
    pool_only = real_pass_network(nn.Sequential(nn.AvgPool2d(2, 2)), torch.bfloat16)  # no parameters: asks the CPU
    assert pool_only(torch.ones(1, 1, 2, 2, dtype=torch.bfloat16)).item() == 1


@pytest.mark.parametrize("channels, size", [(1, (28, 28)), (3, (32, 32))])
def test_float32_summed_bf16_embeddings_are_the_native_ones(channels, size):
    """The only difference from native bf16 kernels is the order of float32 sums: the two are far closer to each
    other than bf16 is to float32, and equally far from float32 (bf16 arithmetic, not float32 in disguise); the
    MNIST net's wide first padding included."""
    torch.manual_seed(0)
    net = get_network("convnet", channels, 10, size)
    x = torch.randn(8, channels, *size)
    reference = embed_real(net, x)
    native = embed_real(real_pass_network(net, torch.bfloat16, native_bf16=True), x)
    summed = embed_real(real_pass_network(net, torch.bfloat16, native_bf16=False), x)
    def distance(a, b):
        return ((a - b).norm() / b.norm()).item()
    assert distance(summed, native) < 0.3 * distance(native, reference)
    assert distance(summed, reference) == pytest.approx(distance(native, reference), rel=0.05)


def test_chunks_scale_with_the_image_area():
    assert chunk_size(torch.zeros(1, 3, 32, 32)) == 64
    assert chunk_size(torch.zeros(1, 3, 64, 64)) == 16
    assert chunk_size(torch.zeros(1, 1, 1024, 1024)) == 1
    assert chunk_size(torch.zeros(1, 3, 32, 32, device="meta")) == 1024  # accelerators: large batches


@pytest.mark.parametrize("native", [True, False])
def test_bf16_training_on_a_cpu_without_native_bf16_says_so_in_one_line(native, monkeypatch, caplog):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    cpu = torch.device("cpu")
    with caplog.at_level("WARNING", logger=precision.__name__):
        assert resolve_train_precision("bf16", cpu)[0] == torch.bfloat16
        resolve_train_precision("fp32", cpu)
        resolve_train_precision("auto", cpu)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == (0 if native else 1)  # the fp32 and auto resolutions say nothing
    assert all(line.startswith("--train-precision bf16 on a CPU without AVX512-BF16") and "\n" not in line
               and "--train-precision fp32 avoids them" in line for line in lines)


def test_auto_precision_follows_the_hardware():
    expected = torch.bfloat16 if cpu_has_native_bf16() else torch.float32
    assert resolve_precision("auto", torch.device("cpu")) == expected
    assert resolve_precision("auto", torch.device("cuda")) == torch.float32  # not measured on GPUs
    assert resolve_precision("bf16", torch.device("cpu")) == torch.bfloat16
    assert resolve_precision("fp32", torch.device("cpu")) == torch.float32
    with pytest.raises(ValueError, match=r"'fp16'.*auto, bf16, fp32"):
        resolve_precision("fp16", torch.device("cpu"))


@pytest.mark.parametrize("method", ["dm", "idm"])
def test_bf16_real_embeddings_build_a_close_set_and_record_it(method, digits, tmp_path, device):
    sets = {}
    for precision in ("fp32", "bf16"):
        losses: list[float] = []
        path = build("digits", method, 2, out=tmp_path / precision, settings=RunSettings(device=device, real_precision=precision), source=digits, iterations=4, progress=False, on_iteration=lambda it, loss: losses.append(loss))
        assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
        sets[precision] = load(path)
    assert sets["fp32"].meta["real_precision"] == "float32"
    assert sets["bf16"].meta["real_precision"] == "bfloat16"
    a, b = sets["fp32"].images, sets["bf16"].images
    assert not torch.equal(a, b)
    assert ((a - b).norm() / a.norm()).item() < 0.05


def test_fp32_real_precision_reproduces_the_float32_set(digits, tmp_path, device):
    first = build("digits", "dm", 2, out=tmp_path / "a", settings=RunSettings(device=device, real_precision="fp32"), source=digits, iterations=3, progress=False)
    again = build("digits", "dm", 2, out=tmp_path / "b", settings=RunSettings(device=device, real_precision="fp32"), source=digits, iterations=3, progress=False)
    assert torch.equal(load(first).images, load(again).images)


def test_bad_real_precision_is_refused_by_name(digits, tmp_path):
    with pytest.raises(ValueError, match=r"'half'.*auto, bf16, fp32"):
        build("digits", "dm", 2, out=tmp_path, settings=RunSettings(real_precision="half"), source=digits, iterations=1, progress=False)
    result = CliRunner().invoke(main, ["build", "digits", "--method", "dm", "--ipc", "1", "--out", str(tmp_path),
                                       "--real-precision", "half"])
    assert result.exit_code == 2 and "'half' is not one of 'auto', 'bf16', 'fp32'" in result.output


@pytest.mark.parametrize("together", ["loop", "vmap"])
def test_bf16_evaluation_learns_like_fp32_even_inside_a_callers_autocast(digits, together, device):
    # Regression: one autocast context around the whole training loop kept the first step's bf16 weights
    # (autocast caches casts until its outermost context exits) and the networks stayed at chance.
    images = real_init(digits, 10, torch.Generator().manual_seed(0)).to(device)
    labels = torch.arange(10, device=device).repeat_interleave(10)
    # a narrow ConvNet: the regression is the same at any width, and a CPU without native bf16 runs bf16 convolutions
    # through a slow reference kernel (~17x float32 on an AVX2 EPYC: 120 s for this test at width 128)
    run = dict(models=2, epochs=40, protocol="dsa", together=together, progress=False, device=device, arch="convnet-w32")
    fp32 = train_and_test(images, labels, digits, precision="fp32", **run)
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):  # a caller's context, open around ours
        bf16 = train_and_test(images, labels, digits, precision="bf16", **run)
    assert (fp32["precision"], bf16["precision"]) == ("float32", "bfloat16")
    assert bf16["mean"] > 50, bf16  # chance is 10 %
    assert abs(bf16["mean"] - fp32["mean"]) < 10, (fp32["accuracies"], bf16["accuracies"])


@pytest.mark.parametrize("group_kind", [_ModelLoop, _StackedModels])
def test_bf16_test_passes_agree_with_fp32(digits, group_kind, device):
    torch.manual_seed(0)
    models = [get_network("convnet", 1, 10, (8, 8)).to(device) for _ in range(2)]
    group = group_kind(models)
    group.train(False)
    x = digits.test_images[:400].to(device)
    with torch.no_grad():
        ref, fast = group.tester(torch.float32)(x), group.tester(torch.bfloat16)(x)
    assert ref.shape == fast.shape == (2, 400, 10) and fast.dtype == torch.float32
    assert torch.equal(ref, group.forward_shared(x))  # float32 testing is the model itself
    assert (ref.argmax(-1) == fast.argmax(-1)).float().mean() > 0.95
    assert not torch.equal(ref, fast)


def test_evaluation_precision_is_refused_by_name(digits):
    images, labels = digits.train_images[:20], digits.train_labels[:20]
    with pytest.raises(ValueError, match=r"'fp16'.*auto, bf16, fp32"):
        train_and_test(images, labels, digits, models=1, epochs=1, progress=False, precision="fp16")


def test_a_resume_must_keep_the_real_precision(digits, tmp_path):
    from condensed_datasets.core.errors import CheckpointMismatchError

    run = dict(out=tmp_path, source=digits, progress=False)
    build("digits", "dm", 2, iterations=2, settings=RunSettings(real_precision="fp32", checkpoint_minutes=0), **run)
    with pytest.raises(CheckpointMismatchError, match="written with --real-precision fp32, this run asks for bf16: resume with --real-precision fp32"):
        build("digits", "dm", 2, iterations=4, settings=RunSettings(real_precision="bf16", checkpoint_minutes=0), resume=True, **run)
    resumed = load(build("digits", "dm", 2, iterations=4, settings=RunSettings(real_precision="fp32", checkpoint_minutes=0), resume=True, **run))
    assert resumed.meta["iterations_run"] == 4 and resumed.meta["real_precision"] == "float32"


def test_bf16_network_training_on_real_batches_learns_in_float32_weights(digits, device):
    from condensed_datasets.condense.sampling import train_on_real

    stats, nets = {}, {}
    for dtype in (torch.float32, torch.bfloat16):
        torch.manual_seed(0)
        nets[dtype] = get_network("convnet-w32", 1, 10, (8, 8)).to(device)  # narrow: see the test above
        stats[dtype] = train_on_real(nets[dtype], digits.to(device), 60, torch.Generator().manual_seed(0), batch=64, dtype=dtype)
    assert all(p.dtype == torch.float32 for p in nets[torch.bfloat16].parameters())
    assert stats[torch.bfloat16].accuracy > 50 and abs(stats[torch.bfloat16].accuracy - stats[torch.float32].accuracy) < 10
    assert not torch.equal(nets[torch.float32].classifier.weight, nets[torch.bfloat16].classifier.weight)  # autocast was on


# each method's smallest run whose set depends on its network training (IDM: a queue model trained at iteration 0 is
# matched against, and its accuracy weights the cross-entropy, from iteration 1)
TRAINING_RUNS = [("idc-i", {"inner_loop": 2}), ("dsa", {"outer_loop": 2, "inner_loop": 1}),
                 ("idm", {"n_max": 1, "model_train_steps": 2})]


@pytest.mark.parametrize("method, overrides", TRAINING_RUNS)
def test_train_precision_is_recorded_refused_by_name_and_kept_on_resume(method, overrides, digits, tmp_path):
    from condensed_datasets.core.errors import CheckpointMismatchError

    run = dict(source=digits, progress=False, overrides=overrides)
    fp32 = load(build("digits", method, 1, out=tmp_path / "a", iterations=2, settings=RunSettings(train_precision="fp32", checkpoint_minutes=0), **run))
    bf16 = load(build("digits", method, 1, out=tmp_path / "b", iterations=2, settings=RunSettings(train_precision="bf16", checkpoint_minutes=0), **run))
    assert "train_precision" not in fp32.meta and bf16.meta["train_precision"] == "bfloat16"
    assert not torch.equal(fp32.images, bf16.images)
    with pytest.raises(CheckpointMismatchError, match="written with --train-precision fp32, this run asks for bf16: resume with --train-precision fp32"):
        build("digits", method, 1, out=tmp_path / "a", iterations=3, settings=RunSettings(train_precision="bf16", checkpoint_minutes=0), resume=True, **run)
    with pytest.raises(ValueError, match=r"'half'.*auto, bf16, fp32"):
        build("digits", method, 1, out=tmp_path / "c", iterations=1, settings=RunSettings(train_precision="half", checkpoint_minutes=0), **run)


def test_gradient_matching_with_one_outer_step_trains_no_network_and_records_no_train_precision(digits, tmp_path):
    run = dict(source=digits, progress=False, iterations=2)
    fp32 = load(build("digits", "dc", 1, out=tmp_path / "a", settings=RunSettings(train_precision="fp32"), **run))
    bf16 = load(build("digits", "dc", 1, out=tmp_path / "b", settings=RunSettings(train_precision="bf16"), **run))
    assert "train_precision" not in bf16.meta and torch.equal(fp32.images, bf16.images)


def test_train_precision_is_refused_by_name_on_the_command_line(tmp_path):
    result = CliRunner().invoke(main, ["build", "digits", "--method", "idc", "--ipc", "1", "--out", str(tmp_path / "d"),
                                       "--train-precision", "half"])
    assert result.exit_code == 2 and "'half' is not one of 'auto', 'bf16', 'fp32'" in result.output


NEEDS_COMPILER = pytest.mark.skipif(not can_compile(torch.device("cpu")), reason="Inductor needs a C++ compiler")


def test_compilation_choice_follows_the_work_and_the_machine():
    cpu = torch.device("cpu")
    assert resolve_compilation("auto", cpu, AUTO_MIN_PIXELS - 1) is False  # short evaluations (every test's) stay eager
    assert resolve_compilation("auto", cpu, AUTO_MIN_PIXELS) is can_compile(cpu)
    assert resolve_compilation("auto", torch.device("cuda"), 10**12) is False  # not measured on GPUs
    assert resolve_compilation("auto", cpu, 10**12, torch.bfloat16) is can_compile(cpu)  # bf16 networks too
    assert resolve_compilation("auto", cpu, 10**12, torch.float16) is False  # never measured
    assert resolve_compilation("on", cpu, 1, torch.bfloat16) is True
    assert resolve_compilation("on", cpu, 1) is True and resolve_compilation("off", cpu, 10**6) is False
    with pytest.raises(ValueError, match=r"'yes'.*auto, on, off"):
        resolve_compilation("yes", cpu, 1)


def test_evaluation_compilation_is_refused_by_name(digits):
    images, labels = digits.train_images[:20], digits.train_labels[:20]
    with pytest.raises(ValueError, match=r"'always'.*auto, on, off"):
        train_and_test(images, labels, digits, models=1, epochs=1, progress=False, compilation="always")


@NEEDS_COMPILER
def test_a_compiled_network_computes_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    eager = get_network("convnet-w32", 3, 10, (16, 16))
    twin = get_network("convnet-w32", 3, 10, (16, 16))
    twin.load_state_dict(eager.state_dict())
    fast = compiled(twin, True)
    assert compiled(eager, False) is eager
    x, y = torch.randn(6, 3, 16, 16), torch.randint(0, 10, (6,))
    for net in (eager, fast):
        nn.functional.cross_entropy(net(x), y).backward()
    torch.testing.assert_close(fast(x), eager(x), rtol=1e-4, atol=1e-5)
    for a, b in zip(eager.parameters(), twin.parameters()):  # the compiled wrapper trains the twin's own parameters
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5)


@NEEDS_COMPILER
def test_compiled_evaluation_learns_like_eager_and_says_so(digits):
    images = real_init(digits, 10, torch.Generator().manual_seed(0))
    labels = torch.arange(10).repeat_interleave(10)
    run = dict(models=2, epochs=40, protocol="dsa", precision="fp32", progress=False, arch="convnet-w32")
    eager = train_and_test(images, labels, digits, compilation="off", **run)
    fast = train_and_test(images, labels, digits, compilation="on", **run)
    assert (eager["compiled"], fast["compiled"]) == (False, True)
    assert fast["mean"] > 50  # chance is 10 %
    assert max(abs(a - b) for a, b in zip(eager["accuracies"], fast["accuracies"])) < 3, (eager["accuracies"], fast["accuracies"])


def test_auto_leaves_short_evaluations_eager_and_vmap_is_never_compiled(digits):
    images, labels = digits.train_images[:20], digits.train_labels[:20]
    short = train_and_test(images, labels, digits, models=1, epochs=2, progress=False)  # compilation="auto"
    stacked = train_and_test(images, labels, digits, models=2, epochs=2, progress=False, together="vmap", compilation="on")
    assert (short["compiled"], stacked["compiled"]) == (False, False)


@NEEDS_COMPILER
def test_eval_compile_option_reaches_the_evaluation_and_refuses_bad_values(digits, tmp_path):
    path = build("digits", "dm", 1, out=tmp_path, source=digits, iterations=1, progress=False)
    common = ["eval", str(path), "--models", "1", "--epochs", "2", "--arch", "convnet-w32", "--quiet", "--json"]
    on = CliRunner().invoke(main, [*common, "--compile", "on"])
    assert on.exit_code == 0, on.output
    assert json.loads(on.output.strip().splitlines()[-1])["compiled"] is True
    bad = CliRunner().invoke(main, [*common, "--compile", "always"])
    assert bad.exit_code == 2 and "'always' is not one of 'auto', 'on', 'off'" in bad.output


def test_recipes_compile_their_network_training_only_for_long_runs():
    cpu = torch.device("cpu")
    on = can_compile(cpu)
    assert training_compilation("auto", cpu, AUTO_MIN_PIXELS, torch.bfloat16) == (on, {"train_compiled": True} if on else {})
    assert training_compilation("auto", cpu, AUTO_MIN_PIXELS - 1, torch.float32) == (False, {})
    assert training_compilation("off", cpu, 10**12, torch.float32) == (False, {})
    with pytest.raises(ValueError, match=r"'always'.*auto, on, off"):
        training_compilation("always", cpu, 0, torch.float32)


@NEEDS_COMPILER
@pytest.mark.parametrize("method, overrides", TRAINING_RUNS)
def test_compiled_network_training_builds_the_eager_set_and_says_so(method, overrides, digits, tmp_path):
    # float32, so that compiled and eager steps differ only by the rounding of fused kernels
    run = dict(source=digits, progress=False, overrides=overrides, iterations=2)
    base = RunSettings(train_precision="fp32")
    eager = load(build("digits", method, 1, out=tmp_path / "a", settings=replace(base, train_compilation="off"), **run))
    fused = load(build("digits", method, 1, out=tmp_path / "b", settings=replace(base, train_compilation="on"), **run))
    by_default = load(build("digits", method, 1, out=tmp_path / "c", settings=base, **run))  # a 2-iteration digits run stays eager
    assert "train_compiled" not in eager.meta and fused.meta["train_compiled"] is True and "train_compiled" not in by_default.meta
    assert torch.allclose(fused.images, eager.images, atol=1e-3) and torch.equal(by_default.images, eager.images)


@pytest.mark.parametrize("keyword, flag", [("train_compilation", "--train-compile"), ("match_compilation", "--match-compile")])
def test_recipe_compilation_choices_are_refused_by_name(keyword, flag, digits, tmp_path):
    with pytest.raises(ValueError, match=r"'always'.*auto, on, off"):
        build("digits", "idc", 1, out=tmp_path / "a", source=digits, iterations=1, progress=False, settings=RunSettings(**{keyword: "always"}))
    result = CliRunner().invoke(main, ["build", "digits", "--method", "idc", "--ipc", "1", "--out", str(tmp_path / "d"),
                                       flag, "always"])
    assert result.exit_code == 2 and "'always' is not one of 'auto', 'on', 'off'" in result.output
