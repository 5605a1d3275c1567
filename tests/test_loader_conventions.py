"""The loader in the cases a torchvision user meets: downloaded sets offline, corrupt files, no network,
pixel-space transforms, soft labels, licence metadata, and a loader that imports no build or recipe code."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
import torch
import yaml
from huggingface_hub import DatasetCard
from test_loader import _idc_like_set, _publish
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from condensed_datasets import CondensedCIFAR10, CondensedDataset, load_condensed
from condensed_datasets.core.condensed_set import CondensedSet, denormalize
from condensed_datasets.core.errors import CondensedFormatError
from condensed_datasets.core.files import sha256_file
from condensed_datasets.core.layout import set_path
from condensed_datasets.core.methods import METHOD_NAMES
from condensed_datasets.hub.pins import PublishedSet, record_set
from condensed_datasets.pipeline.cards import render_card
from condensed_datasets.training.sources import SOURCES

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def _published(fake_hub, tmp_path, pin: bool) -> CondensedSet:
    local = tmp_path / "build" / "condensed.safetensors"
    cset = _idc_like_set(local)
    commit = _publish(fake_hub, "org/condensed-cifar10", {"random/ipc10/condensed.safetensors": local})
    if pin:
        record_set(PublishedSet("cifar10", "random", 10, "org/condensed-cifar10", commit, sha256_file(local)),
                   tmp_path / "registry.json")
    return cset


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# 1. a set downloaded once loads with download=False, offline, with zero requests ---------------------------
@pytest.mark.parametrize("pin", [True, False], ids=["pinned", "unpinned"])
def test_downloaded_set_loads_with_download_false_without_requests(fake_hub, tmp_path, monkeypatch, pin):
    monkeypatch.setenv("CONDENSED_HUB_ORG", "org")
    cset = _published(fake_hub, tmp_path, pin)
    CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    fake_hub.hub.requests.clear()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # and the Hub is gone
    ds = CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10, download=False)
    assert torch.equal(ds.condensed.images, cset.images) and len(ds) == 400
    assert fake_hub.hub.requests == []
    repo = fake_hub.hub.repos[("dataset", "org/condensed-cifar10")]
    assert ds.commit == repo.branches["main"] and f"Hub commit: {ds.commit}" in repr(ds)


def test_cache_copy_loads_with_download_false(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSED_HUB_ORG", "org")
    cset = _published(fake_hub, tmp_path, pin=False)
    CondensedCIFAR10(method="random", ipc=10)  # root=None: the Hugging Face cache
    fake_hub.hub.requests.clear()
    ds = CondensedCIFAR10(method="random", ipc=10, download=False)
    assert torch.equal(ds.condensed.images, cset.images) and fake_hub.hub.requests == []
    assert ds.commit == fake_hub.hub.repos[("dataset", "org/condensed-cifar10")].branches["main"]
    with pytest.raises(RuntimeError, match="not found in the Hugging Face cache. You can use download=True"):
        CondensedCIFAR10(method="herding", ipc=10, download=False)
    assert fake_hub.hub.requests == []


def test_downloaded_copy_that_was_tampered_with_is_refused_offline(fake_hub, tmp_path):
    _published(fake_hub, tmp_path, pin=True)
    ds = CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    data = bytearray(ds.path.read_bytes())
    data[-3] ^= 0x01
    ds.path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="sha256 differs from the pinned"):
        CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10, download=False)


# 2. a corrupted set raises a RuntimeError (torchvision's contract) that is still a ValueError -----------------
def test_corrupted_set_is_a_runtime_error_and_a_value_error(tmp_path):
    path = set_path(tmp_path, "cifar10", "random", 10)
    _idc_like_set(path)
    path.write_bytes(path.read_bytes()[:-100])
    for caught in (RuntimeError, ValueError, CondensedFormatError):
        with pytest.raises(caught, match="truncated or corrupted"):
            CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False)


# 3. offline: one fast failure that names the repo, the revision and the way out, and leaves nothing --------------
def _assert_offline_message(err: str, revision: str) -> None:
    assert "org/condensed-cifar10@" + revision in err and "condensed build cifar10 --method random --ipc 10" in err
    assert "HF_HUB_OFFLINE=1" in err and "download=False" in err


def test_connection_refused_fails_with_one_message_and_leaves_nothing(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSED_HUB_ORG", "org")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError, match="cannot be reached") as err:
        CondensedCIFAR10(root=root, method="random", ipc=10)
    _assert_offline_message(str(err.value), "main")
    assert not root.exists()
    root.mkdir()
    (root / "keep.txt").write_text("mine")
    with pytest.raises(FileNotFoundError):
        CondensedCIFAR10(root=root, method="random", ipc=10)
    assert sorted(p.name for p in root.rglob("*")) == ["keep.txt"]
    with pytest.raises(FileNotFoundError):  # the Hugging Face cache: no empty repo folder left there either
        CondensedCIFAR10(method="random", ipc=10)
    hub_cache = tmp_path / "hf_home" / "hub"
    assert not hub_cache.exists() or not any(hub_cache.rglob("*.lock")) and not list(hub_cache.glob("datasets--*"))


def test_hf_hub_offline_fails_at_once_and_leaves_nothing(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = tmp_path / "root"
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE is set") as err:
        CondensedCIFAR10(root=root, method="random", ipc=10, repo_id="org/condensed-cifar10", revision="v1")
    _assert_offline_message(str(err.value), "v1")
    assert not root.exists() and fake_hub.hub.requests == []


class _DroppingServer:
    """Accepts TCP connections on 127.0.0.1 and closes them at once, counting them (a Hub that is not there)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port, self.connections, self._stop = self.sock.getsockname()[1], 0, threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def __enter__(self) -> "_DroppingServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()


def test_unreachable_hub_is_asked_once_without_retries(fake_hub, tmp_path, monkeypatch):
    with _DroppingServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.port}")
        with pytest.raises(FileNotFoundError, match="cannot be reached"):
            CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10, repo_id="org/condensed-cifar10")
    assert server.connections == 1  # huggingface_hub alone retries five times with back-off (~30 s)
    assert not (tmp_path / "root").exists()


def test_an_unpinned_file_replaced_on_the_hub_is_refused(fake_hub, tmp_path, monkeypatch):
    """Without a pin, the download must match the sha256 the Hub records for the file at the resolved commit."""
    monkeypatch.setenv("CONDENSED_HUB_ORG", "org")
    _published(fake_hub, tmp_path, pin=False)
    fake_hub.hub.tamper_downloads = True
    with pytest.raises(CondensedFormatError, match="differs from the [0-9a-f]{64} recorded by the Hub"):
        CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    assert sum(method == "GET" for method, _ in fake_hub.hub.requests) == 2  # fetched once more, then refused


# 4. pixel-space mode for colour transforms -------------------------------------------------------------------
COLOUR_TRANSFORMS = [v2.ColorJitter(0.4, 0.4, 0.4, 0.1), v2.RandAugment(), v2.AutoAugment(), v2.TrivialAugmentWide(),
                     v2.RandomEqualize(p=1), v2.RandomPosterize(4, p=1), v2.RandomAutocontrast(p=1),
                     v2.RandomInvert(p=1), v2.RandomSolarize(0.5, p=1)]


def test_pixel_mode_items_are_pixels_and_normalize_transform_restores_the_set(tmp_path):
    path = set_path(tmp_path, "cifar10", "random", 10)
    cset = _idc_like_set(path)
    normed = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False)
    pixels = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False, normalize=False)
    assert len(pixels) == len(normed) == 400 and pixels.targets == normed.targets
    assert float(pixels.images.min()) >= 0 and float(pixels.images.max()) <= 1
    expected = denormalize(cset.decode()[0], CIFAR_MEAN, CIFAR_STD).clamp(0, 1)
    assert torch.allclose(pixels.images, expected, atol=1e-6)
    inside = (expected > 0) & (expected < 1)  # where nothing was clipped, Normalize gives back the set exactly
    restored = pixels.normalize_transform(pixels.images)
    assert torch.allclose(restored[inside], normed.images[inside], atol=1e-5)
    assert "Pixel space: [0, 1] (normalize=False)" in repr(pixels) and pixels.denormalize() is pixels.images


@pytest.mark.parametrize("colour", COLOUR_TRANSFORMS, ids=lambda t: type(t).__name__)
def test_a_v2_colour_pipeline_gives_the_same_batches_in_both_modes(tmp_path, colour):
    _idc_like_set(set_path(tmp_path, "cifar10", "random", 10))
    pixels = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False, normalize=False)
    pixels.transform = v2.Compose([v2.RandomHorizontalFlip(), colour, pixels.normalize_transform])
    normed = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False)
    normed.transform = v2.Compose([normed.denormalize_transform, v2.RandomHorizontalFlip(), colour, normed.normalize_transform])
    batches = []
    for ds in (pixels, normed):
        torch.manual_seed(0)
        batches.append(next(iter(DataLoader(ds, batch_size=16, shuffle=True))))
    (a, la), (b, lb) = batches
    assert torch.equal(la, lb) and a.shape == (16, 3, 32, 32)
    assert torch.allclose(a, b, atol=2e-2)  # 8-bit ops (posterize, equalize) may round one step apart
    lo = (0 - torch.tensor(CIFAR_MEAN).max()) / torch.tensor(CIFAR_STD).min()
    assert float(a.min()) >= float(lo) - 1e-4  # back in normalised space, from pixels in [0, 1]


def test_invert_is_exact_in_pixel_mode(tmp_path):
    _idc_like_set(set_path(tmp_path, "cifar10", "random", 10))
    ds = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False, normalize=False,
                          transform=v2.RandomInvert(p=1))
    assert torch.allclose(ds[3][0], 1 - ds.images[3])


def test_bad_mode_arguments_name_the_choices(tmp_path):
    _idc_like_set(set_path(tmp_path, "cifar10", "random", 10))
    with pytest.raises(ValueError, match="normalize must be True or False, got 'no'"):
        CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False, normalize="no")
    with pytest.raises(ValueError, match="target_type must be one of auto, class, soft, got 'onehot'"):
        CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False, target_type="onehot")


# 5. soft labels: one rule for targets, and concatenation ----------------------------------------------------
def _soft_set(tmp_path) -> CondensedSet:
    meta = {"dataset": "cifar10", "classes": [str(i) for i in range(10)], "mean": list(CIFAR_MEAN), "std": list(CIFAR_STD),
            "method": "dm", "ipc": 2}
    torch.manual_seed(1)
    labels = torch.arange(10).repeat_interleave(2)
    soft = torch.softmax(torch.randn(20, 10) + 3 * torch.nn.functional.one_hot(labels, 10), dim=1)
    cset = CondensedSet(torch.randn(20, 3, 32, 32), labels, meta, soft_labels=soft)
    cset.save(set_path(tmp_path, "cifar10", "dm", 2))
    return cset


def test_soft_label_sets_follow_one_rule(tmp_path):
    cset = _soft_set(tmp_path)
    ds = CondensedCIFAR10(root=tmp_path, method="dm", ipc=2, download=False)
    assert ds.targets == cset.labels.tolist()  # targets: always the class each image was condensed for
    image, target = ds[5]
    assert torch.equal(target, cset.soft_labels[5]) and torch.equal(ds.soft_targets, cset.soft_labels)
    as_class = CondensedCIFAR10(root=tmp_path, method="dm", ipc=2, download=False, target_type="class")
    assert as_class[5][1] == ds.targets[5] == 2


def test_hard_and_soft_sets_concatenate_or_are_refused_clearly(tmp_path):
    _soft_set(tmp_path)
    _idc_like_set(set_path(tmp_path, "cifar10", "random", 10))
    soft = CondensedCIFAR10(root=tmp_path, method="dm", ipc=2, download=False)
    hard = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False)
    with pytest.raises(ValueError, match="class-id targets .* Load both with target_type='soft'"):
        hard + soft
    hard_as_soft = CondensedCIFAR10(root=tmp_path, method="random", ipc=10, download=False, target_type="soft")
    both = hard_as_soft + soft
    assert len(both) == 420
    images, targets = next(iter(DataLoader(both, batch_size=420)))
    assert targets.shape == (420, 10) and torch.equal(targets[:400].argmax(1), torch.tensor(hard.targets))
    assert torch.allclose(targets.sum(1), torch.ones(420))


# 6. licence metadata for "other" licences -----------------------------------------------------------------------
def test_other_licences_carry_a_name_and_link_in_the_card(tmp_path):
    for name, spec in SOURCES.items():
        if spec.license == "other":
            assert spec.license_name and spec.license_link.startswith("http"), name
    _idc_like_set(set_path(tmp_path, "cifar10", "random", 10))
    card = DatasetCard(render_card(tmp_path / "cifar10", "org/condensed-cifar10"))
    assert card.data.license == "other" and card.data.license_name == "cifar-terms"
    assert card.data.license_link == "https://www.cs.toronto.edu/~kriz/cifar.html"
    header = yaml.safe_load(str(card).split("---")[1])
    assert header["license_name"] == "cifar-terms"


# 7. the loader imports nothing of the build or the recipes ---------------------------------------------------
def test_loading_a_set_imports_no_build_or_recipe_code(tmp_path):
    _idc_like_set(set_path(tmp_path, "cifar10", "random", 10))
    code = ("import sys, json; from condensed_datasets import CondensedCIFAR10; "
            f"ds = CondensedCIFAR10(root={str(tmp_path)!r}, method='random', ipc=10, download=False); ds[0]; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('condensed_datasets'))))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
    assert "condensed_datasets.datasets" in loaded
    assert not [m for m in loaded if m.startswith(("condensed_datasets.recipes", "condensed_datasets.pipeline.build",
                                                     "condensed_datasets.condense.frame"))]


def test_the_method_catalog_is_the_recipe_registry():
    from condensed_datasets.recipes import list_methods

    assert tuple(list_methods()) == METHOD_NAMES


def test_load_condensed_keeps_the_modes(tmp_path):
    _idc_like_set(set_path(tmp_path, "cifar10", "random", 10))
    ds = load_condensed("cifar10/random/ipc10", root=tmp_path, download=False, normalize=False, target_type="soft")
    assert isinstance(ds, CondensedDataset) and not ds.normalize and ds[0][1].shape == (10,)


def test_info_refuses_a_file_whose_tensor_bytes_are_corrupted(tmp_path):
    from click.testing import CliRunner

    from condensed_datasets.cli.main import main

    path = set_path(tmp_path, "cifar10", "random", 10)
    _idc_like_set(path)
    assert CliRunner().invoke(main, ["info", str(path)]).exit_code == 0
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the image tensor, far from the header
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 1 and "tensor bytes do not match the checksum" in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_hub_falls_back_to_the_stored_copy_of_a_branch(fake_hub, tmp_path, monkeypatch):
    """download=True, revision 'main', Hub gone: the copy downloaded earlier is used, as huggingface_hub does."""
    monkeypatch.setenv("CONDENSED_HUB_ORG", "org")
    cset = _published(fake_hub, tmp_path, pin=False)
    CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    again = CondensedCIFAR10(root=tmp_path / "root", method="random", ipc=10)
    assert torch.equal(again.condensed.images, cset.images)
    with pytest.raises(FileNotFoundError, match="cannot be reached"):  # nothing stored for another set
        CondensedCIFAR10(root=tmp_path / "root", method="herding", ipc=10)
