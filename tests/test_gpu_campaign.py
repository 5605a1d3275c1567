"""The GPU campaign's rehearsal: the script a lent GPU runs (`scripts/gpu_campaign.py`) runs here on the CPU with
tiny budgets and a short deadline, so it cannot rot between GPU windows; the test checks what it packs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from safetensors import safe_open

from condensed_datasets.core.files import sha256_file
from condensed_datasets.core.storage import load
from condensed_datasets.pipeline.build import build

ROOT = Path(__file__).resolve().parents[1]


def _segments(path: Path) -> list[dict]:
    with safe_open(str(path), framework="pt", device="cpu") as f:
        return json.loads(f.metadata()["checkpoint"])["segments"]


@pytest.mark.slow
def test_the_campaign_rehearses_on_the_cpu_and_packs_what_a_window_brings_back(tmp_path, digits):
    staged = tmp_path / "hub_cards"
    # A checkpoint staged by an earlier window or machine: the campaign resumes it instead of starting over.
    build("digits", "dm", 10, out=staged, source=digits, iterations=4, progress=False)
    (staged / "digits" / "dm" / "ipc10" / "condensed.safetensors").unlink()
    # One staged from another copy of the data: refused by the build, so the campaign starts that cell afresh.
    build("digits", "dm", 1, out=staged, source=digits.subset(20), iterations=2, progress=False)
    (staged / "digits" / "dm" / "ipc1" / "condensed.safetensors").unlink()
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "scripts/gpu_campaign.py", "--out", str(out), "--device", "cpu", "--queue", "rehearsal",
                           "--deadline-minutes", "1.9", "--speed-seconds", "20", "--tests", "test_nets.py",
                           "--staged", str(staged), "--jobs", "3", "--threads", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    packed = sorted(out.iterdir())
    assert len(packed) <= 8 and all(f.stat().st_size <= 16 * 2**20 for f in packed)
    assert {"report.md", "logs.tar.gz", "sets-1.tar"} <= {f.name for f in packed}

    report = (out / "report.md").read_text()
    for section in ("## Environment", "## Speed", "## Tests", "## Builds", "## Status of the built sets", "## Build records"):
        assert section in report
    assert "| sequential:fp32 |" in report  # the evaluation speed table
    tests = report.split("## Tests")[1].split("##")[0]
    assert re.search(r"counted: \d+ passed", tests) and "pytest's line: " in tests and "failed" not in tests
    builds = report.split("## Builds")[1].split("##")[0]
    assert "| digits/dm/1 | done |" in builds and "| digits/random/1 | done |" in builds
    assert "| digits/dm/10 | stopped at the deadline (checkpoint kept) |" in builds
    assert "resuming the checkpoint staged" in report
    assert "digits/dm/1: its checkpoint was built from another copy of the data; starting afresh" in report

    back = tmp_path / "back"
    with tarfile.open(out / "sets-1.tar") as tar:
        tar.extractall(back, filter="data")
    names = {str(p.relative_to(back)) for p in back.rglob("*") if p.is_file()}
    assert {"digits/dm/ipc1/condensed.safetensors", "digits/dm/ipc1/eval.json", "digits/dm/ipc1/build.json",
            "digits/random/ipc1/eval.json", "digits/dm/ipc10/checkpoint.safetensors"} <= names
    assert not any(n.startswith("digits/random/") and not n.endswith("eval.json") for n in names)  # real images stay
    evaluation = json.loads((back / "digits/dm/ipc1/eval.json").read_text())[-1]
    assert evaluation["set_sha256"] == sha256_file(back / "digits/dm/ipc1/condensed.safetensors")
    assert load(back / "digits/dm/ipc1/condensed.safetensors").meta["iterations_run"] == 5
    # The stopped build continued the staged checkpoint: its record holds both stretches.
    first, second = _segments(back / "digits/dm/ipc10/checkpoint.safetensors")
    assert (first["from"], first["to"]) == (0, 4) and second["from"] == 4 and second["to"] > 4
