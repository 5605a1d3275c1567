"""The GPU campaign: one window on a lent GPU turned into CUDA-checked recipes, speed figures and condensed sets.

    python scripts/gpu_campaign.py --out DIR [--deadline-minutes 8] [--data-archives DIR | --data-root DIR]
                                   [--official-dir DIR] [--queue gpu|rehearsal] [--device cuda] [--jobs 4]
                                   [--stages env,speed,builds,tests]

Everything is bounded by one deadline (counted from the start); what is unfinished then is stopped cleanly and
everything is packed into DIR as at most 8 files of at most 15 MiB (what the device tool brings back):

1. env: the GPU, driver, Python, torch and torchvision versions, the tree's commit.
2. speed (alone on the GPU, so its timings are clean; capped): seconds per iteration of our recipes against the
   authors' scripts (`benchmarks/versus_official.py`, CIFAR-10 IPC 10), then K = 10 evaluation networks
   together against one after another (`benchmarks/eval_speed.py`).
3. builds: the queue (`QUEUES`, most valuable first), ``--jobs`` sets at once, each one
   ``condensed collection build CELL``: resumed from a checkpoint staged in ``hub_cards/`` by an earlier
   window or machine, built to its published budget, evaluated with its method's protocol (5 networks). A cell
   already staged complete and evaluated in ``hub_cards/`` is skipped. At the deadline every running build
   gets SIGTERM and stops at its next iteration boundary with a checkpoint (`checkpoint.RunStopped`).
4. tests (beside the builds): the GPU-relevant test files with ``CONDENSED_TEST_DEVICE`` set, capped.
5. pack: ``report.md`` (every table), ``logs.tar.gz``, and the built tree in ``sets-N.tar`` pieces: set files,
   evaluations, previews, build records, and the checkpoints of unfinished builds (a later window resumes them).
   Sets of methods that select real images are real images: only their evaluations travel.

The tree that travels to the GPU machine is limited to 64 MiB: the repository (~2 MiB), the real data as
``cifar10.tar.xz`` (the JPEG tree, 17.8 MiB: xz shares the JPEG headers; the zip is 59.3 MiB) and
``mnist.tar.xz`` (8.8 MiB), the authors' Python files (0.8 MiB) and IDM's extra modules (kornia, kornia_rs,
torchnet: 7 MiB), ~37 MiB in all. ``scripts/gpu-campaign`` is the command to run there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
MAX_FILES = 8
PIECE_BYTES = 15 * 2**20
STAGES = ("env", "speed", "builds", "tests")
GPU_TEST_FILES = ("test_recipes.py", "test_evaluate.py", "test_formation.py", "test_augment.py", "test_nets.py",
                  "test_loader.py", "test_matching_pass.py", "test_speed_levers.py")


@dataclass(frozen=True)
class Cell:
    """One set of the collection to build, with the speed levers of its build (`condensed collection build` options)."""

    selector: str
    options: tuple[str, ...] = ()

    @property
    def parts(self) -> tuple[str, str, int]:
        dataset, method, ipc = self.selector.split("/")
        return dataset, method, int(ipc)


BF16_REAL = ("--real-precision", "bf16")  # DM's real embeddings are targets: bf16 (the CPU lever, within noise)
QUEUES: dict[str, list[Cell]] = {
    # Most valuable first: the DM sets (hours each on a CPU), then the IPC 1 gradient-matching sets, the real-image
    # baselines (evaluations only), then the long gradient-matching builds, which carry on as checkpoints.
    "gpu": [
        Cell("cifar10/dm/10", BF16_REAL), Cell("cifar10/dm/1", BF16_REAL), Cell("cifar10/dsa/1"), Cell("cifar10/dc/1"),
        Cell("cifar10/dm/50", BF16_REAL), Cell("cifar10/dcmg/1"),
        Cell("mnist/dm/10", BF16_REAL), Cell("mnist/dm/1", BF16_REAL), Cell("mnist/dsa/1"), Cell("mnist/dc/1"),
        Cell("mnist/dcmg/1"), Cell("mnist/dm/50", BF16_REAL),
        *(Cell(f"{d}/{m}/{ipc}") for d in ("cifar10", "mnist") for m in ("random", "herding") for ipc in (1, 10, 50)),
        Cell("cifar10/dsa/10"), Cell("cifar10/dc/10"),
    ],
    # The CPU rehearsal (the test suite runs it): tiny budgets, and one build too long for the deadline.
    "rehearsal": [Cell("digits/dm/1", ("--iterations", "5", "--eval-epochs", "2", "--eval-models", "2")),
                  Cell("digits/random/1", ("--eval-epochs", "2", "--eval-models", "2")),
                  Cell("digits/dm/10", ("--iterations", "1000000", "--eval-epochs", "2", "--eval-models", "2"))],
}


@dataclass
class Campaign:
    """The run's settings, its clock and what it found (the report is rendered from this)."""

    out: Path
    work: Path
    device: str
    deadline: float
    data_root: Path | None
    official_dir: Path | None
    jobs: int
    threads: int
    staged: Path
    log: list[str] = field(default_factory=list)
    sections: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, line: str) -> None:
        stamped = f"[{time.monotonic() - self.started:6.1f} s] {line}"
        self.log.append(stamped)
        print(stamped, flush=True)


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
    env.pop("CONDENSED_TEST_DEVICE", None)
    return env


def run_capped(command: list[str], seconds: float, log: Path, env: dict[str, str] | None = None, cwd: Path = ROOT) -> int | None:
    """Run ``command`` with its output in ``log``; stopped (SIGTERM, then SIGKILL) after ``seconds``. None: stopped."""
    with open(log, "w") as f:
        process = subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env=env or python_env(), cwd=cwd)
        try:
            return process.wait(timeout=max(1.0, seconds))
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return None


# --- stages ----------------------------------------------------------------------------------


def stage_env(c: Campaign) -> None:
    import torch
    import torchvision

    lines = [f"- python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
             f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}",
             f"- host: {platform.node()}, {os.cpu_count()} CPUs; commit {os.environ.get('CAMPAIGN_COMMIT', 'unknown')}",
             f"- device asked for: {c.device}; deadline {round(c.left())} s from the start of the builds stage clock"]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            lines.append(f"- cuda:{i}: {p.name}, {p.total_memory / 2**30:.1f} GiB, {p.multi_processor_count} SMs, "
                         f"capability {p.major}.{p.minor}")
    smi = shutil.which("nvidia-smi")
    if smi:
        done = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total,clocks.sm,power.limit", "--format=csv,noheader"],
                              capture_output=True, text=True)
        lines.append(f"- nvidia-smi: {done.stdout.strip() or done.stderr.strip()}")
    c.sections["Environment"] = "\n".join(lines)


def stage_speed(c: Campaign, seconds: float) -> None:
    """Ours vs the authors' scripts, then K = 10 evaluation networks together vs sequential; alone on the device."""
    logs = c.work / "logs"
    start = time.monotonic()
    parts = []
    if c.official_dir is not None and c.official_dir.is_dir():
        command = [sys.executable, "benchmarks/versus_official.py", "--device", c.device, "--official-dir", str(c.official_dir),
                   "--datasets", "cifar10", "--methods", "dm,dsa,idc,idm,dc", "--ipc", "10", "--repeats", "1",
                   "--iterations", "dm=21,idm=6,dsa=3,dc=3,idc=11", "--real-precision", "bf16", "--train-compile", "off",
                   "--match-compile", "off", *(["--data-root", str(c.data_root)] if c.data_root else [])]
        rc = run_capped(command, seconds * 0.75, logs / "speed-versus-official.log")
        parts.append(_tables(logs / "speed-versus-official.log", "versus_official", rc))
    else:
        parts.append(f"versus_official: skipped (no authors' repositories at {c.official_dir})")
    dataset = "cifar10" if c.data_root is not None else "digits"
    command = [sys.executable, "benchmarks/eval_speed.py", "--dataset", dataset, "--device", c.device, "--models", "10",
               "--epochs", "100" if c.device == "cuda" else "2", "--repeats", "1",
               "--modes", "sequential:fp32,vmap:fp32,loop:fp32" if c.device == "cuda" else "sequential:fp32,vmap:fp32",
               *(["--data-root", str(c.data_root)] if c.data_root else [])]
    rc = run_capped(command, max(5.0, seconds - (time.monotonic() - start)), logs / "speed-eval.log")
    parts.append(_tables(logs / "speed-eval.log", "eval_speed", rc))
    c.sections["Speed"] = "\n\n".join(parts)


def _tables(log: Path, name: str, rc: int | None) -> str:
    text = log.read_text() if log.exists() else ""
    kept = [line for line in text.splitlines() if line.startswith("|") or line.startswith("IPC") or "mode" in line[:12]]
    state = "stopped at its time cap" if rc is None else f"exit {rc}"
    tail = "" if rc == 0 else "\n\n```\n" + "\n".join(text.splitlines()[-8:]) + "\n```"
    return f"**{name}** ({state})\n\n" + "\n".join(kept) + tail


def staged_done(cell: Cell, staged: Path) -> bool:
    """Whether ``hub_cards/`` already holds this cell complete and evaluated (nothing for the GPU to do)."""
    from condensed_datasets.pipeline.collection import select
    from condensed_datasets.pipeline.status import status_rows

    if not staged.is_dir():
        return False
    row = status_rows(select([cell.selector]), staged)[0]
    return row["state"] in ("complete, evaluated", "evaluated, file not staged")


def staged_checkpoint(cell: Cell, staged: Path, work: Path) -> bool:
    """Whether the build will continue a checkpoint staged in ``hub_cards/`` (`collection build --staged` adopts it)."""
    from condensed_datasets.pipeline.collection import select
    from condensed_datasets.pipeline.stage import staged_checkpoint as pending

    return pending(staged, work, select([cell.selector])[0]) is not None


@dataclass
class Running:
    cell: Cell
    process: subprocess.Popen
    log: Path
    started: float
    retry: bool = False


def _job_command(c: Campaign, cell: Cell, extra: tuple[str, ...] = (), staged: bool = True) -> list[str]:
    return [sys.executable, "-m", "condensed_datasets", "collection", "build", cell.selector, "--out", str(c.work / "sets"),
            *(["--staged", str(c.staged)] if staged else []),
            "--device", c.device, "--checkpoint-minutes", "1", "--threads", str(c.threads),
            *(["--data-root", str(c.data_root)] if c.data_root else []), *cell.options, *extra]


def _start(c: Campaign, cell: Cell, log: Path, extra: tuple[str, ...] = (), staged: bool = True, retry: bool = False) -> Running:
    process = subprocess.Popen(_job_command(c, cell, extra, staged), stdout=open(log, "w"), stderr=subprocess.STDOUT,
                               env=python_env(), cwd=ROOT)
    return Running(cell, process, log, time.monotonic(), retry=retry)


class Retry(NamedTuple):
    """A failed build worth one more try: what its log says, why (the report's line), and what the retry changes."""

    says: str
    why: str
    options: tuple[str, ...] = ()
    adopt_staged: bool = True


# A checkpoint of another copy of the data (a JPEG decoder that differs by a grey level, say) is refused by the build;
# on the GPU the whole build takes minutes, so the cell starts afresh on this machine's copy.
RETRIES = (
    Retry("vmap", "evaluation failed with vmap; again with --together sequential", ("--together", "sequential")),
    Retry("built from another copy of the dataset",
          "its checkpoint was built from another copy of the data; starting afresh on this one", adopt_staged=False),
)


def stage_builds(c: Campaign, queue: list[Cell], staged: Path, tests: list[str] | None) -> None:
    """Run the queue, ``c.jobs`` at once, until it is done or the deadline; tests run beside the builds."""
    from condensed_datasets.core.layout import CHECKPOINT_FILENAME, set_dir

    logs = c.work / "logs"
    rows: list[dict] = []
    pending = []
    for cell in queue:
        if staged_done(cell, staged):
            rows.append({"cell": cell.selector, "state": "already staged", "seconds": 0.0, "result": ""})
            continue
        if staged_checkpoint(cell, staged, c.work / "sets"):
            c.say(f"{cell.selector}: resuming the checkpoint staged in {staged}")
        pending.append(cell)
    tests_process = None
    if tests:
        tests_log = open(logs / "tests.log", "w")
        env = python_env({"CONDENSED_TEST_DEVICE": c.device})
        tests_process = subprocess.Popen([sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-v", *tests], stdout=tests_log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        c.say(f"tests: started {len(tests)} file(s) with CONDENSED_TEST_DEVICE={c.device}")
    running: list[Running] = []
    stopping = False
    while pending or running:
        if not stopping and c.left() <= 0:
            stopping = True
            c.say(f"deadline: stopping {len(running)} build(s) at their next iteration boundary")
            for r in running:
                r.process.send_signal(signal.SIGTERM)
            stop_sent = time.monotonic()
        if stopping and time.monotonic() - stop_sent > 25:
            for r in running:
                r.process.kill()
        while not stopping and pending and len(running) < c.jobs:
            cell = pending.pop(0)
            log = logs / f"build-{cell.selector.replace('/', '-')}.log"
            running.append(_start(c, cell, log))
            c.say(f"{cell.selector}: started")
        for r in list(running):
            rc = r.process.poll()
            if rc is None:
                continue
            running.remove(r)
            seconds = round(time.monotonic() - r.started, 1)
            text = r.log.read_text()
            result = next((" ".join(line.split()) for line in text.splitlines() if line.split()[1:2] == [r.cell.selector]), "")
            if rc == 0:
                state = "done"
            elif "stopped on request" in text:
                state = "stopped at the deadline (checkpoint kept)"
            elif rc < 0:
                state = f"killed (signal {-rc})"
            else:
                state = "failed"
            retry = next((x for x in RETRIES if x.says.lower() in text.lower()), None)
            if retry is not None and state == "failed" and not r.retry and not stopping:
                c.say(f"{r.cell.selector}: {retry.why}")
                if not retry.adopt_staged:
                    (set_dir(c.work / "sets", *r.cell.parts) / CHECKPOINT_FILENAME).unlink(missing_ok=True)
                running.append(_start(c, r.cell, r.log.with_suffix(".retry.log"), retry.options, retry.adopt_staged, retry=True))
                continue
            rows.append({"cell": r.cell.selector, "state": state, "seconds": seconds, "result": result[:160]})
            c.say(f"{r.cell.selector}: {state} in {seconds} s {result[:120]}")
        if tests_process is not None and tests_process.poll() is None and (stopping or c.left() < -20):
            tests_process.terminate()
        time.sleep(0.5)
    rows += [{"cell": cell.selector, "state": "not started (deadline)", "seconds": 0.0, "result": ""} for cell in pending]
    lines = ["| cell | state | wall s | collection build's line |", "|---|---|---|---|"]
    lines += [f"| {r['cell']} | {r['state']} | {r['seconds']} | {r['result'].replace('|', '/')} |" for r in rows]
    c.sections["Builds"] = "\n".join(lines)
    if tests_process is not None:
        try:
            tests_process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            tests_process.kill()
            tests_process.wait()
        text = (logs / "tests.log").read_text()
        # counted from pytest -v's lines, so that a run stopped at the deadline still reports what it did
        outcomes = re.findall(r"^(tests/\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)", text, re.M)
        counts = {k: sum(1 for _, o in outcomes if o == k) for k in dict.fromkeys(o for _, o in outcomes)}
        summary = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
        bad = [f"- {name} {o}" for name, o in outcomes if o in ("FAILED", "ERROR")]
        ended = "stopped at the deadline" if tests_process.returncode in (-15, -9) else "ran to the end"
        c.sections["Tests"] = (f"exit {tests_process.returncode} ({ended}); files: {', '.join(tests)}\n\n"
                               f"counted: {', '.join(f'{n} {k.lower()}' for k, n in counts.items()) or 'none'}; "
                               f"pytest's line: {summary[-1] if summary else 'none'}" + ("\n\n" + "\n".join(bad[:40]) if bad else ""))


def status_section(c: Campaign, queue: list[Cell]) -> None:
    from condensed_datasets.pipeline.collection import select
    from condensed_datasets.pipeline.status import render_status, status_rows

    sets = c.work / "sets"
    if not sets.is_dir():
        return
    rows = [r for r in status_rows(select([cell.selector for cell in queue]), sets) if r["state"] != "missing"]
    c.sections["Status of the built sets"] = render_status(rows, "markdown") if rows else "nothing built"
    records = []
    for path in sorted(sets.glob("*/*/ipc*/build.json")):
        record = json.loads(path.read_text())
        done = sum(s["to"] - s["from"] for s in record["segments"])
        per = f"{record['seconds'] / done:.4f}" if done else "-"
        records.append(f"| {path.parent.relative_to(sets)} | {record['iterations']} | {record['seconds']} | {per} | "
                       f"{', '.join(record['devices'])} |")
    if records:
        c.sections["Build records"] = ("| set | iterations | seconds (all stretches) | s/it | devices |\n|---|---|---|---|---|\n"
                                       + "\n".join(records))


# --- packing ---------------------------------------------------------------------------------


def files_to_bring(sets: Path) -> list[Path]:
    """What travels back: sets, evaluations, previews and build records; checkpoints of unfinished builds only;
    never the files of real-image methods (random, herding)."""
    from condensed_datasets.core.methods import method_paper

    out = []
    for folder in sorted(p.parent for p in sets.glob("*/*/ipc*/*") if p.is_file()):
        if folder in (f.parent for f in out):
            continue
        method = folder.parent.name
        real_images = method_paper(method).real_images
        finished = (folder / "condensed.safetensors").is_file() and not _unfinished(folder)
        for f in sorted(folder.iterdir()):
            if not f.is_file() or f.name.startswith("."):
                continue
            if real_images and f.name != "eval.json":
                continue
            if f.name == "checkpoint.safetensors" and finished:
                continue
            out.append(f)
    return out


def _unfinished(folder: Path) -> bool:
    """Whether the set in ``folder`` (``<root>/<dataset>/<method>/ipc<N>``) is built short of its budget."""
    from condensed_datasets.pipeline.collection import select
    from condensed_datasets.pipeline.status import status_rows

    selector = f"{folder.parent.parent.name}/{folder.parent.name}/{folder.name.removeprefix('ipc')}"
    return status_rows(select([selector]), folder.parent.parent.parent)[0]["state"].startswith("partial")


def pack(c: Campaign) -> list[str]:
    """Write report.md, logs.tar.gz and sets-N.tar pieces into ``c.out``; returns what could not be packed."""
    c.out.mkdir(parents=True, exist_ok=True)
    sets = c.work / "sets"
    left_out = []
    pieces: list[list[Path]] = []
    sizes: list[int] = []
    for f in files_to_bring(sets) if sets.is_dir() else []:
        size = f.stat().st_size
        if size > PIECE_BYTES:
            left_out.append(f"{f.relative_to(sets)} ({size} bytes > one piece)")
            continue
        for i, total in enumerate(sizes):
            if total + size <= PIECE_BYTES:
                pieces[i].append(f)
                sizes[i] += size
                break
        else:
            pieces.append([f])
            sizes.append(size)
    room = MAX_FILES - 2  # report.md and logs.tar.gz
    for f in [f for piece in pieces[room:] for f in piece]:
        left_out.append(f"{f.relative_to(sets)} (no room: {MAX_FILES} files at most)")
    for i, piece in enumerate(pieces[:room], 1):
        with tarfile.open(c.out / f"sets-{i}.tar", "w") as tar:
            for f in piece:
                tar.add(f, arcname=str(f.relative_to(sets)))
    with tarfile.open(c.out / "logs.tar.gz", "w:gz") as tar:
        tar.add(c.work / "logs", arcname="logs")
    return left_out


def render_report(c: Campaign, left_out: list[str]) -> str:
    parts = [f"# GPU campaign report\n\nwall {time.monotonic() - c.started:.0f} s; device {c.device}"]
    for title in ("Environment", "Speed", "Tests", "Builds", "Status of the built sets", "Build records"):
        if title in c.sections:
            parts.append(f"## {title}\n\n{c.sections[title]}")
    if left_out:
        parts.append("## Not packed\n\n" + "\n".join(f"- {x}" for x in left_out))
    parts.append("## Log\n\n```\n" + "\n".join(c.log) + "\n```")
    return "\n\n".join(parts) + "\n"


# --- main ------------------------------------------------------------------------------------


def unpack_data(archives: Path, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for archive in sorted(archives.glob("*.tar.xz")):
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="where the packed files go ($OUT on the GPU machine)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a folder beside --out)")
    parser.add_argument("--deadline-minutes", type=float, default=8.0, help="everything stops and is packed by then")
    parser.add_argument("--data-root", type=Path, default=None, help="real data (MNIST, CIFAR-10) already unpacked")
    parser.add_argument("--data-archives", type=Path, default=None, help="a folder of *.tar.xz data archives to unpack first")
    parser.add_argument("--official-dir", type=Path, default=None, help="the authors' repositories (versus_official)")
    parser.add_argument("--queue", choices=sorted(QUEUES), default="gpu")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--jobs", type=int, default=4, help="builds at once")
    parser.add_argument("--threads", type=int, default=3, help="CPU threads per build")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--speed-seconds", type=float, default=110.0)
    parser.add_argument("--tests", default=",".join(GPU_TEST_FILES), help="test files for the tests stage ('' for none)")
    parser.add_argument("--staged", type=Path, default=ROOT / "hub_cards")
    args = parser.parse_args()
    stages = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}; valid: {', '.join(STAGES)}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda but no CUDA device is visible; --device cpu rehearses on the CPU")
    work = args.work or args.out.parent / (args.out.name + "-work")
    (work / "logs").mkdir(parents=True, exist_ok=True)
    c = Campaign(out=args.out, work=work, device=args.device, deadline=time.monotonic() + args.deadline_minutes * 60 - 30,
                 data_root=args.data_root, official_dir=args.official_dir, jobs=args.jobs, threads=args.threads,
                 staged=args.staged.resolve())
    try:
        if args.data_archives is not None:
            c.data_root = c.data_root or work / "data"
            unpack_data(args.data_archives, c.data_root)
            c.say(f"data unpacked into {c.data_root}")
        if "env" in stages:
            stage_env(c)
            c.say("env: done")
        if "speed" in stages and c.left() > 2 * args.speed_seconds:  # leave the builds at least as long
            stage_speed(c, args.speed_seconds)
            c.say("speed: done")
        tests = [f"tests/{t}" for t in args.tests.split(",") if t] if "tests" in stages else None
        if "builds" in stages:
            stage_builds(c, QUEUES[args.queue], c.staged, tests)
            status_section(c, QUEUES[args.queue])
            c.say("builds: done")
    except Exception as err:  # the report still goes back, with what broke
        c.say(f"campaign error: {type(err).__name__}: {err}")
    finally:
        left_out = pack(c)
        (c.out / "report.md").write_text(render_report(c, left_out))
        c.say(f"packed {len(list(c.out.iterdir()))} file(s) into {c.out}")


if __name__ == "__main__":
    main()
