"""One class's gradient-matching pass, eager or compiled: the distance between a network's gradients on a
real batch and on a synthetic batch of the same class, differentiable with respect to the synthetic batch.

Gradient matching (DC, DSA, IDC) spends most of its time here: a gradient on the real batch, a gradient on
the synthetic batch kept with its graph, and the double backward that carries the distance to the images.
The eager pass (`class_distance` with ``compiled=False``) is the reference's autograd code. The compiled
pass computes the same function with ``torch.func`` (the two gradients and the distance's gradient with
respect to the synthetic batch, a function of plain tensors) traced whole by ``torch.compile``: Inductor
then fuses the instance norm, ReLU and pooling of all three passes, double backward included, around
oneDNN's convolutions, which an autograd graph cannot give (a compiled module's backward cannot itself be
differentiated). The returned distance is tied to the synthetic batch by `_PrecomputedGradient`, so callers
sum and ``backward()`` it exactly like the eager one (first order only: nothing differentiates it twice).

The compiled pass is faster per class; its image gradient differs from the eager one only by float32
summation order in the fused kernels (tests bound it at 1e-3 in relative norm). It compiles once per
process and batch shape (tens of seconds); one compiled graph serves every fresh network of the
architecture (their parameters are inputs). Figures: docs/performance.md (``--match-compile``) and
`benchmarks/precision_fidelity.py`.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, grad_and_value
from torch.nn import functional as F

from condensed_datasets.condense.distances import gradient_distance
from condensed_datasets.training.nets import get_network, has_batchnorm


def class_gradients(net: nn.Module, params: Sequence[Tensor], x: Tensor, label: int, create_graph: bool) -> list[Tensor]:
    """Gradients of the cross-entropy of ``net`` on a batch of class ``label``."""
    target = torch.full((len(x),), label, dtype=torch.long, device=x.device)
    grads = torch.autograd.grad(F.cross_entropy(net(x), target), params, create_graph=create_graph)
    return list(grads) if create_graph else [g.detach() for g in grads]


def can_compile_matching(arch: str, channels: int, num_classes: int, image_size: tuple[int, int]) -> bool:
    """Whether the compiled pass computes what the eager one does for the network ``arch``: not with batch norm,
    whose running statistics (frozen or updated) are module state that the functional pass does not carry.
    (The probe is built on the meta device: no memory, no draw from the seeded generator.)"""
    with torch.device("meta"):
        return not has_batchnorm(get_network(arch, channels, num_classes, image_size))


class _PrecomputedGradient(torch.autograd.Function):
    """``distance`` as a function of ``syn`` whose gradient was computed already (``syn_grad``)."""

    @staticmethod
    def forward(ctx, syn: Tensor, distance: Tensor, syn_grad: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(syn_grad)
        return distance.clone()

    @staticmethod
    def backward(ctx, grad_output: Tensor):  # type: ignore[override]
        (syn_grad,) = ctx.saved_tensors
        return grad_output * syn_grad, None, None


def _functional_distance(net: nn.Module, matched: dict[str, Tensor], others: dict[str, Tensor], real: Tensor,
                         syn: Tensor, target: Tensor, metric: str, weight: float) -> tuple[Tensor, Tensor]:
    """(gradient of the distance with respect to ``syn``, the distance): the eager pass as one pure function."""

    def cross_entropy(params: dict[str, Tensor], x: Tensor) -> Tensor:
        return F.cross_entropy(functional_call(net, {**others, **params}, (x,)), target[:len(x)])

    g_real = grad(cross_entropy)(matched, real)

    def distance(s: Tensor) -> Tensor:
        g_syn = grad(cross_entropy)(matched, s)
        return gradient_distance([g_syn[k] for k in matched], [g_real[k] for k in matched], metric, weight)

    return grad_and_value(distance)(syn)


# Dynamo's automatic dynamic shapes: the published runs keep one real and one synthetic batch size (one static
# graph); where classes are smaller than the real batch (digits), the second size met makes the batch dimension
# symbolic instead of compiling a graph per class. Wrapped on first use: ``torch.compile`` imports Dynamo and
# Inductor (seconds), which a process that never compiles (loading, status, an eager build) should not pay.
@functools.cache
def _compiled_distance() -> Callable[..., tuple[Tensor, Tensor]]:
    return torch.compile(_functional_distance)


def class_distance(net: nn.Module, params: Sequence[Tensor], real: Tensor, syn: Tensor, label: int, metric: str,
                   weight: float = 1.0, compiled: bool = False) -> Tensor:
    """``gradient_distance`` between ``net``'s cross-entropy gradients (with respect to ``params``) on ``syn`` and on
    ``real``, both of class ``label``; differentiable with respect to ``syn`` (and whatever ``syn`` came from).

    ``compiled``: through `_compiled_distance` (see the module doc; ``net`` must pass `can_compile_matching`)."""
    if not compiled:
        g_real = class_gradients(net, params, real, label, create_graph=False)
        g_syn = class_gradients(net, params, syn, label, create_graph=True)
        return gradient_distance(g_syn, g_real, metric, weight)
    wanted = {id(p) for p in params}
    named = dict(net.named_parameters())
    matched = {name: p.detach() for name, p in named.items() if id(p) in wanted}
    others = {name: p.detach() for name, p in named.items() if id(p) not in wanted}
    others.update(dict(net.named_buffers()))
    target = torch.full((max(len(real), len(syn)),), label, dtype=torch.long, device=syn.device)
    syn_grad, distance = _compiled_distance()(net, matched, others, real.detach(), syn.detach(), target, metric, weight)
    return _PrecomputedGradient.apply(syn, distance, syn_grad)
