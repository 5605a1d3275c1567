"""The networks of the condensation papers, in one registry (`NETWORKS`, `get_network`, `list_networks`).

Definitions follow `methods.md` §2: the ConvNet family (the backbone of every method), ResNetAP-10,
ResNet-18 (instance- and batch-norm), AlexNet, VGG-11, LeNet and an MLP.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from condensed_datasets.core.errors import check_choice
from condensed_datasets.core.registry import Registry

NETWORKS: Registry[Callable[..., nn.Module]] = Registry("network")


def _norm2d(kind: str, channels: int, spatial: tuple[int, int]) -> nn.Module:
    factories = {
        "instance": lambda: nn.GroupNorm(channels, channels, affine=True),  # the papers' "instancenorm"
        "batch": lambda: nn.BatchNorm2d(channels),
        "layer": lambda: nn.LayerNorm([channels, *spatial]),
        "group": lambda: nn.GroupNorm(4, channels, affine=True),
        "none": nn.Identity,
    }
    check_choice("norm", kind, factories)
    return factories[kind]()


class _WidePaddedConv2d(nn.Conv2d):
    """A stride-1 Conv2d whose zero padding exceeds the kernel's half (the papers' gray 28 px -> 32 px first layer).

    Same parameters, same state-dict keys and the same output as ``nn.Conv2d``. Under CPU autocast (bf16) the excess
    padding is applied with ``F.pad`` first and the convolution keeps the kernel's "same" padding, because oneDNN's
    bf16 weight-gradient kernel falls off its fast path for wide padding. In fp32 the plain convolution is the
    faster one (the explicit pad's copy then costs more than it saves), so it stays. Figures:
    `benchmarks/first_conv_padding.py`, docs/performance.md ("Gray first layers pad explicitly under bf16").
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
            return super().forward(x)
        same = tuple(k // 2 for k in self.kernel_size)
        extra_h, extra_w = (p - s for p, s in zip(self.padding, same))
        return F.conv2d(F.pad(x, (extra_w, extra_w, extra_h, extra_h)), self.weight, self.bias, 1, same)


def _conv2d(cin: int, cout: int, kernel: int, padding: int) -> nn.Conv2d:
    """``nn.Conv2d(cin, cout, kernel, padding=padding)``, as `_WidePaddedConv2d` where the padding is wide."""
    factory = _WidePaddedConv2d if padding > kernel // 2 else nn.Conv2d
    return factory(cin, cout, kernel, padding=padding)


_ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "sigmoid": nn.Sigmoid,
                "leakyrelu": lambda: nn.LeakyReLU(0.01), "swish": nn.SiLU}
_POOLS = {"avg": lambda: nn.AvgPool2d(2, 2), "max": lambda: nn.MaxPool2d(2, 2), "none": nn.Identity}


class ConvNet(nn.Module):
    """The papers' ConvNet: ``depth`` x [conv3x3(width) -> norm -> act -> pool] -> linear.

    Args:
        channels: input channels. num_classes: output classes. image_size: (H, W) of the input.
        width: conv channels (128). depth: blocks (3 for 28/32 px, 4 for 64 px when ``None``).
        norm: instance | batch | layer | group | none. act: relu | sigmoid | leakyrelu | swish.
        pool: avg | max | none.
    """

    def __init__(self, channels: int, num_classes: int, image_size: tuple[int, int], width: int = 128,
                 depth: int | None = None, norm: str = "instance", act: str = "relu", pool: str = "avg") -> None:
        super().__init__()
        depth = depth or (4 if max(image_size) >= 64 else 3)
        layers: list[nn.Module] = []
        c, (h, w) = channels, image_size
        for d in range(depth):
            pad = 3 if channels == 1 and d == 0 else 1  # gray 28 px is treated as 32 px
            layers.append(_conv2d(c, width, 3, pad))
            h, w = h + 2 * pad - 2, w + 2 * pad - 2
            layers += [_norm2d(norm, width, (h, w)), _ACTIVATIONS[act]()]
            if pool != "none":
                layers.append(_POOLS[pool]())
                h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(f"input {image_size} is too small for a depth-{depth} ConvNet")
            c = width
        self.features = nn.Sequential(*layers)
        self.embed_dim = width * h * w
        self.classifier = nn.Linear(self.embed_dim, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        """The flattened feature-stack output (DM's embedding)."""
        return self.features(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))


class _BasicBlock(nn.Module):
    """ResNet basic block; ``avg_down`` downsamples by conv(stride 1) + AvgPool2d (the "AP" variants)."""

    def __init__(self, cin: int, cout: int, stride: int, norm: str, avg_down: bool) -> None:
        super().__init__()
        conv_stride = 1 if avg_down else stride
        self.conv1 = nn.Conv2d(cin, cout, 3, conv_stride, 1, bias=False)
        self.bn1 = _norm2d(norm, cout, (0, 0))
        self.pool = nn.AvgPool2d(2) if avg_down and stride > 1 else nn.Identity()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = _norm2d(norm, cout, (0, 0))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            down = [nn.Conv2d(cin, cout, 1, conv_stride, bias=False)]
            if avg_down and stride > 1:
                down.append(nn.AvgPool2d(2))
            self.shortcut = nn.Sequential(*down, _norm2d(norm, cout, (0, 0)))

    def forward(self, x: Tensor) -> Tensor:
        out = self.pool(F.relu(self.bn1(self.conv1(x))))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet (3x3 stem, no max-pool); ``blocks`` per stage over widths 64-512.

    ``avg_down`` gives the AP variant (IDC's ResNetAP). The head is global average pooling + linear.
    """

    def __init__(self, channels: int, num_classes: int, image_size: tuple[int, int], blocks: tuple[int, ...] = (2, 2, 2, 2),
                 norm: str = "instance", avg_down: bool = False, widths: tuple[int, ...] = (64, 128, 256, 512)) -> None:
        super().__init__()
        if min(image_size) < 2 ** (len(blocks) - 1):
            raise ValueError(f"input {image_size} is too small for this ResNet")
        self.stem = nn.Sequential(nn.Conv2d(channels, widths[0], 3, 1, 1, bias=False), _norm2d(norm, widths[0], (0, 0)), nn.ReLU(inplace=True))
        stages, cin = [], widths[0]
        for i, (n, cout) in enumerate(zip(blocks, widths)):
            for b in range(n):
                stages.append(_BasicBlock(cin, cout, 2 if (i > 0 and b == 0) else 1, norm, avg_down))
                cin = cout
        self.layers = nn.Sequential(*stages)
        self.embed_dim = cin
        self.classifier = nn.Linear(cin, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))


class _FlatHead(nn.Module):
    """Feature stack + linear classifier whose input size is found by a dry run."""

    def __init__(self, features: nn.Module, channels: int, image_size: tuple[int, int], num_classes: int, name: str) -> None:
        super().__init__()
        self.features = features
        try:
            with torch.no_grad():
                dim = features(torch.zeros(1, channels, *image_size)).flatten(1).shape[1]
        except (RuntimeError, ValueError) as err:
            raise ValueError(f"input {image_size} is too small for {name}") from err
        self.embed_dim = dim
        self.classifier = self._head(dim, num_classes)

    def _head(self, dim: int, num_classes: int) -> nn.Module:
        return nn.Linear(dim, num_classes)

    def embed(self, x: Tensor) -> Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.embed(x))


class AlexNet(_FlatHead):
    """The papers' small AlexNet (no norm): 5 convs, 3 max-pools, one linear layer."""

    def __init__(self, channels: int, num_classes: int, image_size: tuple[int, int]) -> None:
        features = nn.Sequential(
            _conv2d(channels, 128, 5, 4 if channels == 1 else 2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(128, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(192, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 192, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(192, 192, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        super().__init__(features, channels, image_size, num_classes, "alexnet")


class VGG11(_FlatHead):
    """VGG-11 with instance norm (GroupNorm(C, C)) or batch norm; classifier Linear(512 -> C)."""

    def __init__(self, channels: int, num_classes: int, image_size: tuple[int, int], norm: str = "instance") -> None:
        layers: list[nn.Module] = []
        cin = channels
        for i, v in enumerate((64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")):
            if v == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            layers += [_conv2d(cin, v, 3, 3 if channels == 1 and i == 0 else 1), _norm2d(norm, v, (0, 0)), nn.ReLU(inplace=True)]
            cin = v
        super().__init__(nn.Sequential(*layers), channels, image_size, num_classes, "vgg11")


class LeNet(_FlatHead):
    """LeNet-5: two 5x5 convs with max-pooling, then 120 -> 84 -> C."""

    def __init__(self, channels: int, num_classes: int, image_size: tuple[int, int]) -> None:
        features = nn.Sequential(
            _conv2d(channels, 6, 5, 2 if channels == 1 else 0), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        super().__init__(features, channels, image_size, num_classes, "lenet")

    def _head(self, dim: int, num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Linear(dim, 120), nn.ReLU(inplace=True), nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Linear(84, num_classes))


class MLP(_FlatHead):
    """Two hidden layers of 128 units over the flattened image."""

    def __init__(self, channels: int, num_classes: int, image_size: tuple[int, int]) -> None:
        super().__init__(nn.Identity(), channels, image_size, num_classes, "mlp")

    def _head(self, dim: int, num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Linear(dim, 128), nn.ReLU(inplace=True), nn.Linear(128, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes))


def _reg(name: str, factory: Callable[..., nn.Module]) -> None:
    NETWORKS.register(name, factory)


_reg("convnet", ConvNet)
for _norm, _suffix in (("batch", "bn"), ("layer", "ln"), ("group", "gn"), ("none", "nn")):
    _reg(f"convnet-{_suffix}", lambda c, n, s, _norm=_norm: ConvNet(c, n, s, norm=_norm))
for _depth in (1, 2, 3, 4):
    _reg(f"convnet-d{_depth}", lambda c, n, s, _depth=_depth: ConvNet(c, n, s, depth=_depth))
for _width in (32, 64, 256):
    _reg(f"convnet-w{_width}", lambda c, n, s, _width=_width: ConvNet(c, n, s, width=_width))
_reg("convnet-maxpool", lambda c, n, s: ConvNet(c, n, s, pool="max"))
_reg("resnetap10", lambda c, n, s: ResNet(c, n, s, blocks=(1, 1, 1, 1), avg_down=True))
_reg("resnet18", lambda c, n, s: ResNet(c, n, s, norm="instance"))
_reg("resnet18-bn", lambda c, n, s: ResNet(c, n, s, norm="batch"))
_reg("alexnet", AlexNet)
_reg("vgg11", VGG11)
_reg("vgg11-bn", lambda c, n, s: VGG11(c, n, s, norm="batch"))
_reg("lenet", LeNet)
_reg("mlp", MLP)


def get_network(name: str, channels: int, num_classes: int, image_size: tuple[int, int]) -> nn.Module:
    """A freshly initialised network from the registry (PyTorch default init, as the papers)."""
    return NETWORKS.get(name)(channels, num_classes, tuple(image_size))


def list_networks() -> list[str]:
    """Names of the registered networks."""
    return NETWORKS.names()


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` keeps running statistics (those cannot be trained under ``vmap``)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
