"""Every registered network gives [batch, classes] logits (and an embedding) for the papers' input sizes."""

from __future__ import annotations

import pytest
import torch
from conftest import TEST_DEVICE as DEVICE

from condensed_datasets.core.errors import UnknownNameError
from condensed_datasets.training.nets import NETWORKS, get_network, list_networks

SIZES = [(1, 28), (3, 32), (3, 64)]


@pytest.mark.parametrize("name", list_networks())
@pytest.mark.parametrize("channels,size", SIZES)
def test_network_output_shapes(name, channels, size):
    torch.manual_seed(0)
    net = get_network(name, channels, 7, (size, size)).to(DEVICE)
    x = torch.randn(2, channels, size, size, device=DEVICE)
    assert net(x).shape == (2, 7)
    assert net.embed(x).shape == (2, net.embed_dim)


def test_convnet_feature_sizes_match_the_papers():
    assert get_network("convnet", 3, 10, (32, 32)).embed_dim == 2048
    assert get_network("convnet", 1, 10, (28, 28)).embed_dim == 2048  # gray 28 px padded like 32 px
    assert get_network("convnet", 3, 10, (64, 64)).embed_dim == 2048  # depth 4 at 64 px
    assert get_network("convnet-d4", 3, 10, (32, 32)).embed_dim == 512
    net = get_network("convnet", 3, 10, (32, 32))
    assert isinstance(net.features[1], torch.nn.GroupNorm) and net.features[1].num_groups == 128  # instance norm


def test_too_small_inputs_are_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        get_network("lenet", 1, 10, (8, 8))
    with pytest.raises(ValueError, match="too small"):
        get_network("convnet-d4", 1, 10, (8, 8))


def test_unknown_network_lists_choices():
    with pytest.raises(UnknownNameError) as err:
        get_network("resnet50", 3, 10, (32, 32))
    assert "convnet" in str(err.value) and "resnet18-bn" in str(err.value)
    assert len(NETWORKS.names()) == len(set(NETWORKS.names()))


@pytest.mark.parametrize("name", ["convnet", "alexnet", "vgg11"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_wide_padded_first_layers_compute_the_plain_convolution(name, dtype):
    """The gray first layers pad explicitly under CPU autocast: same keys, same output and weight gradient."""
    torch.manual_seed(0)
    net = get_network(name, 1, 10, (28, 28))
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    plain = torch.nn.Conv2d(first.in_channels, first.out_channels, first.kernel_size, padding=first.padding)
    plain.load_state_dict(first.state_dict())
    assert first.padding[0] > first.kernel_size[0] // 2
    x = torch.randn(4, 1, 28, 28)
    outputs, grads = [], []
    for conv in (first, plain):
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            out = conv(x)
        out.float().square().sum().backward()
        outputs.append(out.float())
        grads.append(conv.weight.grad)
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(outputs[0], outputs[1], atol=tol, rtol=tol)
    assert ((grads[0] - grads[1]).norm() / grads[1].norm()).item() < tol
