"""Distances between gradients (gradient matching) and between embeddings (distribution matching).

`gradient_distance` compares two lists of per-parameter gradients with a registered metric:
``dc`` (layer-wise, per output channel ``1 - cos``; 1-D tensors such as biases and norm parameters
contribute nothing), ``angle_magnitude`` (``1 - cos(a, b) + w * ||a - b||`` per output channel,
"Delving into Effective Gradient Matching"), ``mse`` (sum of squares), ``l1`` (sum of absolute
differences) and ``cos`` (one cosine over all gradients concatenated).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor

from condensed_datasets.core.registry import Registry

Metric = Callable[[Sequence[Tensor], Sequence[Tensor], float], Tensor]
METRICS: Registry[Metric] = Registry("gradient distance")
EPS = 1e-6


def _rows(g: Tensor) -> Tensor:
    """A gradient as rows, one per output channel: conv (out, in, k, k) -> (out, in*k*k)."""
    if g.ndim == 4:
        return g.reshape(g.shape[0], -1)
    if g.ndim == 3:  # LayerNorm over (C, H, W)
        return g.reshape(g.shape[0], -1)
    return g


def _row_cos_distance(a: Tensor, b: Tensor) -> Tensor:
    return (1 - (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + EPS)).sum()


@METRICS.register("dc")
def _dc(syn: Sequence[Tensor], real: Sequence[Tensor], weight: float = 0.0) -> Tensor:
    return sum((_row_cos_distance(_rows(s), _rows(r)) for s, r in zip(syn, real) if s.ndim > 1), syn[0].new_zeros(()))


@METRICS.register("angle_magnitude")
def _angle_magnitude(syn: Sequence[Tensor], real: Sequence[Tensor], weight: float = 1.0) -> Tensor:
    total = syn[0].new_zeros(())
    for s, r in zip(syn, real):
        if s.ndim > 1:
            a, b = _rows(s), _rows(r)
            total = total + _row_cos_distance(a, b) + weight * (a - b).norm(dim=-1).sum()
    return total


@METRICS.register("mse")
def _mse(syn: Sequence[Tensor], real: Sequence[Tensor], weight: float = 0.0) -> Tensor:
    return sum(((s - r) ** 2).sum() for s, r in zip(syn, real))


@METRICS.register("l1")
def _l1(syn: Sequence[Tensor], real: Sequence[Tensor], weight: float = 0.0) -> Tensor:
    return sum((s - r).abs().sum() for s, r in zip(syn, real))


@METRICS.register("cos")
def _cos(syn: Sequence[Tensor], real: Sequence[Tensor], weight: float = 0.0) -> Tensor:
    a = torch.cat([s.flatten() for s in syn])
    b = torch.cat([r.flatten() for r in real])
    return 1 - (a * b).sum() / (a.norm() * b.norm() + EPS)


# The row-wise metrics pass over 1-D gradients (biases, norm parameters): they add nothing to the distance.
ROW_WISE_METRICS = ("dc", "angle_magnitude")


def compared_parameters(metric: str, params: Sequence[Tensor]) -> list[Tensor]:
    """The parameters whose gradients ``metric`` reads: all of them, but for a row-wise metric only those with more
    than one dimension, so that the 1-D gradients it would ignore are never computed (the same distance, and no
    bias-gradient reductions in the matching passes)."""
    METRICS.get(metric)  # an unknown metric is refused here already
    return [p for p in params if metric not in ROW_WISE_METRICS or p.ndim > 1]


def gradient_distance(syn: Sequence[Tensor], real: Sequence[Tensor], metric: str = "dc", weight: float = 1.0) -> Tensor:
    """Distance between two gradient lists (same parameters, same order) under ``metric``."""
    return METRICS.get(metric)(syn, real, weight)


def mean_embedding_distance(real_embed: Tensor, syn_embed: Tensor) -> Tensor:
    """DM's loss: ``sum_c ||mean(real_c) - mean(syn_c)||^2`` for ``[C, n, d]`` embeddings."""
    return ((real_embed.mean(1) - syn_embed.mean(1)) ** 2).sum()
