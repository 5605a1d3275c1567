"""The collection as data, its selectors, and `condensed collection build|status|stage` on digits at tiny budgets."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import sigterm_once_listening

from condensed_datasets.cli.main import main
from condensed_datasets.condense.checkpoint import checkpoint_info, checkpoint_segments, device_label
from condensed_datasets.core.files import sha256_file
from condensed_datasets.core.methods import METHOD_NAMES
from condensed_datasets.pipeline.collection import load_collection, select
from condensed_datasets.pipeline.jobs import jobs_for, run_local, run_ray
from condensed_datasets.pipeline.status import _seconds_per_iteration
from condensed_datasets.training.evaluate import EvalSettings
from condensed_datasets.training.sources import list_sources

FAST = ["--iterations", "3", "--eval-epochs", "2", "--eval-models", "2", "--checkpoint-minutes", "0"]


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_collection_is_data_that_agrees_with_the_registries():
    entries = load_collection()
    keys = [e.key for e in entries]
    assert len(keys) == len(set(keys))
    assert {e.method for e in entries} == set(METHOD_NAMES) and {e.dataset for e in entries} <= set(list_sources())
    assert {e.ipc for e in entries} == {1, 10, 50}
    for e in entries:
        assert e.protocol in ("dc", "dsa", "idc")
        assert e.budget is None or e.budget >= 1
    by_key = {e.key: e for e in entries}
    dm = [by_key[f"cifar10/dm/{i}"].paper for i in (1, 10, 50)]
    assert [(p.mean, p.std) for p in dm] == [(26.0, 0.8), (48.9, 0.6), (63.0, 0.4)] and "WACV" in dm[0].citation
    assert by_key["cifar10/dm/10"].budget == 20000 and by_key["cifar10/dm/10"].protocol == "dsa"
    assert by_key["cifar10/idm/10"].paper.mean == 58.6 and by_key["cifar10/dsa/1"].paper.mean == 28.8
    assert all(e.paper is None for e in entries if e.dataset == "digits" or e.method in ("random", "herding", "dcmg"))
    digits = [e for e in entries if e.dataset == "digits"]
    assert all(e.note or e.left_out or e.budget in (None, 1000) for e in digits)  # a budget of our own says so
    assert {e.key for e in digits if e.left_out} == {"digits/idc/1", "digits/idc/10", "digits/idc/50", "digits/dc/50",
                                                      "digits/dsa/50", "digits/dcmg/50", "digits/dc/10",
                                                      "digits/idm/10", "digits/idm/50", "digits/idc-i/50"}
    assert not [e.key for e in entries if e.left_out and e.dataset != "digits"]


def test_a_left_out_set_is_never_built_and_status_and_the_card_say_why(tmp_path):
    out = tmp_path / "out"
    why = select(["digits/idc/10"])[0].left_out
    assert "4 x 4 pixels" in why and "digits/idc-i" in why
    result = cli("collection", "build", "digits/idc/10", "digits/random/1", "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    assert f"left out  digits/idc/10: {why}" in result.output and "1 set(s) selected" in result.output
    assert not (out / "digits" / "idc").exists() and "built     digits/random/1" in result.output
    table = cli("collection", "status", "digits/idc/10", "digits/random/1", "--out", out, "--built").output
    assert re.search(r"^digits/idc/10 +left out", table, re.M) and f"left out:\n  digits/idc/10: {why}" in table
    markdown = cli("collection", "status", "digits/idc/10", "--out", out, "--format", "markdown").output
    assert "| digits/idc/10 | left out |" in markdown and f"- digits/idc/10: {why}" in markdown
    row = json.loads(cli("collection", "status", "digits/idc/10", "--out", out, "--format", "json").output)[0]
    assert row["state"] == "left out" and row["left_out"] == why
    left_out = (out / "digits" / "README.md").read_text().split("### Left out")[1].split("###")[0]
    assert f"| idc | 10 | {why} |" in left_out and "| dc | 50 |" in left_out and "| dm |" not in left_out
    staged = cli("collection", "stage", "digits/idc/10", "--out", out, "--to", tmp_path / "hub")
    assert "skipped   digits/idc/10" in staged.output and not (tmp_path / "hub" / "digits" / "idc").exists()


@pytest.mark.parametrize("selector,expected", [
    ("cifar10/dm/*", ["cifar10/dm/1", "cifar10/dm/10", "cifar10/dm/50"]),
    ("*/idm/10", ["digits/idm/10", "cifar10/idm/10", "cifar100/idm/10", "tinyimagenet/idm/10"]),
    ("digits/idc*/1", ["digits/idc/1", "digits/idc-i/1"]),
    ("tinyimagenet/d*", ["tinyimagenet/dm/1", "tinyimagenet/dm/10", "tinyimagenet/dm/50"]),
])
def test_selectors_pick_the_right_sets(selector, expected):
    assert [e.key for e in select([selector])] == expected


def test_a_queue_keeps_the_order_the_selectors_name():
    named = ["cifar10/dm/10", "mnist/dm/*", "cifar10/dm/1", "mnist/dm/10"]
    assert [e.key for e in select(named, as_named=True)] == [
        "cifar10/dm/10", "mnist/dm/1", "mnist/dm/10", "mnist/dm/50", "cifar10/dm/1"]
    assert [e.key for e in select(named)] == [
        "mnist/dm/1", "mnist/dm/10", "mnist/dm/50", "cifar10/dm/1", "cifar10/dm/10"]


@pytest.mark.parametrize("selector,message", [
    ("cifar11/dm/1", "no dataset matches 'cifar11'; valid: cifar10, cifar100, digits"),
    ("cifar10/magic", "no method matches 'magic'; valid: random, herding, dc"),
    ("cifar10/dm/7", "no IPC matches '7'; valid: 1, 10, 50"),
    ("cifar100/dc/50", "matches no set of the collection"),
    ("a/b/c/d", "bad selector 'a/b/c/d'"),
    ("/", "bad selector '/'"),
])
def test_bad_selectors_name_the_valid_choices(selector, message, tmp_path):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        select([selector])
    result = cli("collection", "status", selector, "--out", tmp_path)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_an_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    for command in ("build", "status", "stage"):
        for out in (tmp_path / "f", tmp_path / "f" / "sub"):
            result = cli("collection", command, "digits/random/1", "--out", out)
            assert result.exit_code != 0 and "f' is a file" in result.output or "f is a file, not a folder" in result.output
            assert "Traceback" not in result.output


def test_build_evaluates_cards_and_skips_what_is_done(tmp_path):
    out = tmp_path / "out"
    first = cli("collection", "build", "digits/dm/1", "digits/random/1", "--out", out, *FAST)
    assert first.exit_code == 0, first.output
    assert "built     digits/dm/1" in first.output and "built     digits/random/1" in first.output
    assert (out / "digits" / "README.md").is_file() and "digits/README.md" in first.output
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name in ("condensed.safetensors", "eval.json")}
    again = cli("collection", "build", "digits/dm/1", "digits/random/1", "--out", out, *FAST)
    assert "skipped   digits/dm/1" in again.output and "skipped   digits/random/1" in again.output
    assert {p: p.read_bytes() for p in files} == files  # untouched
    more = cli("collection", "build", "digits/dm/1", "--out", out, *FAST[:1], "5", *FAST[2:])
    assert "resumed   digits/dm/1" in more.output
    rows = {r["set"]: r for r in json.loads(cli("collection", "status", "digits/dm/1", "digits/random/1", "--out", out,
                                                  "--format", "json").output)}
    assert rows["digits/dm/1"]["iterations_run"] == 5 and rows["digits/dm/1"]["state"] == "partial, evaluated"
    assert rows["digits/dm/1"]["eval_models"] == 2 and rows["digits/random/1"]["state"] == "complete, evaluated"
    assert rows["digits/dm/1"]["sha256"] == sha256_file(out / "digits" / "dm" / "ipc1" / "condensed.safetensors")
    table = cli("collection", "status", "digits/dm/1", "--out", out).output
    assert "5/200" in table and "dsa, 2 ep, 2 models" in table and "none reported" in table
    markdown = cli("collection", "status", "digits/*/1", "--out", out, "--format", "markdown", "--built").output
    assert markdown.count("\n| digits/") == 3 and markdown.startswith("| set | state |")  # dm, random, idc (left out)
    assert "| digits/idc/1 | left out |" in markdown


def test_a_failing_set_is_reported_and_the_others_go_on(tmp_path):
    out = tmp_path / "out"
    blocker = out / "digits" / "dm" / "ipc1"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the set folder should be")
    result = cli("collection", "build", "digits/dm/1", "digits/random/1", "--out", out, *FAST)
    assert result.exit_code == 1
    assert "failed    digits/dm/1" in result.output and "is a file, not a folder" in result.output
    assert "built     digits/random/1" in result.output and "1 done, 1 failed" in result.output
    # a queue: the sets ran in the order named, not the collection's (random before dm)
    assert result.output.index("digits/dm/1") < result.output.index("digits/random/1")


def test_stage_copies_full_budget_sets_and_only_the_evaluations_of_real_images(tmp_path):
    out, hub = tmp_path / "out", tmp_path / "hub"
    assert cli("collection", "build", "digits/dm/1", "digits/random/1", "--out", out, *FAST).exit_code == 0
    partial = cli("collection", "stage", "digits/dm/1", "--out", out, "--to", hub)
    # a partial set stays home; its checkpoint is staged, for the next machine to continue
    assert "staged    digits/dm/1" in partial.output and "checkpoint at iteration 3" in partial.output
    assert sorted(p.name for p in (hub / "digits" / "dm" / "ipc1").iterdir()) == ["checkpoint.safetensors"]
    full = ["--eval-epochs", "2", "--eval-models", "2"]  # the digits DM budget (200 iterations) in full
    assert cli("collection", "build", "digits/dm/1", "--out", out, *full).exit_code == 0
    staged = cli("collection", "stage", "digits/dm/1", "digits/random/1", "--out", out, "--to", hub)
    assert staged.exit_code == 0, staged.output
    assert sorted(p.name for p in (hub / "digits" / "dm" / "ipc1").iterdir()) == [  # the staged checkpoint has served
        "build.json", "condensed.safetensors", "eval.json", "preview.parquet", "preview.png"]
    assert sorted(p.name for p in (hub / "digits" / "random" / "ipc1").iterdir()) == ["eval.json"]  # real images stay home
    assert "dm" in (hub / "digits" / "README.md").read_text()
    rows = {row["set"]: row for row in _status(hub)}  # the staged tree reads back, real-image sets by their evaluation
    evaluated = json.loads((out / "digits" / "random" / "ipc1" / "eval.json").read_text())[-1]
    assert rows["digits/random/1"]["state"] == "evaluated, file not staged"
    assert rows["digits/random/1"]["eval_mean"] == evaluated["mean"] and rows["digits/random/1"]["sha256"] == evaluated["set_sha256"]
    assert rows["digits/dm/1"]["state"] == "complete, evaluated"
    card = (hub / "digits" / "README.md").read_text()  # the card sets the baseline's evaluation beside the sets
    dm_row = next(line for line in card.splitlines() if line.startswith("| [dm](#dm) | 1 |"))
    assert select(["digits/dm/1"])[0].note in dm_row  # the budget of our own, beside the set
    baselines = card.split("### Real-image baselines")[1].split("###")[0]
    assert f"| random | 1 | {evaluated['mean']:.2f} ± {evaluated['std']:.2f} |" in baselines
    assert evaluated["set_sha256"][:12] in baselines and "| dm |" not in baselines


def _status(out: Path) -> list[dict]:
    return json.loads(subprocess.run([sys.executable, "-m", "condensed_datasets.cli.main", "collection", "status", "digits/*/1",
                                      "--out", str(out), "--format", "json", "--built"], check=True, capture_output=True,
                                     text=True).stdout)


@pytest.mark.slow
def test_a_killed_collection_build_resumes_to_the_uninterrupted_result(tmp_path):
    # IDM (its model queue is part of the state a resume must restore) runs ~1 s an iteration here, so the kill lands
    # in its build or evaluation.
    cmd = [sys.executable, "-m", "condensed_datasets.cli.main", "collection", "build", "digits/random/1", "digits/idm/1",
           "--iterations", "10", "--eval-epochs", "2", "--eval-models", "2", "--checkpoint-minutes", "0"]
    subprocess.run([*cmd, "--out", str(tmp_path / "whole")], check=True, capture_output=True)
    out = tmp_path / "killed"
    first_set = out / "digits" / "random" / "ipc1" / "eval.json"
    proc = subprocess.Popen([*cmd, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not first_set.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random(0).uniform(0.5, 3.0))  # somewhere in the next sets' builds or evaluations
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sha256_file(out / "digits" / "random" / "ipc1" / "condensed.safetensors")
    subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True)
    assert sha256_file(out / "digits" / "random" / "ipc1" / "condensed.safetensors") == finished
    assert _status(out) == _status(tmp_path / "whole")


@pytest.mark.slow
def test_ray_engine_builds_the_same_files_as_the_local_engine(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves this machine: loopback only
    monkeypatch.setenv("RAY_USAGE_STATS_PROMPT_ENABLED", "0")
    entries = select(["digits/random/1", "digits/dm/1"])
    options = {"iterations": 3, "evaluation": EvalSettings(models=2, epochs=2), "threads": 1}
    run_local(jobs_for(entries, out=str(tmp_path / "local"), **options), lambda r: None)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        results = run_ray(jobs_for(entries, out=str(tmp_path / "ray"), **options), lambda r: None)
    finally:
        ray.shutdown()
    assert sorted(r.state for r in results) == ["built", "built"], results
    for entry in entries:
        rel = Path("digits") / entry.method / "ipc1" / "condensed.safetensors"
        assert sha256_file(tmp_path / "ray" / rel) == sha256_file(tmp_path / "local" / rel)
        evals = [json.loads((tmp_path / root / rel.parent / "eval.json").read_text())[-1] for root in ("ray", "local")]
        assert evals[0]["accuracies"] == evals[1]["accuracies"]


def test_an_unfinished_sets_checkpoint_is_staged_continued_elsewhere_and_dropped_once_the_set_is_staged(tmp_path):
    out, staged, elsewhere = tmp_path / "out", tmp_path / "hub_cards", tmp_path / "fresh-machine"
    assert cli("collection", "build", "digits/dm/1", "--out", out, *FAST).exit_code == 0
    result = cli("collection", "stage", "digits/dm/1", "digits/random/1", "--out", out, "--to", staged)
    assert result.exit_code == 0, result.output
    checkpoint = staged / "digits" / "dm" / "ipc1" / "checkpoint.safetensors"
    assert checkpoint.is_file() and "checkpoint at iteration 3" in result.output
    assert not (staged / "digits" / "dm" / "ipc1" / "condensed.safetensors").exists()  # partial sets are not staged
    row = next(r for r in _status(staged) if r["set"] == "digits/dm/1")  # status reads how far the staged build got
    assert (row["state"], row["iterations_run"]) == ("checkpoint", 3) and re.search(r"\(.*; \d+ threads?\)$", row["device"])
    table = cli("collection", "status", "digits/dm/1", "--out", staged, "--built").output
    assert "checkpoint" in table and "3/200" in table
    # and how long the rest of the budget takes at the pace between the last two checkpoints (one an iteration here)
    (last,) = checkpoint_segments(checkpoint)
    latest = checkpoint_info(checkpoint)["latest"]
    assert (latest["from"], latest["to"]) == (2, 3) and last["seconds"] > 0, (latest, last)
    pace = latest["seconds"] if latest["seconds"] > 0 else last["seconds"] / 3  # recorded to 0.1 s: else the stretch's
    assert row["seconds_per_iteration"] == pytest.approx(pace)
    assert row["hours_to_go"] == pytest.approx(197 * pace / 3600)
    assert re.search(r"3/200, ~\d+ min to go", table)
    # Another machine continues the staged checkpoint instead of starting over.
    more = ["--iterations", "5", "--eval-epochs", "2", "--eval-models", "2", "--checkpoint-minutes", "0"]
    result = cli("collection", "build", "digits/dm/1", "--out", elsewhere, "--staged", staged, *more)
    assert result.exit_code == 0 and "resumed" in result.output, result.output
    damaged = tmp_path / "damaged"
    (damaged / "digits" / "dm" / "ipc1").mkdir(parents=True)
    (damaged / "digits" / "dm" / "ipc1" / "checkpoint.safetensors").write_bytes(checkpoint.read_bytes()[:100])
    assert next(r for r in _status(damaged) if r["set"] == "digits/dm/1")["state"] == "checkpoint unreadable"
    # A build stopped before its first set file (only the checkpoint under --out) is staged all the same.
    running = tmp_path / "running"
    (running / "digits" / "dm" / "ipc1").mkdir(parents=True)
    (running / "digits" / "dm" / "ipc1" / "checkpoint.safetensors").write_bytes(checkpoint.read_bytes())
    again = tmp_path / "again"
    result = cli("collection", "stage", "digits/dm/1", "--out", running, "--to", again)
    assert "checkpoint at iteration 3" in result.output, result.output
    assert (again / "digits" / "dm" / "ipc1" / "checkpoint.safetensors").read_bytes() == checkpoint.read_bytes()
    record = json.loads((elsewhere / "digits" / "dm" / "ipc1" / "build.json").read_text())
    assert [(s["from"], s["to"]) for s in record["segments"]] == [(0, 3), (3, 5)] and record["iterations"] == 5
    # A set staged complete and evaluated drops the checkpoint staged beside it.
    assert cli("collection", "build", "digits/random/1", "--out", out, *FAST[2:]).exit_code == 0
    leftover = staged / "digits" / "random" / "ipc1" / "checkpoint.safetensors"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(checkpoint.read_bytes())
    assert cli("collection", "stage", "digits/random/1", "--out", out, "--to", staged).exit_code == 0
    assert not leftover.exists() and (staged / "digits" / "random" / "ipc1" / "eval.json").is_file()


@pytest.mark.parametrize(("segments", "pace"), [
    ([{"from": 0, "to": 10, "seconds": 30.0}, {"from": 10, "to": 14, "seconds": 2.0}], 0.5),  # the latest stretch
    ([{"from": 0, "to": 10, "seconds": 30.0}, {"from": 10, "to": 10, "seconds": 0.0}], 3.0),  # a resume with nothing to do
    ([{"from": 0, "to": None, "seconds": 3.0}], None), ([{"from": 0, "to": 4, "seconds": "12"}], None),  # hand-edited
    ([{"from": False, "to": True, "seconds": 1.0}], None), ([], None),
])
def test_the_time_to_go_comes_from_the_latest_stretch_that_measured_one(segments, pace):
    assert _seconds_per_iteration(segments) == pace


def test_a_checkpoint_records_the_interval_since_the_previous_one_and_a_resume_with_nothing_to_do_keeps_it(tmp_path):
    import torch

    from condensed_datasets.condense.checkpoint import RecipeState, run_iterations
    from condensed_datasets.condense.settings import RunOptions

    checkpoint = tmp_path / "checkpoint.safetensors"

    def run(total: int) -> dict:
        images = torch.zeros(2, 1, 4, 4, requires_grad=True)
        state = RecipeState(images, torch.optim.SGD([images], lr=0.1), torch.Generator().manual_seed(0))
        options = RunOptions(checkpoint_minutes=0, progress=False, checkpoint=checkpoint, resume=True)
        run_iterations(state, lambda it: time.sleep(0.01 * (it + 1)) or 0.0, total, options, "dm", {"iterations": total},
                       resume_ignores=("iterations",))
        return checkpoint_info(checkpoint)["latest"]

    first = run(3)
    assert (first["from"], first["to"]) == (2, 3) and 0.03 <= first["seconds"] < 1, first  # iteration 2 slept 0.03 s
    assert run(3) == first  # resumed with nothing to do: the last interval that ran iterations stays
    later = run(5)
    assert (later["from"], later["to"]) == (4, 5) and 0.05 <= later["seconds"] < 1, later


def test_the_time_to_go_takes_the_pace_between_the_last_two_checkpoints_not_the_whole_stretch(tmp_path):
    """A stretch that shared the CPU for its first hours reads slow as a whole; its latest interval gives the pace now."""
    import torch
    from safetensors.torch import save_file

    checkpoint = tmp_path / "digits" / "dm" / "ipc1" / "checkpoint.safetensors"
    checkpoint.parent.mkdir(parents=True)
    stretch = {"device": "cpu", "from": 0, "to": 100, "seconds": 400.0}
    for latest, pace in (({"from": 80, "to": 100, "seconds": 20.0}, 1.0), (None, 4.0)):
        info = {"method": "dm", "config": {}, "iteration": 100, "segments": [stretch], **({"latest": latest} if latest else {})}
        save_file({"images": torch.zeros(10, 1, 8, 8)}, str(checkpoint), metadata={"checkpoint": json.dumps(info)})
        row = next(r for r in _status(tmp_path) if r["set"] == "digits/dm/1")
        assert row["seconds_per_iteration"] == pace and row["hours_to_go"] == pytest.approx(100 * pace / 3600)


def test_device_labels_of_any_age_read_as_written_today():
    assert device_label("AMD EPYC (1 threads)") == "AMD EPYC (1 thread)" == device_label("AMD EPYC (1 thread)")
    assert device_label("AMD EPYC (AVX2; 11 threads)") == "AMD EPYC (AVX2; 11 threads)"


def test_a_stopped_evaluation_is_staged_and_continued_by_the_next_machine(tmp_path):
    args = ["collection", "build", "digits/random/1", "--eval-models", "3", "--eval-epochs", "8", "--together", "sequential"]
    set_folder = Path("digits") / "random" / "ipc1"
    whole = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "whole")])
    assert whole.exit_code == 0, whole.output
    sender = sigterm_once_listening()  # the session's end, a scheduler: while the first of the 3 networks trains
    stopped = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "first")])
    sender.join()
    assert stopped.exit_code == 143 and "after 1 of 3 networks" in stopped.output, stopped.output
    status = CliRunner().invoke(main, ["collection", "status", "digits/random/1", "--out", str(tmp_path / "first"), "--format", "json"])
    assert json.loads(status.output)[0]["state"] == "complete, evaluating (1/3 networks)"
    staged = CliRunner().invoke(main, ["collection", "stage", "digits/random/1", "--out", str(tmp_path / "first"),
                                       "--to", str(tmp_path / "staged")])
    assert "evaluation checkpoint after 1 network(s)" in staged.output, staged.output
    assert sorted(p.name for p in (tmp_path / "staged" / set_folder).iterdir()) == ["eval-checkpoint.safetensors"]  # no real image
    # A fresh machine: the set is selected again (the same seed, the same images), its evaluation continues.
    second = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "second"), "--staged", str(tmp_path / "staged")])
    assert second.exit_code == 0, second.output
    records = {run: json.loads((tmp_path / run / set_folder / "eval.json").read_text())[-1] for run in ("whole", "second")}
    assert records["second"]["resumed_after_networks"] == 1 and "resumed_after_networks" not in records["whole"]
    assert records["second"]["accuracies"] == records["whole"]["accuracies"]
    assert not (tmp_path / "second" / set_folder / "eval-checkpoint.safetensors").exists()


def test_a_set_more_than_one_std_below_its_paper_is_staged_and_the_card_says_so_with_the_reading(tmp_path):
    import torch
    from conftest import CIFAR_CLASSES

    from condensed_datasets.core.condensed_set import CondensedSet
    from condensed_datasets.core.evaluations import record_evaluation

    dm10 = select(["cifar10/dm/10"])[0]
    assert dm10.shortfall and dm10.below_paper(47.9, 0.4) == dm10.shortfall
    assert dm10.below_paper(48.3, 0.4) == "" and dm10.below_paper(48.4, 0.4) == ""  # -1.0 paper std is not below it
    dsa1 = select(["cifar10/dsa/1"])[0]  # a paper number without a std: the gap is measured in ours
    assert dsa1.paper.std is None and dsa1.below_paper(28.17, 0.58) == dsa1.shortfall and dsa1.below_paper(28.3, 0.58) == ""
    accuracies = {1: 26.1, 10: 45.0, 50: 55.0}  # dm/1 within its paper's std (26.0 ± 0.8); 10 and 50 far below
    for ipc, mean in accuracies.items():
        meta = {"dataset": "cifar10", "classes": CIFAR_CLASSES, "mean": [0.49, 0.48, 0.45], "std": [0.2, 0.2, 0.2],
                "method": "dm", "ipc": ipc}
        path = tmp_path / "cifar10" / "dm" / f"ipc{ipc}" / "condensed.safetensors"
        path.parent.mkdir(parents=True)
        CondensedSet(torch.randn(10 * ipc, 3, 32, 32), torch.arange(10).repeat_interleave(ipc), meta).save(path)
        record_evaluation(path, {"mean": mean, "std": 0.5, "protocol": "dsa", "epochs": 1000, "models": 5,
                                 "arch": "convnet", "device": "cpu", "reduced_epochs": False})
    assert cli("card", tmp_path / "cifar10").exit_code == 0
    below = (tmp_path / "cifar10" / "README.md").read_text().split("### Below the paper")[1].split("###")[0]
    assert f"- dm IPC 10 (45.00 ± 0.50 against 48.9 ± 0.6, -3.9 (-6.5 std)): {dm10.shortfall}." in below
    assert "- dm IPC 50 (55.00 ± 0.50 against 63.0 ± 0.4, -8.0 (-16.0 std)): no reading recorded yet." in below
    assert "dm IPC 1 " not in below
    rows = json.loads(cli("collection", "status", "cifar10/dm", "--out", tmp_path, "--format", "json").output)
    assert [(r["gap_in_std"], r["below_paper"]) for r in rows] == [
        (0.1, ""), (-6.5, dm10.shortfall), (-16.0, "no reading recorded yet")]
    markdown = cli("collection", "status", "cifar10/dm", "--out", tmp_path, "--format", "markdown").output
    assert markdown.endswith(f"More than one std below the paper:\n\n- cifar10/dm/10: {dm10.shortfall}\n"
                             "- cifar10/dm/50: no reading recorded yet\n")
    table = cli("collection", "status", "cifar10/dm", "--out", tmp_path).output
    assert table.endswith(f"more than one std below the paper:\n  cifar10/dm/10: {dm10.shortfall}\n"
                          "  cifar10/dm/50: no reading recorded yet\n")
