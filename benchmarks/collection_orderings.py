"""The orderings the papers report, read off the staged collection: no training, only the recorded evaluations.

    python benchmarks/collection_orderings.py [--staged ../hub_cards] [DATASET ...]

For every pair of staged cells the papers order (DSA >= DC, DCMG >= DC at the same IPC, turned round where both
papers' numbers say the reverse, as DC's 91.7 against DSA's 88.7 on MNIST at IPC 1; a method at a larger IPC
above itself at a smaller one; every condensed set above ``random`` real images at the same IPC), one Markdown row:
both accuracies (mean ± std over the evaluation networks, each at its method's protocol), the margin in points and
in units of the larger std: "holds" says whether the margin is positive and whether it exceeds one std ("beyond
noise"). Cells without a full-protocol evaluation are not compared.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from condensed_datasets.core.methods import method_paper
from condensed_datasets.pipeline.collection import PaperResult, select
from condensed_datasets.pipeline.status import status_rows

PAIRS = (("dsa", "dc"), ("dcmg", "dc"))  # (better, other) at the same IPC, as the papers report


def papers(datasets: list[str]) -> dict[tuple[str, str, int], PaperResult]:
    """(dataset, method, ipc) -> the paper's number, where the collection has one."""
    return {(e.dataset, e.method, e.ipc): e.paper for e in select(datasets) if e.paper}


def evaluated_cells(staged: Path, datasets: list[str]) -> dict[tuple[str, str, int], tuple[float, float]]:
    """(dataset, method, ipc) -> (mean, std) of each staged cell's full-protocol evaluation."""
    cells = {}
    for row in status_rows(select(datasets), staged):
        if row.get("eval_at_protocol"):
            dataset, method, ipc = row["set"].split("/")
            cells[(dataset, method, int(ipc))] = (row["eval_mean"], row["eval_std"])
    return cells


def comparisons(cells: dict[tuple[str, str, int], tuple[float, float]],
                paper: dict[tuple[str, str, int], PaperResult]) -> list[tuple[str, tuple, tuple]]:
    """(ordering, expected better cell, other cell) for every ordering both of whose cells are evaluated."""
    found = []
    for (dataset, method, ipc) in sorted(cells):
        for better, other in PAIRS:
            a, b = (dataset, better, ipc), (dataset, other, ipc)
            if method == better and b in cells:
                if a in paper and b in paper and paper[b].mean > paper[a].mean:  # the papers say the reverse here
                    found.append((f"{other} > {better} (papers)", b, a))
                else:
                    found.append((f"{better} >= {other}", a, b))
        smaller = [i for (d, m, i) in cells if (d, m) == (dataset, method) and i < ipc]
        if smaller and not method_paper(method).real_images:
            found.append(("larger IPC above smaller", (dataset, method, ipc), (dataset, method, max(smaller))))
        if not method_paper(method).real_images and (dataset, "random", ipc) in cells:
            found.append(("condensed > random", (dataset, method, ipc), (dataset, "random", ipc)))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["mnist", "cifar10", "digits"])
    parser.add_argument("--staged", type=Path, default=Path(__file__).resolve().parent.parent / "hub_cards")
    args = parser.parse_args()
    cells, paper = evaluated_cells(args.staged, args.datasets), papers(args.datasets)
    print("| ordering | cell | accuracy (%) | against | accuracy (%) | margin (points) | margin (std) | holds | papers |")
    print("|---|---|---|---|---|---|---|---|---|")
    for ordering, a, b in comparisons(cells, paper):
        (ma, sa), (mb, sb) = cells[a], cells[b]
        spread = max(sa, sb)
        in_std = (ma - mb) / spread if spread > 0 else float("inf")
        verdict = ("yes, beyond noise" if in_std > 1 else "yes, within noise" if ma > mb
                   else "no, within noise" if in_std >= -1 else "no, reversed beyond noise")
        print(f"| {ordering} | {'/'.join(map(str, a))} | {ma:.2f} ± {sa:.2f} | {'/'.join(map(str, b))} | "
              f"{mb:.2f} ± {sb:.2f} | {ma - mb:+.2f} | {in_std:+.1f} | {verdict} | "
              f"{f'{paper[a]} vs {paper[b]}' if a in paper and b in paper else '-'} |")


if __name__ == "__main__":
    main()
