"""Start-up time: how long a fresh process takes to import each entry point, against importing torch alone.

    python benchmarks/startup.py [--repeats 5]

Each import runs in a new interpreter (nothing cached in memory; the OS file cache is warm after the first
round), the entries interleaved round by round; the table gives the median wall seconds and the ratio to
``import torch``, the floor every entry pays. ``condensed --help`` is the command line's start as a user sees it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _data import median

ENTRIES = {
    "import torch (the floor)": ["-c", "import torch"],
    "import condensed_datasets": ["-c", "import condensed_datasets"],
    "condensed --help": ["-m", "condensed_datasets", "--help"],
    "from condensed_datasets import CondensedCIFAR10": ["-c", "from condensed_datasets import CondensedCIFAR10"],
    "import condensed_datasets.recipes": ["-c", "import condensed_datasets.recipes"],
    "import torchvision": ["-c", "import torchvision"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {name: [] for name in ENTRIES}
    subprocess.run([sys.executable, "-c", "import torch, torchvision"], check=True)  # warm the file cache
    for _ in range(args.repeats):
        for name, argv in ENTRIES.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, *argv], check=True, stdout=subprocess.DEVNULL)
            seconds[name].append(time.perf_counter() - start)
    floor = median(seconds["import torch (the floor)"])
    print(f"| entry | median s ({args.repeats} runs) | x import torch |\n|---|---|---|")
    for name, values in seconds.items():
        print(f"| `{name}` | {median(values):.2f} | {median(values) / floor:.2f} |")


if __name__ == "__main__":
    main()
