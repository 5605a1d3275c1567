"""Options several ``condensed`` commands share, defined once (the single-set commands and the collection's)."""

from __future__ import annotations

import click

from .engine import MAX_SEED

data_root_option = click.option("--data-root", type=click.Path(file_okay=False), default=None,
                                help="Where real datasets live (default: $CONDENSED_DATA_ROOT, else ~/.cache/condensed-datasets/data).")
device_option = click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True, help="Where to compute.")
seed_option = click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
                           help="Seed for every random draw (0 to 2**63 - 1).")
