"""Condensation methods, one module per method, registered by name in `METHODS`.

Every method module registers a `Method`: its paper, the evaluation protocol of that paper, its
published hyperparameters per (dataset, IPC) as data, and ``condense(real, ipc, config, run)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from condensed_datasets.core.condensed_set import CondensedSet
from condensed_datasets.condense.frame import SetupFn, run_recipe
from condensed_datasets.condense.settings import RunOptions
from condensed_datasets.core.methods import METHOD_NAMES, MethodPaper, method_paper
from condensed_datasets.core.registry import Registry
from condensed_datasets.training.sources import RealData

CondenseFn = Callable[[RealData, int, dict[str, Any], RunOptions], CondensedSet]


@dataclass(frozen=True)
class Method:
    """A registered condensation method.

    Attributes:
        name: the method key (``dc``, ``dm``, ...), one of `METHOD_PAPERS` (its paper, citation and
            evaluation protocol live there, so that loading and evaluating a set never import a recipe).
        condense: the recipe, for a method without iterations (``condense(real, ipc, config, run) -> CondensedSet``).
        setup: an iterative method's setup (`condense.frame.Setup`): the frame runs it (`condense.frame.run_recipe`).
        defaults: config used for every (dataset, IPC). published: overrides per ``(dataset, ipc)``
            (``(dataset, None)`` and ``(None, ipc)`` match any IPC / any dataset).
        iterations_key: the config entry ``--iterations`` sets (``None``: the method has no iterations).
        per_ipc: config that follows from the IPC alone (applied after ``defaults``).
    """

    name: str
    condense: CondenseFn | None = None
    setup: SetupFn | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    iterations_key: str | None = None  # the config key that ``--iterations`` overrides
    per_ipc: Callable[[int], dict[str, Any]] | None = None  # rules that depend on IPC alone (loop counts)
    published: dict[tuple[str | None, int | None], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.condense is None) == (self.setup is None):
            raise ValueError(f"method {self.name!r}: give condense (no iterations) or setup (the frame runs it), not both")
        if self.setup is not None:
            object.__setattr__(self, "condense", partial(run_recipe, self.name, self.setup))

    @property
    def about(self) -> MethodPaper:
        """The method's paper, citation, evaluation protocol and whether it selects real images."""
        return method_paper(self.name)

    paper = property(lambda self: self.about.paper, doc="The paper's title and venue.")
    bibtex = property(lambda self: self.about.bibtex, doc="The paper's citation.")
    protocol = property(lambda self: self.about.protocol, doc="The evaluation protocol the paper reports with.")
    real_images = property(lambda self: self.about.real_images, doc="Whether the method selects real images.")

    def config(self, dataset: str, ipc: int, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The hyperparameters of this method for ``(dataset, ipc)``: defaults, then published values, then overrides."""
        cfg = dict(self.defaults)
        cfg.update(self.per_ipc(ipc) if self.per_ipc else {})
        for key in ((None, ipc), (dataset, None), (dataset, ipc)):
            cfg.update(self.published.get(key, {}))
        unknown = sorted(set(overrides or {}) - set(cfg))
        if unknown:
            raise ValueError(f"{self.name} has no hyperparameter {', '.join(unknown)}; valid: {', '.join(sorted(cfg)) or 'none'}")
        cfg.update({k: check_override(self.name, k, v, cfg[k]) for k, v in (overrides or {}).items()})
        return cfg


def check_override(method: str, key: str, value: Any, published: Any) -> Any:
    """``value`` if it fits the type and sign of the published ``published``; else a `ValueError` naming both.

    Integers stay integers (``2.0`` is taken as ``2``, ``1.5`` is refused), counts published as at
    least 1 stay at least 1, rates and weights are not negative, flags are ``true``/``false``, names are
    strings (``null`` keeps a key whose published value is ``null``).
    """
    def refuse(expected: str) -> ValueError:
        return ValueError(f"{method}: --set {key}={json.dumps(value)} is invalid: {key} expects {expected} "
                          f"(published value: {json.dumps(published)})")

    if isinstance(published, bool):
        if not isinstance(value, bool):
            raise refuse("true or false")
        return value
    if isinstance(published, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise refuse("an integer")
        low = 1 if published >= 1 else 0
        if value < low:
            raise refuse(f"an integer >= {low}")
        return value
    if isinstance(published, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise refuse("a finite number")
        if value < 0:
            raise refuse("a number >= 0")
        return float(value)
    if published is None or isinstance(published, str):
        if not (isinstance(value, str) or (value is None and published is None)):
            raise refuse("a string" + (" or null" if published is None else ""))
        return value
    return value


METHODS: Registry[Method] = Registry("method")


def register_method(method: Method) -> Method:
    """Add a method to the registry (called once at the bottom of each recipe module).

    The name must be one of `METHOD_NAMES`, the catalog the loader checks without importing recipes.
    """
    if method.name not in METHOD_NAMES:
        raise ValueError(f"method {method.name!r} is not in condensed_datasets.core.methods.METHOD_NAMES; add it there")
    return METHODS.register(method.name, method)


def get_method(name: str) -> Method:
    """The registered method called ``name`` (an unknown name lists the valid ones)."""
    return METHODS.get(name)


def list_methods() -> list[str]:
    """Names of the registered methods."""
    return METHODS.names()


# Registration order is the order users see.
from . import random, herding, dc, dsa, dm, dcmg, idc, idm  # noqa: E402,F401
