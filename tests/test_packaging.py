"""The wheel ships the library, the recipes and the card templates (not the staged Hub trees), and installs the
console script."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_recipes_and_hub_cards(tmp_path):
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
                          check=True, capture_output=True, text=True)
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if re.search(r"[A-Z]\w*Warning\b", line)]
    assert not warnings, "\n".join(warnings)  # a clean build prints no packaging warnings
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
    for package in ("core", "hub", "training", "condense", "pipeline", "cli"):
        assert f"condensed_datasets/{package}/__init__.py" in names
    assert "condensed_datasets/cli/main.py" in names
    assert "condensed_datasets/hub/published_sets.json" in names and "condensed_datasets/pipeline/collection.json" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "condensed = condensed_datasets.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
