"""One evaluation record (``eval.json``) and one headline rule, shown alike by the card, ``collection status``,
``condensed info`` and ``list``: a reduced evaluation is listed, never shown as the set's accuracy."""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner
from conftest import TEST_DEVICE

from condensed_datasets.cli.main import main
from condensed_datasets.core.evaluations import (
    NOT_AT_PROTOCOL,
    headline,
    read_evaluations,
    record_evaluation,
)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def record(mean, sha="a" * 64, reduced=False, **extra):
    return {"mean": mean, "std": 0.5, "protocol": "dc", "epochs": 300, "models": 5, "arch": "convnet",
            "device": "cpu", "set_sha256": sha, "reduced_epochs": reduced, **extra}


def test_the_headline_is_the_latest_full_protocol_evaluation_of_exactly_this_file():
    full, later_full = record(60.0), record(61.0)
    reduced, other_file = record(7.3, reduced=True), record(90.0, sha="b" * 64)
    unlabelled = {k: v for k, v in record(80.0).items() if k != "reduced_epochs"}  # written before the flag existed
    assert headline([full, later_full, reduced, other_file, unlabelled], "a" * 64) is later_full
    assert headline([reduced, unlabelled], "a" * 64) is None
    assert headline([full, other_file], None) is other_file  # a set staged without its file: any file's evaluation


def test_a_record_must_say_its_protocol_and_whether_it_was_reduced(tmp_path):
    path = tmp_path / "condensed.safetensors"
    path.write_bytes(b"a set")
    partial = {k: v for k, v in record(50.0).items() if k not in ("reduced_epochs", "set_sha256")}
    with pytest.raises(ValueError, match="needs reduced_epochs"):
        record_evaluation(path, partial)
    written = record_evaluation(path, {**partial, "reduced_epochs": False})
    assert written["set_sha256"] == hashlib.sha256(b"a set").hexdigest()
    assert read_evaluations(tmp_path) == [written]


@pytest.mark.slow
def test_a_two_epoch_evaluation_is_listed_but_never_shown_as_the_sets_accuracy(tmp_path):
    out = tmp_path / "out"
    built = cli("build", "digits", "--method", "dm", "--ipc", "1", "--iterations", "2", "--out", out, "--quiet",
                "--device", TEST_DEVICE)
    assert built.exit_code == 0, built.output
    path = out / "digits" / "dm" / "ipc1" / "condensed.safetensors"
    quick = cli("eval", path, "--epochs", "2", "--models", "1", "--quiet", "--json", "--device", TEST_DEVICE)
    assert quick.exit_code == 0, quick.output
    assert json.loads(quick.output.splitlines()[-1])["reduced_epochs"] is True

    def shown():
        assert cli("card", out).exit_code == 0
        card = (out / "digits" / "README.md").read_text()
        row = next(line for line in card.splitlines() if line.startswith("| [dm](#dm) | 1 |"))
        status = json.loads(cli("collection", "status", "digits/dm/1", "--out", out, "--format", "json").output)[0]
        info = json.loads(cli("info", path).output)
        listed = cli("list", "--root", out).output
        return row, status, info, listed

    row, status, info, listed = shown()
    assert NOT_AT_PROTOCOL in row and "reduced" in row
    assert status["eval_at_protocol"] is False and "gap" not in status  # listed, labelled, not the headline
    assert info["evaluation"] == NOT_AT_PROTOCOL and "reduced" in info["evaluations"][0]
    assert NOT_AT_PROTOCOL in listed and "latest: " in listed and "reduced, 2 epochs" in listed

    full = cli("eval", path, "--models", "1", "--quiet", "--json", "--device", TEST_DEVICE)  # the protocol's epochs
    assert full.exit_code == 0, full.output
    result = json.loads(full.output.splitlines()[-1])
    assert result["reduced_epochs"] is False and result["epochs"] > 2
    accuracy = f"{result['mean']:.2f} ± {result['std']:.2f}"
    row, status, info, listed = shown()
    assert accuracy in row and status["eval_mean"] == result["mean"] and status["eval_epochs"] == result["epochs"]
    assert status["eval_at_protocol"] is True
    assert info["evaluation"]["mean"] == result["mean"] and len(info["evaluations"]) == 2
    assert accuracy in listed and "[1 other evaluation(s)]" in listed

    again = cli("eval", path, "--epochs", "2", "--models", "1", "--quiet", "--device", TEST_DEVICE)  # reduced, later
    assert again.exit_code == 0, again.output
    row, status, info, listed = shown()
    assert accuracy in row and status["eval_mean"] == result["mean"] and info["evaluation"]["mean"] == result["mean"]
