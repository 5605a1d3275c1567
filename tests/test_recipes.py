"""DC, DSA and DM on a tiny real set: each lowers its own objective; runs resume exactly; NaN stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import save_file

from condensed_datasets.recipes import get_method
from conftest import TEST_DEVICE as DEVICE

from condensed_datasets.condense.checkpoint import read_checkpoint
from condensed_datasets.condense.distances import (
    compared_parameters,
    gradient_distance,
    mean_embedding_distance,
)
from condensed_datasets.condense.gradient_matching import matching_loss
from condensed_datasets.condense.matching_pass import class_gradients
from condensed_datasets.condense.sampling import sample_class
from condensed_datasets.condense.settings import RunOptions, RunSettings
from condensed_datasets.core.errors import (
    CheckpointMismatchError,
    NonFiniteLossError,
    RunStopped,
)
from condensed_datasets.core.storage import load
from condensed_datasets.pipeline.build import build
from condensed_datasets.training.evaluate import EvalSettings, evaluate
from condensed_datasets.training.nets import get_network

FAST = {"arch": "convnet-w32", "batch_real": 32}


@pytest.fixture(scope="module")
def tiny(digits, device):
    return digits.subset(40, seed=0).to(device)


def _fixed_nets(real, n=4):
    nets = []
    for seed in range(n):
        torch.manual_seed(100 + seed)
        nets.append(get_network("convnet-w32", real.channels, real.num_classes, real.image_size).to(real.train_images.device))
    return nets


def _gm_objective(images, real, ipc, config):
    """The gradient-matching loss averaged over fixed networks and fixed real batches."""
    total = 0.0
    for i, net in enumerate(_fixed_nets(real)):
        g = torch.Generator().manual_seed(7 + i)
        total += float(matching_loss(net, list(net.parameters()), images.detach().requires_grad_(True), real, ipc, config, None, g).detach())
    return total


def _dm_objective(images, real, ipc):
    total = 0.0
    for i, net in enumerate(_fixed_nets(real)):
        g = torch.Generator().manual_seed(7 + i)
        with torch.no_grad():
            e_real = torch.stack([net.embed(sample_class(real, c, 32, g)) for c in range(real.num_classes)])
            e_syn = net.embed(images).view(real.num_classes, ipc, -1)
        total += float(mean_embedding_distance(e_real, e_syn))
    return total


@pytest.mark.parametrize("method", ["dc", "dsa"])
def test_gradient_matching_lowers_its_objective(tiny, method):
    spec = get_method(method)
    config = spec.config("digits", 1, {**FAST, "iterations": 15})
    start = spec.condense(tiny, 1, {**config, "iterations": 0}, RunOptions(device=DEVICE, seed=0, progress=False))
    end = spec.condense(tiny, 1, config, RunOptions(device=DEVICE, seed=0, progress=False))
    assert end.meta["iterations_run"] == 15
    assert _gm_objective(end.images, tiny, 1, config) < 0.9 * _gm_objective(start.images, tiny, 1, config)


@pytest.mark.parametrize("batched", [True, False])
def test_dm_lowers_its_objective(tiny, batched):
    spec = get_method("dm")
    config = spec.config("digits", 2, {**FAST, "iterations": 30, "batched_classes": batched})
    start = spec.condense(tiny, 2, {**config, "iterations": 0}, RunOptions(device=DEVICE, seed=0, progress=False))
    end = spec.condense(tiny, 2, config, RunOptions(device=DEVICE, seed=0, progress=False))
    assert _dm_objective(end.images, tiny, 2) < 0.7 * _dm_objective(start.images, tiny, 2)


def test_dm_batched_classes_is_the_same_loss_as_the_per_class_loop(tiny):
    spec = get_method("dm")
    runs = [spec.condense(tiny, 2, spec.config("digits", 2, {**FAST, "iterations": 3, "batched_classes": b}),
                          RunOptions(device=DEVICE, seed=5, progress=False)) for b in (True, False)]
    assert torch.allclose(runs[0].images, runs[1].images, atol=1e-4)


def test_gradient_distance_ignores_one_dimensional_parameters():
    a = [torch.randn(4, 3, 3, 3), torch.randn(4)]
    b = [a[0].clone(), torch.randn(4)]
    assert float(gradient_distance(a, b, "dc")) == pytest.approx(0, abs=1e-5)
    assert float(gradient_distance(a, b, "angle_magnitude")) == pytest.approx(0, abs=1e-4)
    assert float(gradient_distance(a, [2 * a[0], b[1]], "dc")) == pytest.approx(0, abs=1e-5)  # direction only
    assert float(gradient_distance(a, [2 * a[0], b[1]], "angle_magnitude", 1.0)) == pytest.approx(float(a[0].reshape(4, -1).norm(dim=1).sum()), rel=1e-4)


@pytest.mark.parametrize("metric", ["dc", "angle_magnitude", "mse", "l1", "cos"])
def test_matching_computes_only_the_gradients_its_metric_reads(metric):
    net = get_network("convnet-w32", 1, 10, (8, 8))
    params = list(net.parameters())
    kept = compared_parameters(metric, params)
    assert len(kept) == (4 if metric in ("dc", "angle_magnitude") else len(params))  # 3 conv weights + the fc weight
    x, y = torch.randn(6, 1, 8, 8), torch.randn(6, 1, 8, 8)
    full = gradient_distance(class_gradients(net, params, x, 2, False), class_gradients(net, params, y, 2, False), metric)
    part = gradient_distance(class_gradients(net, kept, x, 2, False), class_gradients(net, kept, y, 2, False), metric)
    assert torch.allclose(full, part)
    with pytest.raises(ValueError, match="unknown gradient distance 'l3'"):
        compared_parameters("l3", params)


RESUME_OVERRIDES = {"dm": FAST, "dsa": {**FAST, "outer_loop": 2, "inner_loop": 1},
                    "idc": {**FAST, "batch_real": 16, "n_data": 16, "inner_loop": 2}}  # idc resumes mid-network


@pytest.mark.parametrize("method", sorted(RESUME_OVERRIDES))
def test_resume_reproduces_the_uninterrupted_run(tiny, tmp_path, method):
    overrides = RESUME_OVERRIDES[method]
    fresh = build("digits", method, 1, out=tmp_path / "fresh", iterations=6, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=overrides)
    build("digits", method, 1, out=tmp_path / "split", iterations=3, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=overrides)
    _, info = read_checkpoint(tmp_path / "split" / "digits" / method / "ipc1" / "checkpoint.safetensors")
    assert info["iteration"] == 3
    resumed = build("digits", method, 1, out=tmp_path / "split", iterations=6, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=overrides, resume=True)
    assert torch.equal(load(fresh).images, load(resumed).images)


def test_resume_refuses_a_checkpoint_of_another_config(tiny, tmp_path):
    build("digits", "dm", 1, out=tmp_path, iterations=2, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=FAST)
    with pytest.raises(ValueError, match="different run"):
        build("digits", "dm", 1, out=tmp_path, iterations=4, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides={**FAST, "lr_img": 0.5}, resume=True)


def test_a_resume_keeps_the_arithmetic_the_checkpoint_was_written_with(tiny, tmp_path):
    # Started in float32 (another machine's auto may pick bf16): auto on resume keeps float32, and equals a fresh run.
    common = dict(source=tiny, progress=False, overrides=FAST)
    fresh = build("digits", "dm", 1, out=tmp_path / "fresh", iterations=4, settings=RunSettings(device=DEVICE, real_precision="fp32"), **common)
    build("digits", "dm", 1, out=tmp_path / "split", iterations=2, settings=RunSettings(device=DEVICE, real_precision="fp32"), **common)
    resumed = build("digits", "dm", 1, out=tmp_path / "split", iterations=4, settings=RunSettings(device=DEVICE, real_precision="auto"), resume=True, **common)
    assert load(resumed).meta["real_precision"] == "float32" and torch.equal(load(fresh).images, load(resumed).images)
    with pytest.raises(CheckpointMismatchError, match="written with --real-precision fp32, this run asks for bf16: resume with "
                       "--real-precision fp32"):
        build("digits", "dm", 1, out=tmp_path / "split", iterations=6, settings=RunSettings(device=DEVICE, real_precision="bf16"), resume=True, **common)
    # Compiled or not is recorded too: an explicit other choice is refused, auto keeps it.
    dsa = dict(source=tiny, progress=False, overrides={**FAST, "outer_loop": 2, "inner_loop": 1})
    build("digits", "dsa", 1, out=tmp_path, iterations=1, settings=RunSettings(device=DEVICE, match_compilation="off"), **dsa)
    with pytest.raises(CheckpointMismatchError, match="--match-compile off, this run asks for on"):
        build("digits", "dsa", 1, out=tmp_path, iterations=2, settings=RunSettings(device=DEVICE, match_compilation="on"), resume=True, **dsa)
    assert "match_compiled" not in load(build("digits", "dsa", 1, out=tmp_path, iterations=2, settings=RunSettings(device=DEVICE), resume=True, **dsa)).meta


def test_a_checkpoint_resumes_only_on_the_copy_of_the_data_it_was_built_from(digits, tiny, tmp_path, caplog):
    common = dict(settings=RunSettings(device=DEVICE), progress=False, overrides=FAST)
    path = tmp_path / "digits" / "dm" / "ipc1" / "checkpoint.safetensors"
    build("digits", "dm", 1, out=tmp_path, iterations=2, source=tiny, **common)
    tensors, info = read_checkpoint(path)
    assert info["source_sha256"] == tiny.source_sha256
    other = digits.subset(40, seed=1).to(tiny.train_images.device)  # another copy: other images, another digest
    assert other.source_sha256 != tiny.source_sha256
    with pytest.raises(CheckpointMismatchError, match=r"source_sha256: checkpoint .*another copy of the dataset \(other files, or the same image files decoded .*\): point --data-root"):
        build("digits", "dm", 1, out=tmp_path, iterations=4, source=other, resume=True, **common)
    # A checkpoint written before checkpoints recorded their data says nothing of it: the run adopts its copy,
    # records it from the next checkpoint on, and the set and its evaluation name it.
    del info["source_sha256"]
    for stretch in info["segments"]:
        del stretch["source_sha256"]
    save_file(tensors, str(path), metadata={"checkpoint": json.dumps(info)})
    resumed = load(build("digits", "dm", 1, out=tmp_path, iterations=4, source=other, resume=True, **common))
    assert resumed.meta["source_sha256"] == other.source_sha256
    assert f"this run adopts its own ({other.source_sha256[:12]}) from iteration 2 on" in caplog.text
    stretches = json.loads((path.parent / "build.json").read_text())
    assert [s.get("source_sha256") for s in stretches["segments"]] == [None, other.source_sha256]  # which stretch read what
    assert set(stretches["sources"]) == {"not recorded", other.source_sha256}
    record = evaluate(resumed, tiny, EvalSettings(models=1, epochs=2, device=DEVICE), progress=False)
    assert (record["set_source_sha256"], record["source_sha256"]) == (other.source_sha256, tiny.source_sha256)


def test_a_sigterm_stops_the_run_at_an_iteration_boundary_with_a_checkpoint(tiny, tmp_path):
    def stop_at_third(it, loss):
        if it == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # as a campaign's deadline or a scheduler sends it

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunStopped, match="after iteration 3 of 50; checkpoint .*continue it with --resume"):
        build("digits", "dm", 1, out=tmp_path / "split", iterations=50, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=FAST,
              on_iteration=stop_at_third)
    _, info = read_checkpoint(tmp_path / "split" / "digits" / "dm" / "ipc1" / "checkpoint.safetensors")
    assert info["iteration"] == 3 and [(s["from"], s["to"]) for s in info["segments"]] == [(0, 3)]
    assert signal.getsignal(signal.SIGTERM) is before  # the handler lives only as long as the run
    resumed = build("digits", "dm", 1, out=tmp_path / "split", iterations=5, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=FAST, resume=True)
    fresh = build("digits", "dm", 1, out=tmp_path / "fresh", iterations=5, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=FAST)
    assert torch.equal(load(fresh).images, load(resumed).images)


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tiny, tmp_path):
    build("digits", "dm", 1, out=tmp_path, iterations=2, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=FAST)
    ckpt = tmp_path / "digits" / "dm" / "ipc1" / "checkpoint.safetensors"
    before = ckpt.read_bytes()
    with pytest.raises(NonFiniteLossError, match="last good checkpoint"):
        build("digits", "dm", 1, out=tmp_path, iterations=50, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides={**FAST, "lr_img": 1e30}, resume=False)
    assert ckpt.read_bytes() == before  # untouched: only finite iterations are ever saved
    assert not (tmp_path / "digits" / "dm" / "ipc1" / "condensed.safetensors").exists() or load(
        tmp_path / "digits" / "dm" / "ipc1" / "condensed.safetensors").meta["method"] == "dm"


def test_unknown_hyperparameter_is_refused():
    with pytest.raises(ValueError, match="no hyperparameter lr_imgg; valid: .*lr_img"):
        get_method("dm").config("cifar10", 10, {"lr_imgg": 1})


def test_published_hyperparameters_are_data():
    dc = get_method("dc").config("cifar10", 10)
    assert (dc["outer_loop"], dc["inner_loop"], dc["lr_img"], dc["init"], dc["iterations"]) == (10, 50, 0.1, "noise", 1000)
    assert get_method("dc").config("mnist", 1)["outer_loop"] == 1
    assert get_method("dsa").config("cifar10", 50)["init"] == "real"
    dm = get_method("dm").config("cifar10", 50)
    assert (dm["lr_img"], dm["batch_real"], dm["iterations"]) == (1.0, 256, 20000)
    assert get_method("dm").config("cifar10", 100)["lr_img"] == 10.0


@pytest.mark.slow
def test_a_killed_run_never_leaves_a_half_written_checkpoint(tmp_path):
    cmd = [sys.executable, "-m", "condensed_datasets.cli.main", "build", "digits", "--method", "dm", "--ipc", "2", "--out",
           str(tmp_path), "--iterations", "100000", "--checkpoint-minutes", "0", "--quiet",
           "--set", "arch=convnet-w32", "--set", "batch_real=16", "--device", torch.device(DEVICE).type]
    ckpt = tmp_path / "digits" / "dm" / "ipc2" / "checkpoint.safetensors"
    last = 0
    for attempt, delay in enumerate((0.0, 0.37, 0.81)):
        proc = subprocess.Popen(cmd + (["--resume"] if attempt else []), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not ckpt.exists() or read_checkpoint(ckpt)[1]["iteration"] <= last):
            time.sleep(0.05)
        time.sleep(delay)  # kill at different points of the write cycle
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        tensors, info = read_checkpoint(ckpt)  # always a complete, readable file
        assert tensors["images"].shape == (20, 1, 8, 8)
        assert info["iteration"] > last  # and each resumed run carried on from the previous one
        last = info["iteration"]
    (ckpt.parent / f".{ckpt.name}.killed.tmp").write_bytes(b"half")  # what a kill mid-write leaves
    subprocess.run(cmd[:cmd.index("--iterations") + 1] + ["1"] + cmd[cmd.index("--iterations") + 2:] + ["--resume"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert not list(ckpt.parent.glob("*.tmp"))  # the next run of the same set removes stale temporaries


def test_dcmg_inter_class_term_equals_the_pooled_batch_gradient(tiny):
    """The class-averaged gradient equals the gradient of the pooled batch when classes have equal sizes."""
    torch.manual_seed(0)
    net = get_network("convnet-w32", tiny.channels, tiny.num_classes, tiny.image_size).to(DEVICE)
    params = list(net.parameters())
    g = torch.Generator().manual_seed(1)
    batches = [sample_class(tiny, c, 8, g) for c in range(tiny.num_classes)]
    per_class = [class_gradients(net, params, x, c, create_graph=False) for c, x in enumerate(batches)]
    averaged = [sum(gs) / tiny.num_classes for gs in zip(*per_class)]
    labels = torch.arange(tiny.num_classes, device=DEVICE).repeat_interleave(8)
    pooled = torch.autograd.grad(torch.nn.functional.cross_entropy(net(torch.cat(batches)), labels), params)
    for a, b in zip(averaged, pooled):
        assert torch.allclose(a, b, atol=1e-6)
    # and the loss's inter-class term is lambda * distance of those averages
    config = {"metric": "angle_magnitude", "metric_weight": 1.0, "batch_real": 8, "inter_class_weight": 0}
    images = torch.cat(batches).clone().requires_grad_(True)
    base = matching_loss(net, params, images, tiny, 8, config, None, torch.Generator().manual_seed(2))
    multi = matching_loss(net, params, images, tiny, 8, {**config, "inter_class_weight": 10}, None, torch.Generator().manual_seed(2))
    g2 = torch.Generator().manual_seed(2)
    real_avg = [sum(gs) / 10 for gs in zip(*[class_gradients(net, params, sample_class(tiny, c, 8, g2), c, False) for c in range(10)])]
    syn_avg = [sum(gs) / 10 for gs in zip(*[class_gradients(net, params, images[c * 8:(c + 1) * 8], c, False) for c in range(10)])]
    expected = 10 * gradient_distance(syn_avg, real_avg, "angle_magnitude", 1.0)
    assert float((multi - base).detach()) == pytest.approx(float(expected), rel=1e-4)


def test_dcmg_variants_and_schedule(tiny):
    from condensed_datasets.condense.gradient_matching import adaptive_inner_steps

    assert [adaptive_inner_steps(t) for t in (0, 1, 3, 4, 9, 10, 30)] == [50, 40, 20, 10, 10, 5, 5]
    spec = get_method("dcmg")
    assert spec.config("cifar10", 50)["metric_weight"] == 1.0 and spec.config("cifar10", 10)["variant"] == "MDA"
    cset = spec.condense(tiny, 1, spec.config("digits", 1, {**FAST, "iterations": 1, "variant": "MD"}), RunOptions(device=DEVICE, progress=False))
    assert cset.meta["config"]["metric"] == "angle_magnitude" and cset.meta["config"]["inter_class_weight"] == 10
    with pytest.raises(ValueError, match="M, MD, MDA"):
        spec.condense(tiny, 1, spec.config("digits", 1, {"variant": "X"}), RunOptions(device=DEVICE, progress=False))


def test_dcmg_lowers_its_objective(tiny):
    spec = get_method("dcmg")
    config = spec.config("digits", 1, {**FAST, "iterations": 15})
    run_config = {**config, "metric": "angle_magnitude", "inter_class_weight": 10}
    start = spec.condense(tiny, 1, {**config, "iterations": 0}, RunOptions(device=DEVICE, seed=0, progress=False))
    end = spec.condense(tiny, 1, config, RunOptions(device=DEVICE, seed=0, progress=False))
    assert _gm_objective(end.images, tiny, 1, run_config) < 0.9 * _gm_objective(start.images, tiny, 1, run_config)


IDC_FAST = {**FAST, "batch_real": 16, "n_data": 16, "inner_loop": 3}


def _idc_objective(images, real, ipc, spec, metric):
    """IDC's matching distance (no augmentation) over fixed networks and fixed real batches."""
    from condensed_datasets.core.decoders import decode

    total = 0.0
    labels = torch.arange(real.num_classes, device=images.device).repeat_interleave(ipc)
    for i, net in enumerate(_fixed_nets(real)):
        g = torch.Generator().manual_seed(7 + i)
        params = [p for p in net.parameters() if p.ndim >= 3]
        for c in range(real.num_classes):
            syn, _ = decode(spec, images[c * ipc:(c + 1) * ipc], labels[c * ipc:(c + 1) * ipc])
            g_real = class_gradients(net, params, sample_class(real, c, 16, g), c, False)
            g_syn = class_gradients(net, params, syn, c, False)
            total += float(gradient_distance(g_syn, g_real, metric))
    return total


@pytest.mark.parametrize("method", ["idc", "idc-i"])
def test_idc_lowers_its_objective(tiny, method):
    spec = get_method(method)
    config = spec.config("digits", 2, {**IDC_FAST, "iterations": 8, "lr_img": 5e-3})
    start = spec.condense(tiny, 2, {**config, "iterations": 0}, RunOptions(device=DEVICE, seed=0, progress=False))
    end = spec.condense(tiny, 2, config, RunOptions(device=DEVICE, seed=0, progress=False))
    assert end.decoder.name == ("multi_formation" if method == "idc" else "identity")
    before = _idc_objective(start.images, tiny, 2, start.decoder, config["metric"])
    after = _idc_objective(end.images, tiny, 2, end.decoder, config["metric"])
    assert after < 0.95 * before


def test_idc_export_round_trips_through_the_loader(tiny, tmp_path):
    from condensed_datasets import CondensedDigits
    from condensed_datasets.core.decoders import decode

    path = build("digits", "idc", 2, out=tmp_path, iterations=2, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=IDC_FAST)
    cset = load(path)
    inside, _ = decode(cset.decoder, cset.images, cset.labels)  # what the recipe trains on
    ds = CondensedDigits(root=tmp_path, method="idc", ipc=2, download=False)
    assert len(ds) == 10 * 2 * 4 and torch.equal(ds.images, inside)
    assert ds.targets == [c for c in range(10) for _ in range(8)]


def test_idc_init_places_the_first_real_images_in_the_grid(tiny):
    from condensed_datasets.recipes.idc import mix_init
    from torch.nn import functional as F

    stored = mix_init(tiny, 2, 2)
    first = tiny.train_images[tiny.class_indices[0][:8]]
    # class 0, stored image 1, grid part 2 (bottom-left) holds real image 2 * ipc + 1 = 5, downscaled
    assert torch.equal(stored[1, :, 4:, :4], F.interpolate(first[5:6], size=(4, 4), mode="nearest")[0])


def test_idc_init_cycles_through_a_class_smaller_than_its_grid(digits):
    from condensed_datasets.recipes.idc import mix_init
    from torch.nn import functional as F

    small = digits.subset(3, seed=0)  # ipc 2 with f = 2 needs 8 images per class; each class has 3
    stored = mix_init(small, 2, 2)
    assert stored.shape == (20, *small.train_images.shape[1:])
    for part, (rows, cols) in enumerate([(slice(0, 4), slice(0, 4)), (slice(0, 4), slice(4, 8)),
                                         (slice(4, 8), slice(0, 4)), (slice(4, 8), slice(4, 8))]):
        real = small.train_images[small.class_indices[0][(part * 2 + 1) % 3]].unsqueeze(0)  # image 1 holds real 2k+1 mod 3
        assert torch.equal(stored[1, :, rows, cols], F.interpolate(real, size=(4, 4), mode="nearest")[0])


def test_idm_queue_is_bounded_and_its_models_differ_in_age(tiny, tmp_path):
    overrides = {**FAST, "trained_bs": 16, "push_interval": 1, "n_max": 4, "model_train_steps": 2}
    path = build("digits", "idm", 1, out=tmp_path / "a", iterations=6, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=overrides)
    steps = load(path).meta["queue_steps"]
    assert len(steps) == 4  # 3 initial + 6 pushes, capped at n_max
    assert len(set(steps)) > 1
    build("digits", "idm", 1, out=tmp_path / "b", iterations=3, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=overrides)
    resumed = build("digits", "idm", 1, out=tmp_path / "b", iterations=6, settings=RunSettings(device=DEVICE), source=tiny, progress=False, overrides=overrides, resume=True)
    assert torch.equal(load(resumed).images, load(path).images) and load(resumed).meta["queue_steps"] == steps


def test_idm_queue_push_pop():
    from condensed_datasets.recipes.idm import ModelQueue

    made = []
    queue = ModelQueue(lambda: made.append(len(made)) or torch.nn.Linear(2, 2), n_max=3)
    for _ in range(5):
        queue.push()
        assert len(queue.models) <= 3
    assert len(made) == 5 and len(queue.sample(2, torch.Generator().manual_seed(0))) == 2


@pytest.mark.parametrize("factor,init", [(2, "mosaic"), (1, "real")])  # the papers' partition; digits' whole images
def test_idm_lowers_its_objective(tiny, factor, init):
    from condensed_datasets.core.decoders import decode

    spec = get_method("idm")
    config = spec.config("digits", 1, {**FAST, "trained_bs": 16, "iterations": 15, "ce_weight": 0.0, "factor": factor, "init": init})
    start = spec.condense(tiny, 1, {**config, "iterations": 0}, RunOptions(device=DEVICE, seed=0, progress=False))
    end = spec.condense(tiny, 1, config, RunOptions(device=DEVICE, seed=0, progress=False))
    expand = lambda c: decode(c.decoder, c.images, c.labels)[0]  # noqa: E731  (class-major: factor^2 per class)
    assert expand(end).shape[0] == tiny.num_classes * factor**2 and end.meta["config"]["factor"] == factor
    assert _dm_objective(expand(end), tiny, factor**2) < 0.95 * _dm_objective(expand(start), tiny, factor**2)


def test_idm_refuses_a_mosaic_that_does_not_fit_its_factor(tiny):
    spec = get_method("idm")
    config = spec.config("digits", 1, {**FAST, "iterations": 1, "factor": 1, "init": "mosaic"})
    with pytest.raises(ValueError, match="init 'mosaic' fills the 2 x 2 quadrants of factor 2; factor 1 needs init 'real'"):
        spec.condense(tiny, 1, config, RunOptions(device=DEVICE, seed=0, progress=False))
