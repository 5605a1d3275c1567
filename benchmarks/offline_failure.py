"""How fast a download fails without a network: our loader against huggingface_hub's own client.

    python benchmarks/offline_failure.py [--runs 3]

For each condition (connection refused on 127.0.0.1, a DNS name that does not resolve,
``HF_HUB_OFFLINE=1``) it times, interleaved, ``CondensedCIFAR10(root=..., method="dm", ipc=10)`` and a
plain ``hf_hub_download`` of the same file into the same kind of folder, and reports the median
seconds, the ratio, and whether anything was left under the folder. Needs no data and no network.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _data import median

from condensed_datasets import CondensedCIFAR10

CONDITIONS = {
    "connection refused": {"HF_ENDPOINT": "http://127.0.0.1:9"},
    "DNS failure": {"HF_ENDPOINT": "http://hub.nonexistent.invalid"},
    "HF_HUB_OFFLINE=1": {"HF_HUB_OFFLINE": "1"},
}


def _ours(root: Path) -> None:
    CondensedCIFAR10(root=root, method="dm", ipc=10)


def _huggingface_hub(root: Path) -> None:
    from huggingface_hub import hf_hub_download

    hf_hub_download("condensed-datasets/condensed-cifar10", "dm/ipc10/condensed.safetensors", repo_type="dataset",
                    local_dir=str(root / "cifar10"), endpoint=os.environ.get("HF_ENDPOINT"))


def _timed(call, env: dict[str, str]) -> tuple[float, int]:
    """Seconds until ``call`` fails, and how many paths it left under its folder."""
    for key in ("HF_ENDPOINT", "HF_HUB_OFFLINE"):
        os.environ.pop(key, None)
    os.environ.update(env)
    import huggingface_hub.constants as constants

    constants.HF_HUB_OFFLINE = env.get("HF_HUB_OFFLINE") == "1"  # huggingface_hub reads it at import
    root = Path(tempfile.mkdtemp()) / "root"
    start = time.perf_counter()
    try:
        call(root)
    except Exception:
        pass
    return time.perf_counter() - start, len(list(root.rglob("*"))) if root.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _timed(_ours, CONDITIONS["connection refused"])  # imports and first-call set-up outside the timings
    print("| condition | ours (s) | huggingface_hub (s) | ratio | left behind: ours / hf |\n|---|---|---|---|---|")
    for name, env in CONDITIONS.items():
        ours, theirs = [], []
        for _ in range(args.runs):  # interleaved
            ours.append(_timed(_ours, env))
            theirs.append(_timed(_huggingface_hub, env))
        a, b = median([t for t, _ in ours]), median([t for t, _ in theirs])
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.0f}x | {max(n for _, n in ours)} / {max(n for _, n in theirs)} paths |",
              flush=True)


if __name__ == "__main__":
    main()
