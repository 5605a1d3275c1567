"""The wheel ships the library, the recipes and the card templates (not the staged Hub trees), and installs the
console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_recipes_and_hub_cards(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(tmp_path.glob("condensed_datasets-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for recipe in (ROOT / "recipes").glob("*.py"):
        assert f"condensed_datasets/recipes/{recipe.name}" in names
    shipped = [ROOT / "hub_cards" / "__init__.py", *(ROOT / "hub_cards").glob("*.md"),
               *(p for p in (ROOT / "hub_cards" / "examples").rglob("*") if p.is_file())]
    for card in shipped:
        assert f"condensed_datasets/hub_cards/{card.relative_to(ROOT / 'hub_cards').as_posix()}" in names
    staged = [d.name for d in (ROOT / "hub_cards").iterdir() if d.is_dir() and d.name not in ("examples", "__pycache__")]
    for dataset in staged:
        assert not [n for n in names if n.startswith(f"condensed_datasets/hub_cards/{dataset}/")], dataset
    assert "condensed_datasets/cli.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "condensed = condensed_datasets.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
