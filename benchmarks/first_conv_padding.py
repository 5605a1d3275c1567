"""The gray 28 px ConvNet's first convolution (padding 3): plain ``nn.Conv2d`` versus `nets._WidePaddedConv2d`.

    python benchmarks/first_conv_padding.py [--batch 100] [--steps 10] [--repeats 5] [--precisions bf16,fp32]

Times one compiled training step (forward under autocast, cross-entropy, backward, SGD step) of the MNIST ConvNet
on random images, with the first layer as the plain convolution and as the package's wide-padded one (the same
parameters, copied), interleaved (plain, wide-padded, plain, ...), and prints the median milliseconds per step and
the ratio plain / wide-padded per precision. Both networks compute the same function; the wide-padded one pads
explicitly under CPU autocast only, so its fp32 row measures that it falls back to the plain convolution.
"""

from __future__ import annotations

import argparse
import time

import torch
from _data import median
from torch import nn
from torch.nn import functional as F

from condensed_datasets.training.nets import get_network
from condensed_datasets.training.precision import compute_in, resolve_precision


def _networks() -> dict[str, nn.Module]:
    wide = get_network("convnet", 1, 10, (28, 28))
    plain = get_network("convnet", 1, 10, (28, 28))
    first = wide.features[0]
    plain.features[0] = nn.Conv2d(1, first.out_channels, first.kernel_size, padding=first.padding)
    plain.load_state_dict(wide.state_dict())
    return {"plain": plain, "wide-padded": wide}


def _step_ms(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, dtype: torch.dtype, steps: int) -> float:
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    compiled = torch.compile(net, dynamic=False)

    def step() -> None:
        with compute_in(dtype, images.device):
            logits = compiled(images).float()
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # compilation
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precisions", default="bf16,fp32")
    args = parser.parse_args()
    torch.manual_seed(0)
    images = torch.randn(args.batch, 1, 28, 28)
    labels = torch.arange(args.batch) % 10
    networks = _networks()
    print(f"compiled MNIST ConvNet training step, batch {args.batch}, median of {args.repeats} interleaved runs "
          f"of {args.steps} steps, {torch.get_num_threads()} threads")
    print("| precision | plain ms | wide-padded ms | plain / wide-padded |\n|---|---|---|---|")
    for name in args.precisions.split(","):
        times: dict[str, list[float]] = {variant: [] for variant in networks}
        for _ in range(args.repeats):
            for variant, net in networks.items():
                times[variant].append(_step_ms(net, images, labels, resolve_precision(name, images.device), args.steps))
        plain, wide = median(times["plain"]), median(times["wide-padded"])
        print(f"| {name} | {plain:.1f} | {wide:.1f} | {plain / wide:.2f}x |")


if __name__ == "__main__":
    main()
