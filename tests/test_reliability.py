"""Bad input, hostile files and concurrent writers: every case answered with one clear line, nothing mixed.

The table covers every case reported against the landed code and more of our own, across all commands:
exit code 1 or 2, an ``Error:`` line that names the bad value (and the valid choices where there are
some), and never a traceback.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from condensed_datasets.cli.errors import user_errors
from condensed_datasets.cli.main import main
from condensed_datasets.core.errors import CondensedFormatError
from condensed_datasets.core.locks import SET_LOCK_NAME
from condensed_datasets.core.storage import load

TINY = ["--set", "arch=convnet-w32", "--set", "batch_real=16"]


def cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A workspace: a DM digits set with its checkpoint, damaged copies, a file in the way, bad JSON files."""
    root = tmp_path_factory.mktemp("ws")
    out = root / "out"
    assert cli("build", "digits", "--method", "dm", "--ipc", "1", "--out", out, "--iterations", "2", "--quiet", *TINY).exit_code == 0
    assert cli("build", "digits", "--method", "random", "--ipc", "2", "--out", out, "--quiet").exit_code == 0
    good = out / "digits" / "dm" / "ipc1"
    (root / "afile").write_text("I am a file")
    # resume cases: each in its own output root so they never touch each other
    for name, content in {"another_ipc": (good / "checkpoint.safetensors").read_bytes(),
                          "truncated": (good / "checkpoint.safetensors").read_bytes()[:200],
                          "text": b"hello, not a checkpoint\n",
                          "set_file": (good / "condensed.safetensors").read_bytes()}.items():
        ipc = 2 if name == "another_ipc" else 1
        target = root / f"resume_{name}" / "digits" / "dm" / f"ipc{ipc}" / "checkpoint.safetensors"
        target.parent.mkdir(parents=True)
        target.write_bytes(content)
    shutil.copytree(out, root / "seeded")
    images = root / "imgs"
    for split in ("train", "test"):
        for c in ("a", "b"):
            (images / split / c).mkdir(parents=True)
            for i in range(3):
                torch.manual_seed(i)
                from PIL import Image
                Image.new("L", (8, 8), color=i * 40).save(images / split / c / f"{i}.png")
    (images / "train" / "a" / "notes.png").write_text("not an image")
    (root / "registry_missing.json").write_text(json.dumps({"sets": [{"dataset": "cifar10", "method": "dm"}]}))
    (root / "registry_badjson.json").write_text("{not json")
    (root / "registry_badsha.json").write_text(json.dumps({"sets": [{"dataset": "cifar10", "method": "dm", "ipc": 10,
                                                                      "repo_id": "o/r", "revision": "main", "sha256": "xyz"}]}))
    evals = root / "badeval" / "digits" / "random" / "ipc2"
    shutil.copytree(out / "digits" / "random" / "ipc2", evals)
    (evals / "eval.json").write_text("[{oops")
    corrupt = root / "corrupt.safetensors"
    data = bytearray((out / "digits" / "random" / "ipc2" / "condensed.safetensors").read_bytes())
    data[-3] ^= 0x10
    corrupt.write_bytes(bytes(data))
    (root / "text.safetensors").write_text("plain text")
    save_file({"w": torch.zeros(2)}, str(root / "foreign.safetensors"))
    _raw_set(root / "nan.safetensors", images=torch.full((10, 1, 8, 8), float("nan")))
    (root / "empty_root").mkdir()
    return root


def _raw_set(path: Path, images: torch.Tensor, **meta_changes) -> None:
    """A set file written by hand, bypassing `save`'s validation (what a hostile or buggy writer makes)."""
    from condensed_datasets.core import storage

    labels = torch.arange(10).repeat_interleave(len(images) // 10) if len(images) else torch.zeros(0, dtype=torch.long)
    meta = {"dataset": "digits", "classes": [str(i) for i in range(10)], "mean": [0.3], "std": [0.37], "method": "random",
            "ipc": max(1, len(images) // 10), "channels": 1, "image_size": [8, 8], **meta_changes}
    tensors = {"images": images, "labels": labels}
    decoder = {"name": "identity", "params": {}}
    document = {"schema_version": 2, "meta": meta, "decoder": decoder,
                "content_sha256": storage._content_digest(tensors, meta, decoder)}
    save_file(tensors, str(path), metadata={"condensed": json.dumps(document, sort_keys=True)})


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple
    expect: tuple  # fragments the Error line must contain
    env: tuple = ()


B = ("build", "digits", "--method", "dm", "--ipc", "1", "--quiet", "--iterations", "2")
B0 = B[:-2]  # without --iterations

CASES = [
    # reported: tracebacks
    Case("set-lr-abc", (*B, "--out", "{ws}/o1", "--set", "lr_img=abc"), ("lr_img=\"abc\"", "expects a finite number")),
    Case("set-lr-list", (*B, "--out", "{ws}/o1", "--set", "lr_img=[1,2]"), ("lr_img=[1, 2]", "expects a finite number")),
    Case("set-dsa-int", (*B, "--out", "{ws}/o1", "--set", "dsa_strategy=5"), ("dsa_strategy=5", "expects a string")),
    Case("resume-another-ipc", ("build", "digits", "--method", "dm", "--ipc", "2", "--quiet", "--iterations", "2", *TINY,
                                "--out", "{ws}/resume_another_ipc", "--resume"), ("different run", "images_shape")),
    Case("resume-truncated", (*B, *TINY, "--out", "{ws}/resume_truncated", "--resume"), ("checkpoint.safetensors", "not a readable checkpoint")),
    Case("resume-text", (*B, *TINY, "--out", "{ws}/resume_text", "--resume"), ("not a readable checkpoint", "drop --resume")),
    Case("resume-set-file", (*B, *TINY, "--out", "{ws}/resume_set_file", "--resume"), ("not a checkpoint (a set file?)",)),
    Case("imagefolder-non-image", ("build", "imagefolder:{ws}/imgs", "--method", "random", "--ipc", "1", "--out", "{ws}/o2"),
         ("notes.png", "is not a readable image")),
    Case("out-under-a-file", (*B, "--out", "{ws}/afile/sub"), ("afile is a file, not a folder",)),
    Case("show-out-under-a-file", ("show", "{ws}/out/digits/random/ipc2/condensed.safetensors", "--out", "{ws}/afile/x.png"),
         ("afile is a file, not a folder",)),
    Case("list-remote-missing-fields", ("list", "--root", "{ws}/out", "--remote"), ("entry 0 is malformed", "missing", "ipc"),
         (("CONDENSED_REGISTRY", "{ws}/registry_missing.json"),)),
    Case("push-offline", ("push", "{ws}/out/digits", "--repo", "org/condensed-digits"), ("HF_HUB_OFFLINE is set",),
         (("HF_HUB_OFFLINE", "1"),)),
    # reported: vague messages
    Case("set-iterations-abc", (*B0, "--out", "{ws}/o1", "--set", "iterations=abc"), ("iterations=\"abc\"", "expects an integer")),
    Case("set-batch-real-0", (*B, "--out", "{ws}/o1", "--set", "batch_real=0"), ("batch_real=0", "integer >= 1")),
    Case("huge-seed", (*B, "--out", "{ws}/o1", "--seed", str(2**70)), ("--seed", str(2**70), "0<=x<=")),
    Case("malformed-eval-json", ("list", "--root", "{ws}/badeval"), ("eval.json is not valid JSON",)),
    Case("malformed-registry", ("list", "--root", "{ws}/out", "--remote"), ("registry_badjson.json is not valid JSON",),
         (("CONDENSED_REGISTRY", "{ws}/registry_badjson.json"),)),
    # reported: silently accepted
    Case("resume-other-seed", (*B, *TINY, "--out", "{ws}/seeded", "--resume", "--seed", "1"), ("seed: checkpoint 0, this run 1",)),
    Case("set-iterations-negative", (*B0, "--out", "{ws}/o1", "--set", "iterations=-5"), ("iterations=-5", "integer >= 1")),
    Case("set-iterations-fraction", (*B0, "--out", "{ws}/o1", "--set", "iterations=1.5"), ("iterations=1.5", "expects an integer")),
    Case("set-lr-null", (*B, "--out", "{ws}/o1", "--set", "lr_img=null"), ("lr_img=null", "finite number")),
    Case("set-flag-maybe", (*B, "--out", "{ws}/o1", "--set", "batched_classes=maybe"), ("batched_classes=\"maybe\"", "true or false")),
    Case("iterations-with-random", ("build", "digits", "--method", "random", "--ipc", "1", "--iterations", "5", "--out", "{ws}/o1"),
         ("random has no iterations",)),
    Case("list-missing-root", ("list", "--root", "{ws}/nowhere"), ("nowhere is not a folder",)),
    Case("card-traversal-repo", ("card", "{ws}/out/digits", "--repo", "../../x"), ("invalid repo id '../../x'",)),
    # our own, across every command
    Case("unknown-dataset", ("build", "cifar11", "--method", "dm", "--ipc", "1"), ("cifar11", "cifar10", "imagefolder:PATH")),
    Case("unknown-method", ("build", "digits", "--method", "magic", "--ipc", "1"), ("magic", "random", "idm")),
    Case("ipc-zero", ("build", "digits", "--method", "dm", "--ipc", "0", "--out", "{ws}/o1"), ("--ipc 0 is out of range", "choose 1 to")),
    Case("ipc-huge", ("build", "digits", "--method", "dm", "--ipc", "100000", "--out", "{ws}/o1"), ("--ipc 100000", "choose 1 to")),
    Case("unknown-hyperparameter", (*B, "--out", "{ws}/o1", "--set", "lr_imgg=1"), ("no hyperparameter lr_imgg", "valid:", "lr_img")),
    Case("iterations-disagree", (*B, "--out", "{ws}/o1", "--set", "iterations=7"), ("--iterations 2 and --set iterations=7",)),
    Case("set-not-key-value", (*B, "--out", "{ws}/o1", "--set", "novalue"), ("'novalue' is not KEY=VALUE",)),
    Case("set-negative-lr", (*B, "--out", "{ws}/o1", "--set", "lr_img=-1"), ("lr_img=-1", ">= 0")),
    Case("set-flag-int", (*B, "--out", "{ws}/o1", "--set", "batched_classes=1"), ("batched_classes=1", "true or false")),
    Case("set-unknown-arch", (*B, "--out", "{ws}/o1", "--set", "arch=resnet50"), ("resnet50", "convnet", "resnet18")),
    Case("set-unknown-init", (*B, "--out", "{ws}/o1", "--set", "init=zeros"), ("zeros", "real, noise")),
    Case("set-unknown-dsa-op", ("build", "digits", "--method", "dsa", "--ipc", "1", "--iterations", "1", "--quiet",
                                "--out", "{ws}/o1", "--set", "dsa_strategy=blur"), ("blur", "rotate")),
    Case("dcmg-bad-variant", ("build", "digits", "--method", "dcmg", "--ipc", "1", "--iterations", "1", "--quiet",
                              "--out", "{ws}/o1", "--variant", "X"), ("X", "M, MD, MDA")),
    Case("resume-other-config", (*B, "--out", "{ws}/seeded", "--resume", *TINY, "--set", "lr_img=0.5"), ("config.lr_img",)),
    Case("bad-device", (*B, "--out", "{ws}/o1", "--device", "tpu"), ("'tpu'", "cpu", "cuda")),
    Case("iterations-zero", (*B[:-1], "0", "--out", "{ws}/o1"), ("--iterations", "0")),
    Case("negative-checkpoint-minutes", (*B, "--out", "{ws}/o1", "--checkpoint-minutes", "-1"), ("--checkpoint-minutes", "-1")),
    Case("missing-real-data", ("build", "mnist", "--method", "random", "--ipc", "1", "--data-root", "{ws}/empty_root"),
         ("dataset not found",)),
    Case("missing-imagefolder", ("build", "imagefolder:{ws}/nowhere", "--method", "random", "--ipc", "1", "--out", "{ws}/o1"),
         ("nowhere",)),
    Case("eval-missing-file", ("eval", "{ws}/nothing.safetensors"), ("no condensed set at", "nothing.safetensors")),
    Case("eval-corrupted", ("eval", "{ws}/corrupt.safetensors"), ("corrupt.safetensors is corrupted",)),
    Case("eval-nan-set", ("eval", "{ws}/nan.safetensors", "--epochs", "1"), ("NaN or infinite",)),
    Case("eval-zero-models", ("eval", "{ws}/corrupt.safetensors", "--models", "0"), ("--models", "0")),
    Case("eval-bad-protocol", ("eval", "{ws}/corrupt.safetensors", "--protocol", "fast"), ("'fast'", "dc", "dsa", "idc")),
    Case("eval-bad-together", ("eval", "{ws}/corrupt.safetensors", "--together", "threads"), ("'threads'", "vmap", "loop")),
    Case("eval-bad-arch", ("eval", "{ws}/corrupt.safetensors", "--arch", "resnet50"), ("'resnet50'", "convnet")),
    Case("info-text-file", ("info", "{ws}/text.safetensors"), ("text.safetensors is truncated or corrupted",)),
    Case("info-tensor-flip", ("info", "{ws}/corrupt.safetensors"), ("tensor bytes do not match",)),
    Case("info-foreign-safetensors", ("info", "{ws}/foreign.safetensors"), ("not a condensed set",)),
    Case("info-missing", ("info", "{ws}/nothing.safetensors"), ("nothing.safetensors", "does not exist")),
    Case("show-corrupted", ("show", "{ws}/corrupt.safetensors", "--out", "{ws}/g.png"), ("corrupt.safetensors is corrupted",)),
    Case("show-zero-per-class", ("show", "{ws}/corrupt.safetensors", "--out", "{ws}/g.png", "--per-class", "0"), ("--per-class", "0")),
    Case("card-no-sets", ("card", "{ws}/empty_root"), ("no condensed sets under",)),
    Case("card-repo-with-space", ("card", "{ws}/out/digits", "--repo", "a b"), ("invalid repo id 'a b'",)),
    Case("push-traversal-repo", ("push", "{ws}/out/digits", "--repo", "../evil"), ("invalid repo id '../evil'",)),
    Case("push-no-sets", ("push", "{ws}/empty_root", "--repo", "org/x"), ("holds sets of 0 datasets",)),
    Case("registry-bad-sha", ("list", "--root", "{ws}/out", "--remote"), ("'xyz' is not 64 hex digits",),
         (("CONDENSED_REGISTRY", "{ws}/registry_badsha.json"),)),
    Case("eval-bad-eval-json-beside", ("eval", "{ws}/badeval/digits/random/ipc2/condensed.safetensors", "--epochs", "1",
                                       "--models", "1", "--quiet"), ("eval.json is not valid JSON",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_clear_line(ws, case):
    args = [str(a).replace("{ws}", str(ws)) for a in case.args]
    env = {k: v.replace("{ws}", str(ws)) for k, v in case.env}
    result = cli(*args, env={"HF_HUB_OFFLINE": "0", "CONDENSED_REGISTRY": "", **env})
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (AssertionError, TypeError, KeyError))
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in case.expect:
        assert fragment in errors[0], (fragment, errors[0])


def test_the_table_covers_the_reported_cases_and_thirty_more():
    assert len(CASES) >= 25 + 30


def test_debug_shows_the_traceback(ws):
    result = cli("info", str(ws / "text.safetensors"), env={"CONDENSED_DEBUG": "1"})
    assert result.exit_code != 0 and isinstance(result.exception, CondensedFormatError)


def test_resume_without_a_checkpoint_says_so(tmp_path):
    result = CliRunner().invoke(main, [*B, "--out", str(tmp_path), "--resume", *TINY])
    assert result.exit_code == 0
    assert f"--resume: no checkpoint at {tmp_path}/digits/dm/ipc1/checkpoint.safetensors; starting from iteration 0" in result.output


# every byte of a set is verified ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def set_bytes(ws) -> bytes:
    return (ws / "out" / "digits" / "dm" / "ipc1" / "condensed.safetensors").read_bytes()


def test_200_random_byte_flips_and_20_truncations_are_refused_by_the_loader_and_info(set_bytes, tmp_path):
    from condensed_datasets import CondensedDigits

    rng = random.Random(0)
    damaged = []
    for _ in range(200):
        data = bytearray(set_bytes)
        i = rng.randrange(len(data))
        data[i] = (data[i] + rng.randrange(1, 256)) % 256
        damaged.append(bytes(data))
    damaged += [set_bytes[:rng.randrange(len(set_bytes))] for _ in range(20)]
    path = tmp_path / "digits" / "dm" / "ipc1" / "condensed.safetensors"
    path.parent.mkdir(parents=True)
    refused_loader = refused_info = 0
    for data in damaged:
        path.write_bytes(data)
        with pytest.raises(RuntimeError):  # CondensedFormatError: torchvision's "corrupted" contract
            CondensedDigits(root=tmp_path, method="dm", ipc=1, download=False)
        refused_loader += 1
        result = cli("info", path)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        refused_info += 1
    assert refused_loader == refused_info == 220


def test_metadata_is_covered_by_the_checksum(set_bytes, tmp_path):
    """Changing a value in the JSON header (same length, still valid JSON) is refused: ipc, seed, classes, mean."""
    path = tmp_path / "s.safetensors"
    for old, new in ((b'\\"ipc\\": 1', b'\\"ipc\\": 2'), (b'\\"seed\\": 0', b'\\"seed\\": 7'), (b'\\"mean\\": [0.', b'\\"mean\\": [1.'),
                     (b'\\"classes\\": [\\"0\\"', b'\\"classes\\": [\\"9\\"'), (b'\\"method\\": \\"dm\\"', b'\\"method\\": \\"dc\\"')):
        assert old in set_bytes, old
        path.write_bytes(set_bytes.replace(old, new, 1))
        with pytest.raises(CondensedFormatError, match="corrupted"):
            load(path)


@pytest.mark.parametrize("images,meta,message", [
    (torch.full((10, 1, 8, 8), float("inf")), {}, "NaN or infinite"),
    (torch.zeros(10, 3, 8, 8), {}, "3 channels"),
    (torch.zeros(10, 1, 9, 9), {}, "[9, 9] pixels"),
    (torch.zeros(0, 1, 8, 8), {}, "empty"),
    (torch.zeros(20, 1, 8, 8), {"ipc": 3}, "ipc is 3 but the classes hold"),
    (torch.zeros(10, 1, 8, 8), {"mean": "a"}, "'mean' must be a list of finite numbers"),
    (torch.zeros(10, 1, 8, 8), {"std": [0.0]}, "'std' must be positive"),
    (torch.zeros(10, 1, 8, 8), {"classes": ["0"] * 10}, "distinct names"),
    (torch.zeros(10, 1, 8, 8), {"ipc": True}, "'ipc' must be a positive integer"),
    (torch.zeros(10, 1, 8, 8), {"dataset": 5}, "'dataset' must be a non-empty string"),
], ids=["inf", "channels", "size", "empty", "ipc-counts", "mean-str", "std-zero", "classes-dup", "ipc-bool", "dataset-int"])
def test_invalid_content_is_refused_at_load(tmp_path, images, meta, message):
    path = tmp_path / "bad.safetensors"
    _raw_set(path, images, **meta)
    with pytest.raises(CondensedFormatError) as err:
        load(path)
    assert message in str(err.value)


# one writer per set ----------------------------------------------------------------------------------------------
def test_a_second_build_of_the_same_set_is_refused_with_the_holders_pid(tmp_path):
    cmd = [sys.executable, "-m", "condensed_datasets.cli.main", "build", "digits", "--method", "dm", "--ipc", "1", "--out",
           str(tmp_path), "--iterations", "1000000", "--quiet", *TINY]
    owner = tmp_path / "digits" / "dm" / "ipc1" / (SET_LOCK_NAME + ".owner")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not owner.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = cli(*B, *TINY, "--out", tmp_path)
        assert second.exit_code == 1 and f"in use by PID {proc.pid}" in second.output, second.output
        resumed = cli(*B, *TINY, "--out", tmp_path, "--resume")
        assert resumed.exit_code == 1 and "in use by PID" in resumed.output
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    after = cli(*B, *TINY, "--out", tmp_path)  # the lock dies with its process
    assert after.exit_code == 0, after.output
    assert not owner.exists()


def test_resume_binds_a_checkpoint_to_its_seed(tmp_path):
    assert cli(*B, *TINY, "--out", tmp_path, "--seed", "0").exit_code == 0
    mixed = cli(*B[:-1], "4", *TINY, "--out", tmp_path, "--seed", "1", "--resume")
    assert mixed.exit_code == 1 and "seed: checkpoint 0, this run 1" in mixed.output
    same = cli(*B[:-1], "4", *TINY, "--out", tmp_path, "--seed", "0", "--resume")
    assert same.exit_code == 0 and load(tmp_path / "digits" / "dm" / "ipc1" / "condensed.safetensors").meta["seed"] == 0


_APPEND = """
import sys
from pathlib import Path
from condensed_datasets.core.evaluations import record_evaluation
from condensed_datasets.hub.pins import PublishedSet, record_set
folder, registry, who = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(15):
    record_evaluation(folder / "condensed.safetensors", {"mean": i, "std": 0, "protocol": "dc", "epochs": 1, "models": 1,
                                                         "arch": who, "device": "cpu", "reduced_epochs": True})
    record_set(PublishedSet("digits", "dm", 100 * int(who) + i, "o/r", "main", "0" * 64), registry)
"""


def test_concurrent_eval_json_and_registry_updates_lose_nothing(tmp_path):
    (tmp_path / "condensed.safetensors").write_bytes(b"the set the evaluations measured")
    procs = [subprocess.Popen([sys.executable, "-c", _APPEND, str(tmp_path), str(tmp_path / "registry.json"), str(who)])
             for who in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    results = json.loads((tmp_path / "eval.json").read_text())
    assert sorted(r["arch"] for r in results) == ["1"] * 15 + ["2"] * 15
    assert len(json.loads((tmp_path / "registry.json").read_text())["sets"]) == 30


def test_a_hostile_registry_revision_is_refused_before_any_file_is_written(tmp_path, monkeypatch):
    from condensed_datasets.hub.pins import list_sets

    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps({"sets": [{"dataset": "cifar10", "method": "dm", "ipc": 10, "repo_id": "o/r",
                                              "revision": "../../../outside", "sha256": "0" * 64}]}))
    monkeypatch.setenv("CONDENSED_REGISTRY", str(registry))
    with pytest.raises(ValueError, match="invalid revision '../../../outside'"):
        list_sets()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json"]


def test_builds_never_leave_a_set_and_checkpoint_of_different_runs(tmp_path):
    """Sequential builds with different seeds: the set and checkpoint beside it always come from the same run."""
    for seed in ("3", "5"):
        assert cli(*B, *TINY, "--out", tmp_path, "--seed", seed).exit_code == 0
        folder = tmp_path / "digits" / "dm" / "ipc1"
        from condensed_datasets.condense.checkpoint import read_checkpoint

        assert read_checkpoint(folder / "checkpoint.safetensors")[1]["seed"] == load(folder / "condensed.safetensors").meta["seed"] == int(seed)
    assert not list(folder.glob("*.tmp"))


def test_a_json_file_held_by_another_writer_times_out_with_a_clear_error(tmp_path):
    from filelock import FileLock

    from condensed_datasets.core.errors import SetInUseError
    from condensed_datasets.core.locks import file_lock

    target = tmp_path / "eval.json"
    with FileLock(str(tmp_path / ".eval.json.lock")):  # another writer, on its own descriptor
        with pytest.raises(SetInUseError, match="eval.json stayed locked for 0 s"):
            with file_lock(target, timeout=0.2):
                pass
    with file_lock(target, timeout=0.2):  # released: free again
        pass


def test_a_malformed_evaluation_field_is_named_with_its_file(ws, tmp_path):
    folder = tmp_path / "r" / "digits" / "random" / "ipc2"
    shutil.copytree(ws / "out" / "digits" / "random" / "ipc2", folder)
    (folder / "eval.json").write_text(json.dumps([{"mean": [1], "std": 0, "protocol": "dc", "epochs": 1, "models": 1,
                                                   "arch": "convnet"}]))  # well-formed keys, a list where a number goes
    result = cli("list", "--root", tmp_path / "r")
    assert result.exit_code == 1 and "Traceback" not in result.output and "unexpected" not in result.output
    assert "eval.json" in result.output and "mean" in result.output and len(result.output.strip().splitlines()) == 1


def test_an_unexpected_error_is_one_line_that_asks_for_a_report():
    @click.command()
    @user_errors
    def broken() -> None:
        raise TypeError("a bug")

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "unexpected TypeError: a bug" in result.output and "CONDENSED_DEBUG=1 shows the traceback" in result.output
