"""bfloat16 where a pass's numbers are targets or scores, not what is learned; float32 everywhere else.

DM's and IDM's embeddings of real batches are computed without a graph and never differentiated.
``real_precision`` (`PRECISIONS`: ``auto``, bf16 on a CPU with AVX512-BF16 and float32 elsewhere, the
GPU path not being measured; ``bf16``; ``fp32``, the reference behaviour) runs them on a copy of the
network cast to bf16 (`real_pass_network`, `embed_real`; on a CPU without AVX512-BF16 its convolutions sum
in float32, `Float32Summed`, so a checkpoint begun in bf16 resumes there at float32 speed), while every pass
that carries gradients to the synthetic images stays float32. Evaluation (`evaluate.train_and_test`'s ``precision``, same
choices) trains its networks' forwards under bf16 autocast, float32 weights and loss, and tests them on
bf16 copies (`real_pass_network` again).

Measured and left out: gradient matching's real gradients in bf16 (faster under autocast, but too far
off the float32 gradient in relative norm for a matching target; figures in docs/performance.md,
``--real-precision``). `compute_in` is also what ``RunOptions.train_precision`` uses for a recipe's
network training (IDC's network update and IDM's queue models' steps on real batches; the inner loop of DC, DSA
and DCMG).
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from condensed_datasets.core.errors import check_choice

PRECISIONS = ("auto", "bf16", "fp32")

log = logging.getLogger(__name__)


def check_precision(choice: str) -> None:
    """``choice`` must be one of `PRECISIONS`."""
    check_choice("precision", choice, PRECISIONS)


def cpu_has_native_bf16() -> bool:
    """True when this CPU executes bfloat16 dot products natively (AVX512-BF16)."""
    return bool(torch.cpu._is_avx512_bf16_supported())


def bf16_is_native(device: torch.device) -> bool:
    """True when ``device`` runs bfloat16 kernels at speed: an accelerator, or a CPU with AVX512-BF16."""
    return device.type != "cpu" or cpu_has_native_bf16()


def resolve_precision(choice: str, device: torch.device) -> torch.dtype:
    """The dtype ``choice`` means on ``device``."""
    check_precision(choice)
    if choice == "auto":
        return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else torch.float32
    return torch.bfloat16 if choice == "bf16" else torch.float32


def warn_if_slow_training(dtype: torch.dtype, device: torch.device, option: str) -> None:
    """One line on stderr when networks are to be trained in bf16 on a CPU without AVX512-BF16 (``option`` named
    it, or a resumed checkpoint recorded it): autocast then runs PyTorch's reference bf16 kernels, which
    `Float32Summed` cannot stand in for in a graph that is differentiated."""
    if dtype == torch.bfloat16 and not bf16_is_native(device):
        log.warning(f"{option} bf16 on a CPU without AVX512-BF16: PyTorch's bf16 kernels here are tens of times "
                    f"slower than fp32 ({option} fp32 avoids them; a build resumed with bf16 recorded belongs on a "
                    "CPU with AVX512-BF16)")


def compute_in(dtype: torch.dtype, device: torch.device) -> torch.autocast:
    """Autocast to ``dtype`` (a no-op for float32), entered around each forward of a training step.

    Never around a loop: autocast caches its casts of leaf weights until the outermost autocast context
    exits, so one context around many optimiser steps would keep computing with the first step's weights
    (the networks then never learn). ``cache_enabled=False`` rules that out even when a caller's context
    is open around ours.
    """
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32, cache_enabled=False)


class DepthwiseAvgPool(nn.Module):
    """2x2 / stride 2 average pooling as a depthwise convolution with weights 1/4: the same function, and on
    CPU in bfloat16 faster than ``avg_pool2d``'s NCHW kernel (figures in docs/performance.md,
    ``--real-precision``)."""

    def forward(self, x: Tensor) -> Tensor:
        weight = x.new_full((x.shape[1], 1, 2, 2), 0.25)
        return F.conv2d(x, weight, stride=2, groups=x.shape[1])


class Float32Summed(nn.Module):
    """A bf16 copy's convolution, linear layer or 2x2 average pool (as `DepthwiseAvgPool`) computed in float32 on
    its bf16 values: the products of two bf16 numbers are exact in float32 and the sums are float32, as in the
    AVX512-BF16 and AMX kernels; the output is rounded to bf16 again. So a CPU without those instructions computes
    the same arithmetic (up to the order of the sums, which differs between machines anyway) at float32 speed, where
    PyTorch's own bf16 kernels are reference loops (`benchmarks/real_embedding_speed.py`)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.inner = module

    def forward(self, x: Tensor) -> Tensor:
        widened = {name: t.float() for name, t in self.inner.named_parameters()}
        return torch.func.functional_call(self.inner, widened, (x.float(),)).to(x.dtype)


def _is_2x2_avg_pool(m: nn.Module) -> bool:
    return (isinstance(m, nn.AvgPool2d) and m.kernel_size in (2, (2, 2)) and m.stride in (2, (2, 2))
            and m.padding in (0, (0, 0)) and not m.ceil_mode)


def _is_zero_padded_conv(m: nn.Module) -> bool:
    return isinstance(m, nn.Conv2d) and m.padding_mode == "zeros"


# The modules of a bf16 copy that run faster in another form, per kind of CPU (True: native bf16).
_FASTER_FORMS = {
    True: ((_is_2x2_avg_pool, lambda m: DepthwiseAvgPool()),),
    False: ((_is_zero_padded_conv, Float32Summed), (_is_2x2_avg_pool, lambda m: Float32Summed(DepthwiseAvgPool())),
            (lambda m: isinstance(m, nn.Linear), Float32Summed)),
}


def real_pass_network(net: nn.Module, dtype: torch.dtype, native_bf16: bool | None = None) -> nn.Module:
    """``net`` itself for float32, else a copy of it cast to ``dtype`` (same weights, rounded) in its faster
    form: with native bf16 (a GPU, or a CPU with AVX512-BF16: ``native_bf16`` None asks the hardware) its 2x2
    average pools are `DepthwiseAvgPool`, without it those, its convolutions and its linear layers are
    `Float32Summed`."""
    if dtype == torch.float32:
        return net
    fast = copy.deepcopy(net).to(dtype)
    if native_bf16 is None:
        first = next(net.parameters(), None)
        native_bf16 = bf16_is_native(first.device if first is not None else torch.device("cpu"))
    forms = _FASTER_FORMS[native_bf16]
    for parent in list(fast.modules()):
        for name, child in parent.named_children():
            replacement = next((make for matches, make in forms if matches(child)), None)
            if replacement is not None:
                setattr(parent, name, replacement(child))
    return fast


# On CPU, activations above glibc's largest mmap threshold (32 MiB) were fresh mappings, zero-filled
# page by page on every pass (see `allocator`); chunks of 64 images at 32x32 px (x 128 channels) stay
# below it and in cache. GPUs want large batches: 1024 images at 32x32 px.
CHUNK_PIXELS = {"cpu": 64 * 32 * 32}
DEFAULT_CHUNK_PIXELS = 1024 * 32 * 32


def chunk_size(images: Tensor) -> int:
    """Images per chunk for passes over ``images`` ``[n, C, H, W]`` on their device."""
    pixels = CHUNK_PIXELS.get(images.device.type, DEFAULT_CHUNK_PIXELS)
    return max(1, pixels // (images.shape[-1] * images.shape[-2]))


@torch.no_grad()
def embed_real(net: nn.Module, images: Tensor) -> Tensor:
    """``net.embed(images)`` in ``net``'s dtype, in chunks, returned as float32 and without a graph."""
    dtype = next(net.parameters()).dtype
    step = chunk_size(images)
    return torch.cat([net.embed(images[s:s + step].to(dtype)).float() for s in range(0, len(images), step)])


def precision_name(dtype: torch.dtype) -> str:
    """``bfloat16`` / ``float32``: how a set's metadata records the real-pass dtype."""
    return str(dtype).removeprefix("torch.")


def resolve_train_precision(choice: str, device: torch.device) -> tuple[torch.dtype, dict[str, str]]:
    """The dtype of a recipe's network training (``RunOptions.train_precision``) and how it is recorded.

    The record goes into the checkpoint's identity and the set's metadata; it is empty for the reference
    float32, so that checkpoints and sets written before the option existed stay resumable and unchanged.
    """
    dtype = resolve_precision(choice, device)
    warn_if_slow_training(dtype, device, "--train-precision")
    return dtype, {} if dtype == torch.float32 else {"train_precision": precision_name(dtype)}
