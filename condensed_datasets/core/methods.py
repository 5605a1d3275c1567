"""The method keys the project publishes, known to the core without importing any recipe.

The loader validates ``method=`` against this tuple so that loading a set never imports the recipes
(and their training machinery). Each recipe registers under one of these names: `register_method`
refuses any other, so the two cannot drift apart.
"""

from __future__ import annotations

from condensed_datasets.core.errors import UnknownNameError

# Registration order of the recipes, which is the order users see.
METHOD_NAMES: tuple[str, ...] = ("random", "herding", "dc", "dsa", "dm", "dcmg", "idc", "idc-i", "idm")


def check_method(name: str) -> str:
    """``name`` if it is a known method key; otherwise `UnknownNameError` listing the valid ones."""
    if name not in METHOD_NAMES:
        raise UnknownNameError(f"unknown method {name!r}; valid choices: {', '.join(METHOD_NAMES)}")
    return name
