"""Seconds for one class's real batch through DM's embedding (256 images, ConvNet-3): float32, bf16 on PyTorch's own
kernels (the copy's form on a CPU with AVX512-BF16) and bf16 with float32-summed convolutions (its form without).

    python benchmarks/real_embedding_speed.py [--datasets mnist,cifar10] [--images 256] [--repeats 5] [--threads 1]

The three forms run interleaved on the same random network and images; the table gives the median of ``--repeats``
runs after one warm-up each, the ratio against float32, and each bf16 form's distance from the float32 embedding and
from the other (relative norm). On a CPU without AVX512-BF16 the native form runs PyTorch's reference bf16 kernels,
which is why a bf16 checkpoint resumed there takes the float32-summed form (`precision.Float32Summed`).
"""

from __future__ import annotations

import argparse
import time

import torch
from _data import median

from condensed_datasets.condense.checkpoint import describe_device
from condensed_datasets.training.allocator import keep_freed_memory
from condensed_datasets.training.nets import get_network
from condensed_datasets.training.precision import embed_real, real_pass_network

SHAPES = {"mnist": (1, (28, 28)), "cifar10": (3, (32, 32))}


def _distance(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="mnist,cifar10")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as builds run
    print(f"{describe_device(torch.device('cpu'))}, {args.images} images, median of {args.repeats}\n")
    print("| dataset | float32 s | bf16 native s | bf16 float32-summed s | native / float32 | summed / float32 "
          "| native vs float32 | summed vs float32 | summed vs native |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        channels, size = SHAPES[name]
        torch.manual_seed(0)
        net = get_network("convnet", channels, 10, size)
        images = torch.randn(args.images, channels, *size)
        forms = {"fp32": net, "native": real_pass_network(net, torch.bfloat16, native_bf16=True),
                 "summed": real_pass_network(net, torch.bfloat16, native_bf16=False)}
        seconds: dict[str, list[float]] = {k: [] for k in forms}
        outputs = {k: embed_real(f, images) for k, f in forms.items()}  # warm-up, and the embeddings compared
        for _ in range(args.repeats):
            for key, form in forms.items():
                start = time.perf_counter()
                embed_real(form, images)
                seconds[key].append(time.perf_counter() - start)
        fp32, native, summed = (median(seconds[k]) for k in ("fp32", "native", "summed"))
        print(f"| {name} | {fp32:.3f} | {native:.3f} | {summed:.3f} | {native / fp32:.2f}x | {summed / fp32:.2f}x "
              f"| {_distance(outputs['native'], outputs['fp32']):.4f} | {_distance(outputs['summed'], outputs['fp32']):.4f} "
              f"| {_distance(outputs['summed'], outputs['native']):.4f} |")


if __name__ == "__main__":
    main()
