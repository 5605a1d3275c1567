"""Every registered network gives [batch, classes] logits (and an embedding) for the papers' input sizes."""

from __future__ import annotations

import pytest
import torch

from condensed_datasets.nets import NETWORKS, get_network, list_networks
from condensed_datasets.registry import UnknownNameError

from conftest import TEST_DEVICE as DEVICE

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
