"""``condensed build`` and ``condensed eval`` end to end on the embedded digits, and their error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TEST_DEVICE

from condensed_datasets.cli.main import main
from condensed_datasets.core.storage import load

KIND = TEST_DEVICE.split(":")[0]  # the CLI takes cpu or cuda


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_build_then_eval_on_digits(tmp_path):
    built = run("build", "digits", "--method", "random", "--ipc", "3", "--out", str(tmp_path), "--quiet", "--seed", "4",
                "--device", KIND)
    assert built.exit_code == 0, built.output
    path = built.output.strip().splitlines()[-1]
    assert path == str(tmp_path / "digits" / "random" / "ipc3" / "condensed.safetensors")
    cset = load(path)
    assert cset.images.shape == (30, 1, 8, 8) and cset.meta["seed"] == 4
    evaluated = run("eval", path, "--models", "2", "--epochs", "5", "--json", "--quiet", "--device", KIND)
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.output)
    for key in ("mean", "std", "accuracies", "arch", "protocol", "epochs", "models"):
        assert key in result
    assert result["protocol"] == "dc" and result["models"] == 2 and result["epochs"] == 5 and result["arch"] == "convnet"
    assert result["together"] == ("sequential" if KIND == "cpu" else "vmap")  # what auto picks on this device
    text = run("eval", path, "--models", "1", "--epochs", "2", "--protocol", "dsa", "--arch", "mlp", "--quiet")
    assert text.exit_code == 0 and "protocol dsa" in text.output and "1 x mlp" in text.output
    interleaved = run("eval", path, "--models", "2", "--epochs", "2", "--together", "loop", "--json", "--quiet")
    assert json.loads(interleaved.output)["together"] == "loop"
    assert run("eval", path, "--together", "threads").exit_code != 0
    exact = run("eval", path, "--models", "1", "--epochs", "2", "--precision", "fp32", "--json", "--quiet")
    assert json.loads(exact.output)["precision"] == "float32"
    assert json.loads((tmp_path / "digits" / "random" / "ipc3" / "eval.json").read_text())[-1]["precision"] == "float32"
    half = run("eval", path, "--precision", "fp16")
    assert half.exit_code == 2 and "'fp16' is not one of 'auto', 'bf16', 'fp32'" in half.output


def test_bad_choices_list_the_valid_ones(tmp_path):
    bad_method = run("build", "digits", "--method", "magic", "--ipc", "1", "--out", str(tmp_path))
    assert bad_method.exit_code != 0 and "random" in bad_method.output and "herding" in bad_method.output
    bad_dataset = run("build", "cifar11", "--method", "random", "--ipc", "1", "--out", str(tmp_path))
    assert bad_dataset.exit_code != 0 and "cifar10" in bad_dataset.output and "imagefolder:PATH" in bad_dataset.output
    bad_arch = run("eval", "x.safetensors", "--arch", "resnet50")
    assert bad_arch.exit_code != 0 and "resnet18" in bad_arch.output


def test_ipc_out_of_range_is_refused(tmp_path):
    for ipc in ("0", "10000"):
        result = run("build", "digits", "--method", "random", "--ipc", ipc, "--out", str(tmp_path))
        assert result.exit_code == 1 and f"--ipc {ipc} is out of range" in result.output and "choose 1 to" in result.output
    assert not (tmp_path / "digits").exists()


def test_missing_data_and_bad_files_are_clean_errors(tmp_path):
    missing = run("build", "mnist", "--method", "random", "--ipc", "1", "--data-root", str(tmp_path))
    assert missing.exit_code == 1 and "dataset not found" in missing.output and "Traceback" not in missing.output
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    bad = run("eval", str(tmp_path / "bad.safetensors"))
    assert bad.exit_code == 1 and "truncated or corrupted" in bad.output


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        return
    result = run("build", "digits", "--method", "random", "--ipc", "1", "--device", "cuda", "--out", str(tmp_path))
    assert result.exit_code == 1 and "no CUDA device" in result.output


# A process of init's session (sid 0: a CI runner's, a container's) is in the root group: /proc/self/autogroup reads empty.
_PRIORITY = ("from condensed_datasets.cli.priority import lower_priority; import os; print(lower_priority(3)); "
             "print((open('/proc/self/autogroup').read().split() or ['root group'])[-1]); print(os.nice(0))")


@pytest.mark.skipif(not Path("/proc/sys/kernel/sched_autogroup_enabled").is_file()
                    or Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1",
                    reason="Linux autogroup scheduling is off here: --nice is plain os.nice")
def test_nice_lowers_the_sessions_autogroup_when_the_campaign_leads_its_session():
    # As `setsid condensed collection build --nice 3` starts it: its own session, whose autogroup it may lower.
    alone = subprocess.run([sys.executable, "-c", _PRIORITY], capture_output=True, text=True, check=True, start_new_session=True)
    assert alone.stdout.split("\n")[:3] == ["None", "3", str(os.nice(0) + 3)], alone.stdout  # niceness adds to ours
    # In this session (a terminal's): only its own niceness, and one line saying how to yield to other sessions.
    shared = subprocess.run([sys.executable, "-c", _PRIORITY], capture_output=True, text=True, check=True)
    note, autogroup, niceness = shared.stdout.split("\n")[:3]
    assert "start the campaign with `setsid`" in note and niceness == str(os.nice(0) + 3)
    # The terminal's session (or init's root group) is left as it was.
    assert autogroup == (Path("/proc/self/autogroup").read_text().split() or ["root group"])[-1]
    # A build run by a queue script that leads its session and lowered its autogroup already: nothing to say.
    queued = subprocess.run(["sh", "-c", f'echo 5 > /proc/$$/autogroup && {sys.executable} -c "{_PRIORITY}"; true'],
                            capture_output=True, text=True, check=True, start_new_session=True)
    assert queued.stdout.split("\n")[:2] == ["None", "5"], queued.stdout
