"""The torchvision-style loader over sets that `condensed build` wrote, and over the Hub (fake, on 127.0.0.1)."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from conftest import CIFAR_CLASSES, TEST_DEVICE
from huggingface_hub import CommitOperationAdd, HfApi
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from condensed_datasets import (
    CondensedCIFAR10,
    CondensedDataset,
    CondensedDigits,
    list_sets,
    load_condensed,
)
from condensed_datasets.cli.main import main
from condensed_datasets.condense.settings import RunSettings
from condensed_datasets.core.condensed_set import CondensedSet
from condensed_datasets.core.decoders import multi_formation_spec
from condensed_datasets.core.errors import CondensedFormatError, UnknownNameError
from condensed_datasets.core.files import sha256_file
from condensed_datasets.hub.download import download_set
from condensed_datasets.hub.pins import PublishedSet, record_set


def _build(data_root, out, method="random", ipc=10, dataset="cifar10") -> str:
    result = CliRunner().invoke(main, ["build", dataset, "--method", method, "--ipc", str(ipc), "--out", str(out),
                                       "--data-root", str(data_root), "--quiet", "--device", TEST_DEVICE.split(":")[0]],
                                 catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _idc_like_set(path, ipc: int = 10) -> CondensedSet:
    torch.manual_seed(0)
    meta = {"dataset": "cifar10", "classes": CIFAR_CLASSES, "mean": [0.4914, 0.4822, 0.4465], "std": [0.2023, 0.1994, 0.2010],
            "method": "random", "ipc": ipc}
    cset = CondensedSet(torch.randn(10 * ipc, 3, 32, 32), torch.arange(10).repeat_interleave(ipc), meta,
                        multi_formation_spec(2, meta["mean"], meta["std"]))
    cset.save(path)
    return cset


def test_a_built_set_in_a_dataloader_with_v2_transforms(cifar_root, tmp_path, fake_hub):
    _build(cifar_root, tmp_path / "sets")
    ds = CondensedCIFAR10(root=tmp_path / "sets", method="random", ipc=10, download=False,
                          transform=v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()]))
    assert len(ds) == 100 and ds.classes == CIFAR_CLASSES and ds.class_to_idx["truck"] == 9
    assert ds.targets == [c for c in range(10) for _ in range(10)]
    image, label = ds[0]
    assert isinstance(label, int) and image.shape == (3, 32, 32) and image.dtype == torch.float32
    seen = 0
    for images, labels in DataLoader(ds, batch_size=32, shuffle=True):
        assert images.shape[1:] == (3, 32, 32) and labels.dtype == torch.int64
        seen += len(labels)
    assert seen == 100
    assert fake_hub.hub.requests == []  # a local build needs no network
    text = repr(ds)
    assert "Method: random" in text and "IPC (stored): 10" in text and "Number of datapoints: 100" in text


def test_multi_formation_sets_decode_at_load(tmp_path):
    path = tmp_path / "cifar10" / "random" / "ipc10" / "condensed.safetensors"
    cset = _idc_like_set(path)
    ds = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False)
    assert len(ds) == 400 and len(ds.targets) == 400
    assert torch.equal(ds.images, cset.decode()[0])
    assert "multi_formation (factor=2)" in repr(ds) and "Samples per class: 40" in repr(ds)
    pixels = ds.denormalize()
    assert float(pixels.min()) >= 0 and float(pixels.max()) <= 1


def test_not_found_without_download_says_use_download(tmp_path):
    with pytest.raises(RuntimeError, match="You can use download=True"):
        CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False)


def test_bad_arguments_are_clear(tmp_path):
    with pytest.raises(UnknownNameError, match="random, herding"):
        CondensedCIFAR10(root=tmp_path, method="magic", ipc=10)
    with pytest.raises(ValueError, match="positive int"):
        CondensedCIFAR10(root=tmp_path, method="random", ipc=0)
    with pytest.raises(ValueError, match="invalid dataset"):
        CondensedDataset(tmp_path, dataset="../etc", method="random", ipc=1)


def _publish(fake_hub, repo_id: str, files: dict[str, str]) -> str:
    api = HfApi(endpoint=fake_hub.endpoint, token="hf_test_token")
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(local)) for p, local in files.items()]
    return api.create_commit(repo_id, ops, commit_message="add sets", repo_type="dataset").oid


def _publish_and_register(fake_hub, tmp_path, repo_id="org/condensed-cifar10"):
    local = tmp_path / "build" / "condensed.safetensors"
    cset = _idc_like_set(local)
    sha = _publish(fake_hub, repo_id, {"random/ipc10/condensed.safetensors": local})
    record_set(PublishedSet("cifar10", "random", 10, repo_id, sha, sha256_file(local)), tmp_path / "registry.json")
    return cset, sha


def test_download_into_root_then_reload_without_requests(fake_hub, tmp_path):
    cset, commit = _publish_and_register(fake_hub, tmp_path)
    assert list_sets() == ["cifar10/random/ipc10"]
    ds = CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    assert torch.equal(ds.condensed.images, cset.images) and len(ds) == 400
    assert (tmp_path / "root" / "cifar10" / "random" / "ipc10" / "condensed.safetensors").is_file()
    fake_hub.hub.requests.clear()
    again = CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    assert torch.equal(again.images, ds.images)
    assert fake_hub.hub.requests == []  # pinned commit + verified local copy: no HTTP at all


def test_cache_mode_then_offline(fake_hub, tmp_path, monkeypatch):
    cset, _ = _publish_and_register(fake_hub, tmp_path)
    ds = CondensedCIFAR10(method="random", ipc=10)  # root=None: the Hugging Face cache
    assert "datasets--org--condensed-cifar10" in str(ds.path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    fake_hub.hub.requests.clear()
    offline = load_condensed("cifar10/random/ipc10")
    assert torch.equal(offline.condensed.images, cset.images) and fake_hub.hub.requests == []
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE is set, and no copy of org/condensed-cifar10@0+:"):
        CondensedCIFAR10(method="random", ipc=10, revision="0" * 40)


def test_corrupted_download_is_fetched_again_once(fake_hub, tmp_path):
    cset, _ = _publish_and_register(fake_hub, tmp_path)
    ds = CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    data = bytearray(ds.path.read_bytes())
    data[-10] ^= 0xFF
    ds.path.write_bytes(bytes(data))
    healed = CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    assert torch.equal(healed.condensed.images, cset.images)
    # the Hub itself now disagrees with the pin: two downloads, then a clear error
    record_set(PublishedSet("cifar10", "random", 10, "org/condensed-cifar10", healed.revision or "main", "f" * 64),
               tmp_path / "registry.json")
    with pytest.raises(CondensedFormatError, match="downloaded twice"):
        CondensedCIFAR10(root=tmp_path / "root2", method="random", ipc=10)


def test_hub_errors_are_friendly(fake_hub, tmp_path):
    _publish_and_register(fake_hub, tmp_path)
    with pytest.raises(FileNotFoundError, match="no dataset repo other/nothing"):
        CondensedCIFAR10(root=tmp_path / "r", method="random", ipc=10, repo_id="other/nothing")
    with pytest.raises(FileNotFoundError, match="no revision 'v9'"):
        CondensedCIFAR10(root=tmp_path / "r", method="random", ipc=10, revision="v9")
    with pytest.raises(FileNotFoundError, match="no set herding/ipc10"):
        CondensedCIFAR10(root=tmp_path / "r", method="herding", ipc=10, repo_id="org/condensed-cifar10")
    with pytest.raises(FileNotFoundError, match="condensed-datasets/condensed-cifar10"):  # no pin: the default org
        CondensedCIFAR10(root=tmp_path / "r", method="herding", ipc=10)


def test_path_traversal_is_refused(fake_hub):
    with pytest.raises(ValueError, match="invalid method"):
        download_set("cifar10", "../../etc", 1)
    with pytest.raises(ValueError, match="invalid repo id"):
        download_set("cifar10", "random", 1, repo_id="../evil")
    with pytest.raises(ValueError, match="invalid repo id"):
        download_set("cifar10", "random", 1, repo_id="org/../../x")
    assert fake_hub.hub.requests == []


def test_load_condensed_by_path_and_to_hf_dataset(digits, tmp_path):
    from condensed_datasets.pipeline.build import build

    path = build("digits", "random", 4, out=tmp_path, settings=RunSettings(device=TEST_DEVICE), source=digits, progress=False)
    ds = load_condensed(path)
    assert isinstance(ds, CondensedDataset) and len(ds) == 40 and ds.metadata["method"] == "random"
    by_spec = load_condensed("digits/random/ipc4", root=tmp_path, download=False)
    assert isinstance(by_spec, CondensedDigits) and torch.equal(by_spec.images, ds.images)
    hf = ds.to_hf_dataset()
    assert len(hf) == 40 and hf.features["label"].names == [str(i) for i in range(10)]
    assert hf[0]["image"].size == (8, 8) and hf[5]["label"] == ds.targets[5]
