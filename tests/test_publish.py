"""Publishing to a Hub on 127.0.0.1 with the real client: one commit, cards, previews, and the way back."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest
import torch
from click.testing import CliRunner
from huggingface_hub import DatasetCard
from PIL import Image

from condensed_datasets import CondensedCIFAR10
from condensed_datasets.cli.main import main
from condensed_datasets.core.errors import PushError
from condensed_datasets.core.storage import load
from condensed_datasets.hub.pins import list_sets
from condensed_datasets.pipeline.push import push
from condensed_datasets.training.precision import cpu_has_native_bf16
from condensed_datasets.training.sources import load_source


def cli(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def _built_once(tmp_path_factory):
    """Two CIFAR-10 sets built by the CLI (one evaluated with --eval), built once for the module."""
    from conftest import write_tiny_cifar10

    base = tmp_path_factory.mktemp("published")
    data_root = write_tiny_cifar10(base / "data")
    out = base / "sets"
    for method, extra in (("random", ["--eval", "--eval-models", "2", "--eval-epochs", "2"]),
                          ("herding", ["--iterations", "5", "--set", "batch_real=32"])):
        result = cli("build", "cifar10", "--method", method, "--ipc", "3", "--out", str(out), "--data-root", str(data_root), "--quiet", *extra)
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def built(_built_once, tmp_path):
    """A private copy of the built sets under tmp_path/sets."""
    shutil.copytree(_built_once, tmp_path / "sets")
    return tmp_path / "sets"


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_push_then_load_back_identical_tensors(built, fake_hub, tmp_path):
    before = _snapshot(built)
    result = cli("push", str(built), "--repo", "org/condensed-cifar10", env={"HF_TOKEN": "hf_secret_value"})
    assert result.exit_code == 0, result.output
    assert "hf_secret_value" not in result.output  # the token is never printed
    commit = re.search(r"commit ([0-9a-f]{40})", result.output).group(1)
    commits = [r for r in fake_hub.hub.requests if r[0] == "POST" and "/commit/" in r[1]]
    assert len(commits) == 1  # everything in ONE commit
    files = fake_hub.hub.tree("dataset", "org/condensed-cifar10")
    for rel in ("random/ipc3", "herding/ipc3"):
        for name in ("condensed.safetensors", "preview.png", "preview.parquet"):
            assert f"{rel}/{name}" in files
    assert "random/ipc3/eval.json" in files and "README.md" in files
    assert _snapshot(built) == before  # nothing local was modified
    assert {e.spec: e.revision for e in list_sets()} == {"cifar10/random/ipc3": commit, "cifar10/herding/ipc3": commit}
    ds = CondensedCIFAR10(root=tmp_path / "elsewhere", method="random", ipc=3, repo_id="org/condensed-cifar10", revision=commit)
    assert torch.equal(ds.condensed.images, load(built / "cifar10" / "random" / "ipc3" / "condensed.safetensors").images)
    pinned = CondensedCIFAR10(root=tmp_path / "pinned", method="herding", ipc=3)  # via the registry's pin
    assert pinned.condensed.method == "herding"


def test_a_push_failing_at_commit_leaves_the_repo_unchanged(built, fake_hub):
    first = push(built, "org/condensed-cifar10", retry_wait=0)
    tree = fake_hub.hub.tree("dataset", "org/condensed-cifar10")
    (built / "cifar10" / "random" / "ipc3" / "eval.json").write_text("[]")  # a change worth pushing
    before = _snapshot(built)
    fake_hub.hub.fail_commits = 10
    with pytest.raises(PushError, match="failed after 3 attempts.*nothing was changed"):
        push(built, "org/condensed-cifar10", retry_wait=0)
    assert fake_hub.hub.tree("dataset", "org/condensed-cifar10") == tree
    assert fake_hub.hub.repos[("dataset", "org/condensed-cifar10")].branches["main"] == first.commit
    assert _snapshot(built) == before
    fake_hub.hub.fail_commits = 1  # a transient error is retried
    assert push(built, "org/condensed-cifar10", retry_wait=0).commit != first.commit


def test_card_parses_and_its_snippet_runs(built, _built_once, fake_hub, capsys):
    push(built, "org/condensed-cifar10", retry_wait=0)
    text = fake_hub.hub.tree("dataset", "org/condensed-cifar10")["README.md"].decode()
    copy = load_source("cifar10", _built_once.parent / "data").source_sha256[:12]  # which copy of the data: named
    assert f"| herding IPC 3 | `{copy}` | no evaluation |\n| random IPC 3 | `{copy}` | `{copy}` |" in text
    card = DatasetCard(text)
    data = card.data.to_dict()
    assert data["task_categories"] == ["image-classification"] and data["source_datasets"] == ["uoft-cs/cifar10"]
    assert {"dataset-condensation", "dataset-distillation", "synthetic", "random", "herding"} <= set(data["tags"])
    assert data["size_categories"] == ["n<1K"] and data["license"] == "other" and data["pretty_name"]
    assert {c["config_name"] for c in data["configs"]} == {"herding-ipc3", "random-ipc3"}
    assert "| random | 3 | 30 | 30 |" in text.replace("[random](#random)", "random")
    assert "2 x convnet, 2 epochs" in text and "reduced evaluation: 2 of" in text and "evaluated on CPU" in text
    assert "reduced budget: 5 of 1000 iterations" in text
    # --eval uses precision auto: bf16 evaluation networks on a CPU with AVX512-BF16, labelled as such
    assert ("evaluation networks computed in bfloat16" in text) == cpu_has_native_bf16()
    assert "Krizhevsky" in text and "welling2009herding" in text
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    exec(compile(snippet, "card-snippet", "exec"), {})
    assert capsys.readouterr().out.startswith("30 ")


def test_a_card_names_the_copy_of_the_data_that_sets_without_a_record_came_from(built):
    from condensed_datasets.pipeline.cards import render_card
    from condensed_datasets.pipeline.collection import copy_note

    assert "JPEG-recompressed" in copy_note("cifar10")  # what collection.json says of the staged CIFAR-10 sets
    assert copy_note("cifar10") not in render_card(built / "cifar10")  # every set here records its copy
    path = built / "cifar10" / "random" / "ipc3" / "condensed.safetensors"
    older = load(path)
    del older.meta["source_sha256"]  # as a set written before the record
    older.save(path)
    assert f"were built and tested on\n{copy_note('cifar10')}." in render_card(built / "cifar10")


def test_a_card_says_how_long_each_machine_built_a_set(built):
    from condensed_datasets.pipeline.build import write_build_record
    from condensed_datasets.pipeline.cards import render_card

    folder = built / "cifar10" / "herding" / "ipc3"
    one = [{"device": "AMD EPYC (AVX2; 2 threads)", "from": 0, "to": 5, "seconds": 1800.0}]
    write_build_record(folder / "build.json", one)
    assert "| 5 iterations, 0.50 h on AMD EPYC (AVX2; 2 threads) |" in render_card(built / "cifar10")
    # a campaign continued on other machines: each machine's share, the old "(1 threads)" label counted with "(1 thread)"
    write_build_record(folder / "build.json", [
        {"device": "AMD EPYC (1 threads)", "from": 0, "to": 2, "seconds": 3600.0},
        {"device": "Intel Xeon (AVX512, AMX; 2 threads)", "from": 2, "to": 3, "seconds": 360.0},
        {"device": "AMD EPYC (1 thread)", "from": 3, "to": 5, "seconds": 5400.0}])
    assert ("| 5 iterations, 2.60 h: 4 in 2.50 h on AMD EPYC (1 thread); 1 in 0.10 h on Intel Xeon (AVX512, AMX; 2 threads) |"
            in render_card(built / "cifar10"))


def test_card_command_renders_one_card_per_dataset(built, digits, tmp_path):
    from condensed_datasets.pipeline.build import build

    build("digits", "random", 2, out=built, source=digits, progress=False)
    result = cli("card", str(built))
    assert result.exit_code == 0
    paths = result.output.split()
    assert paths == [str(built / "cifar10" / "README.md"), str(built / "digits" / "README.md")]
    assert DatasetCard.load(paths[1]).data.license == "bsd-3-clause"


def test_preview_has_one_row_per_class(built, tmp_path):
    path = built / "cifar10" / "random" / "ipc3"
    grid = Image.open(path / "preview.png")
    assert grid.size == (1 + 3 * (32 + 1), 1 + 10 * (32 + 1))  # 3 columns (IPC), 10 rows (classes), 1 px padding
    result = cli("show", str(path / "condensed.safetensors"), "--out", str(tmp_path / "grid.png"), "--per-class", "2")
    assert result.exit_code == 0 and Image.open(tmp_path / "grid.png").size == (1 + 2 * 33, 1 + 10 * 33)
    # the first image of class 0 is the first stored image, de-normalised
    cset = load(path / "condensed.safetensors")
    pixel = torch.tensor(grid.getpixel((1, 1)), dtype=torch.float32) / 255
    expected = (cset.images[0, :, 0, 0] * torch.tensor(cset.std) + torch.tensor(cset.mean)).clamp(0, 1)
    assert torch.allclose(pixel, expected, atol=1 / 255 + 1e-6)


def test_list_and_info(built, fake_hub):
    listed = cli("list", "--root", str(built))
    assert "cifar10/random/ipc3" in listed.output and "(dc)" in listed.output and "not evaluated" in listed.output
    push(built, "org/condensed-cifar10", retry_wait=0)
    remote = cli("list", "--root", str(built), "--remote", "--dataset", "cifar10")
    assert "remote  cifar10/herding/ipc3" in remote.output and "org/condensed-cifar10@" in remote.output
    info = json.loads(cli("info", str(built / "cifar10" / "random" / "ipc3" / "condensed.safetensors")).output)
    assert info["meta"]["method"] == "random" and info["schema_version"] == 2 and len(info["sha256"]) == 64


def test_push_refuses_bad_targets(built, digits, fake_hub):
    from condensed_datasets.pipeline.build import build

    with pytest.raises(ValueError, match="invalid repo id"):
        push(built, "../evil")
    build("digits", "random", 2, out=built, source=digits, progress=False)
    with pytest.raises(ValueError, match="one repo holds one dataset"):
        push(built, "org/mixed")
    assert fake_hub.hub.requests == []


def test_baselines_are_the_evaluations_of_real_image_sets_staged_without_their_file(tmp_path):
    from condensed_datasets.core.evaluations import record_evaluation
    from condensed_datasets.pipeline.cards import find_baselines

    result = {"mean": 70.0, "std": 1.0, "protocol": "dc", "epochs": 10, "models": 2, "arch": "convnet", "device": "cpu",
              "reduced_epochs": False}
    for method in ("random", "herding", "dm"):  # dm: an orphan evaluation of a condensed set, not a baseline
        folder = tmp_path / method / "ipc1"
        folder.mkdir(parents=True)
        (folder / "condensed.safetensors").write_bytes(method.encode())  # evaluated, then staged without its file
        record_evaluation(folder / "condensed.safetensors", {**result, "method": method, "ipc": 1})
        (folder / "condensed.safetensors").unlink()
    assert [b["method"] for b in find_baselines(tmp_path)] == ["herding", "random"]


@pytest.mark.parametrize("registry, revision, message", [
    ("{tmp}/no-such-folder/registry.json", None, "does not exist"),
    ("{tmp}/registry.json", "../main", "invalid revision '../main'"),
    ("{tmp}/broken.json", None, "broken.json"),
])
def test_every_local_check_runs_before_the_first_network_write(registry, revision, message, built, fake_hub, tmp_path):
    (tmp_path / "broken.json").write_text('{"sets": [{"dataset": 3}]}')
    args = ["push", str(built), "--repo", "org/condensed-cifar10", "--registry", registry.format(tmp=tmp_path)]
    result = cli(*args, *(["--revision", revision] if revision else []))
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert fake_hub.hub.requests == []  # nothing reached the Hub


def test_a_failure_after_the_commit_says_it_landed_and_how_to_record_it(built, fake_hub, tmp_path):
    registry = tmp_path / "registry.json"
    (tmp_path / ".registry.json.lock").mkdir()  # the registry's lock cannot be taken: the write fails after the commit
    result = cli("push", str(built), "--repo", "org/condensed-cifar10", "--registry", str(registry))
    commits = [r for r in fake_hub.hub.requests if r[0] == "POST" and "/commit/" in r[1]]
    assert result.exit_code == 1 and len(commits) == 1 and "Traceback" not in result.output
    commit = re.search(r"the commit ([0-9a-f]{40}) landed on org/condensed-cifar10", result.output).group(1)
    command = re.search(r"record them with: (condensed pin .*)$", result.output.strip()).group(1)
    assert f"--commit {commit}" in command and not registry.exists()
    (tmp_path / ".registry.json.lock").rmdir()
    recorded = cli(*command.split()[1:-1], str(registry))  # the printed command, REGISTRY filled in
    assert recorded.exit_code == 0, recorded.output
    pins = json.loads(registry.read_text())["sets"]
    assert {(p["method"], p["revision"]) for p in pins} == {("random", commit), ("herding", commit)}
    on_hub = {p["sha256"] for p in pins}
    assert on_hub == {hashlib.sha256((built / "cifar10" / m / "ipc3" / "condensed.safetensors").read_bytes()).hexdigest()
                      for m in ("random", "herding")}


def test_a_set_recorded_before_budgets_shows_only_real_config_changes_on_its_card(digits, tmp_path):
    """A set file without ``budget``/``config_changes`` (built before sets recorded them): its card works them out
    from the recipe, and a default the recipe resolves at run time (``dsa_strategy``) is not a change."""
    from condensed_datasets.pipeline.build import build
    from condensed_datasets.pipeline.cards import render_card

    path = build("digits", "dsa", 1, out=tmp_path, source=digits, iterations=2, progress=False,
                 overrides={"lr_img": 0.5})
    cset = load(path)
    assert cset.meta["config"]["dsa_strategy"]  # resolved when built; the recipe's value is None
    for key in ("budget", "config_changes"):
        cset.meta.pop(key)
    cset.save(path)
    row = next(line for line in render_card(tmp_path / "digits").splitlines() if line.startswith("| [dsa](#dsa) | 1 |"))
    assert "changed from the published config: lr_img=0.5 |" in row and "dsa_strategy" not in row
    assert "reduced budget: 2 of 1000 iterations" in row
