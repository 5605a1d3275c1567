"""Hostile set files, eval.json files and command-line values: each is refused with one line naming the bad field or
value (never a traceback, never a huge message) and leaves nothing written; any valid set survives save -> load -> decode."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from condensed_datasets import CondensedDataset
from condensed_datasets.cli.main import main
from condensed_datasets.core.condensed_set import CondensedSet, DecoderSpec
from condensed_datasets.core.decoders import learned_decoder_init, multi_formation_spec
from condensed_datasets.core.errors import CondensedFormatError
from condensed_datasets.core.evaluations import read_evaluations
from condensed_datasets.core.storage import _content_digest, load, save

MAX_LINE = 400  # a refusal is one short line, whatever the size of the bad value


def cli(*args: Any):
    return CliRunner().invoke(main, [str(a) for a in args], env={"HF_HUB_OFFLINE": "1", "CONDENSED_REGISTRY": ""})


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(result) -> str:
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output and "please report it" not in result.output, result.output
    assert not isinstance(result.exception, (AssertionError, TypeError, KeyError, ZeroDivisionError, MemoryError))
    errors = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.output
    assert len(errors[0]) <= MAX_LINE, errors[0]
    return errors[0]


# --- set files written by hand, bypassing `save` (what a hostile or buggy writer makes) -------------------------------
@dataclass
class FileCase:
    name: str
    expect: tuple[str, ...]  # fragments the one error line must contain
    images: Any = None  # default: float32 [10 * ipc, 1, 8, 8]
    labels: Any = None  # default: class-major int64
    soft: Any = None
    weights: dict = field(default_factory=dict)
    decoder: Any = None  # default: identity
    meta: dict = field(default_factory=dict)
    raw_meta: Any = None  # replaces the whole 'meta' object


def _write(path: Path, case: FileCase) -> None:
    ipc = case.meta.get("ipc", 1) if isinstance(case.meta.get("ipc", 1), int) else 1
    ipc = max(ipc, 1)
    images = case.images if case.images is not None else torch.randn(10 * ipc, 1, 8, 8)
    labels = case.labels if case.labels is not None else torch.arange(10).repeat_interleave(max(1, len(images) // 10))
    meta = {"dataset": "digits", "classes": [str(i) for i in range(10)], "mean": [0.3], "std": [0.37], "method": "random",
            "ipc": ipc, "channels": 1, "image_size": [8, 8], **case.meta} if case.raw_meta is None else case.raw_meta
    tensors = {"images": images, "labels": labels}
    if case.soft is not None:
        tensors["soft_labels"] = case.soft
    tensors.update(case.weights)
    decoder = case.decoder if case.decoder is not None else {"name": "identity", "params": {}}
    document = {"schema_version": 2, "meta": meta, "decoder": decoder, "content_sha256": _content_digest(tensors, meta, decoder)}
    save_file(tensors, str(path), metadata={"condensed": json.dumps(document, sort_keys=True)})


def _mf(**params) -> dict:
    return {"name": "multi_formation", "params": params}


def _soft(rows: torch.Tensor | None = None) -> torch.Tensor:
    return torch.full((10, 10), 0.1) if rows is None else rows


_LEARNED_PARAMS, _LEARNED_WEIGHTS = learned_decoder_init(1, scale=2, generator=torch.Generator().manual_seed(0))
_LW = {"decoder." + k: v for k, v in _LEARNED_WEIGHTS.items()}
_HUGE = 200_000

FILE_CASES = [
    # the reported ones: multi-formation factors, an unknown decoder
    FileCase("factor-1000", ("factor", "1000", "1 to 8"), decoder=_mf(factor=1000)),
    FileCase("factor-100", ("factor", "100", "1 to 8"), decoder=_mf(factor=100)),
    FileCase("factor-0", ("factor 0", "1 to 8"), decoder=_mf(factor=0)),
    FileCase("factor-negative", ("factor -3",), decoder=_mf(factor=-3)),
    FileCase("factor-float", ("factor 2.5", "integer"), decoder=_mf(factor=2.5)),
    FileCase("factor-string", ("factor '2'", "integer"), decoder=_mf(factor="2")),
    FileCase("factor-bool", ("factor True", "integer"), decoder=_mf(factor=True)),
    FileCase("factor-9-over-side", ("factor 9", "1 to 8"), decoder=_mf(factor=9)),
    FileCase("factor-128-allocation-bomb", ("factor", "would decode", "limit of 1073741824"), decoder=_mf(factor=128),
             images=torch.zeros(10, 1, 128, 128), meta={"image_size": [128, 128]}),
    FileCase("factor-5-padding-only", ("factor 5", "padding"), decoder=_mf(factor=5)),
    FileCase("decoder-nope", ("decoder", "'nope'", "identity, multi_formation"), decoder={"name": "nope", "params": {}}),
    FileCase("decoder-name-int", ("decoder name", "5"), decoder={"name": 5, "params": {}}),
    FileCase("decoder-name-huge", ("decoder name", "..."), decoder={"name": "x" * 100_000, "params": {}}),
    FileCase("decoder-extra-field", ("decoder", "'evil'"), decoder={"name": "identity", "params": {}, "evil": 1}),
    FileCase("decoder-params-list", ("params", "[2]"), decoder={"name": "multi_formation", "params": [2]}),
    FileCase("decoder-unknown-param", ("parameter", "'evil'"), decoder=_mf(factor=2, evil=1)),
    FileCase("identity-with-params", ("identity", "'factor'"), decoder={"name": "identity", "params": {"factor": 4}}),
    FileCase("pad-value-length", ("pad_value", "[0.0, 0.0]", "1 finite numbers"), decoder=_mf(factor=2, pad_value=[0.0, 0.0])),
    FileCase("pad-value-huge", ("pad_value", "200000 items"), decoder=_mf(factor=2, pad_value=[0.5] * _HUGE)),
    FileCase("pad-value-string", ("pad_value", "'x'"), decoder=_mf(factor=2, pad_value="x")),
    FileCase("pad-value-nan", ("pad_value", "nan"), decoder=_mf(factor=2, pad_value=[float("nan")])),
    FileCase("multi-scale-1000", ("factors", "1000"), decoder={"name": "multi_scale", "params": {"factors": [1, 1000]}}),
    FileCase("multi-scale-many", ("factors", "50 items"), decoder={"name": "multi_scale", "params": {"factors": [2] * 50}}),
    FileCase("multi-scale-empty", ("factors", "[]"), decoder={"name": "multi_scale", "params": {"factors": []}}),
    FileCase("multi-scale-string", ("factors", "'12'"), decoder={"name": "multi_scale", "params": {"factors": "12"}}),
    FileCase("multi-scale-repeat", ("factors", "repeat"), decoder={"name": "multi_scale", "params": {"factors": [2, 2]}}),
    FileCase("learned-scale-1000", ("scale", "1000", "1 to 8"),
             decoder={"name": "learned", "params": {**_LEARNED_PARAMS, "scale": 1000}}, weights=_LW, meta={"image_size": [16, 16]}),
    FileCase("learned-channels", ("channels 3",), decoder={"name": "learned", "params": {**_LEARNED_PARAMS, "channels": 3}}, weights=_LW),
    FileCase("learned-width", ("d 1000000", "256"), decoder={"name": "learned", "params": {**_LEARNED_PARAMS, "d": 10**6}}, weights=_LW),
    FileCase("learned-missing-weight", ("deconv.bias",), decoder={"name": "learned", "params": _LEARNED_PARAMS},
             weights={k: v for k, v in _LW.items() if k != "decoder.deconv.bias"}),
    FileCase("learned-weight-shape", ("extract.weight", "[1, 1, 1, 1]"), decoder={"name": "learned", "params": _LEARNED_PARAMS},
             weights={**_LW, "decoder.extract.weight": torch.zeros(1, 1, 1, 1)}),
    FileCase("decoder-weight-int", ("decoder.w", "int64"), weights={"decoder.w": torch.zeros(2, dtype=torch.int64)}),
    # tensors: dtypes and shapes
    FileCase("images-float16", ("images", "float16", "float32"), images=torch.zeros(10, 1, 8, 8, dtype=torch.float16)),
    FileCase("images-float64", ("images", "float64", "float32"), images=torch.zeros(10, 1, 8, 8, dtype=torch.float64)),
    FileCase("images-bfloat16", ("images", "bfloat16", "float32"), images=torch.zeros(10, 1, 8, 8, dtype=torch.bfloat16)),
    FileCase("images-uint8", ("images", "uint8", "float32"), images=torch.zeros(10, 1, 8, 8, dtype=torch.uint8)),
    FileCase("images-int64", ("images", "int64", "float32"), images=torch.zeros(10, 1, 8, 8, dtype=torch.int64)),
    FileCase("images-0x0", ("images", "1 x 0 x 0", "at least 1"), images=torch.zeros(10, 1, 0, 0)),
    FileCase("images-8x0", ("images", "8 x 0"), images=torch.zeros(10, 1, 8, 0)),
    FileCase("images-none", ("empty", "0 images"), images=torch.zeros(0, 1, 8, 8), labels=torch.zeros(0, dtype=torch.long)),
    FileCase("images-3d", ("images", "[10, 8, 8]"), images=torch.zeros(10, 8, 8)),
    FileCase("images-0-channels", ("images", "0 x 8 x 8", "at least 1"), images=torch.zeros(10, 0, 8, 8)),
    FileCase("images-inf", ("'images'", "NaN or infinite"), images=torch.full((10, 1, 8, 8), float("inf"))),
    FileCase("images-nan", ("'images'", "NaN or infinite"), images=torch.full((10, 1, 8, 8), float("nan"))),
    FileCase("extra-tensor", ("unexpected tensor", "'payload'"), weights={"payload": torch.zeros(3)}),
    FileCase("labels-int32", ("labels", "int32", "int64"), labels=torch.arange(10, dtype=torch.int32)),
    FileCase("labels-float", ("labels", "float32", "int64"), labels=torch.arange(10, dtype=torch.float32)),
    FileCase("labels-10-of-10", ("labels", "[0, 10)", "[1, 10]"), labels=torch.arange(1, 11)),
    FileCase("labels-negative", ("labels", "[0, 10)", "[-1, 8]"), labels=torch.arange(-1, 9)),
    FileCase("labels-short", ("labels", "int64 [10]", "[9]"), labels=torch.arange(9)),
    FileCase("labels-2d", ("labels", "[10, 1]"), labels=torch.arange(10)[:, None]),
    FileCase("soft-negative", ("soft_labels", "-0.1", ">= 0"), soft=_soft(torch.eye(10) * 2 - torch.full((10, 10), 0.1))),
    FileCase("soft-sum-2", ("soft_labels", "sum to 1", "row 0 sums to 2"), soft=_soft(torch.full((10, 10), 0.2))),
    FileCase("soft-float64", ("soft_labels", "float64", "float32"), soft=torch.full((10, 10), 0.1, dtype=torch.float64)),
    FileCase("soft-shape", ("soft_labels", "[10, 3]"), soft=torch.full((10, 3), 1 / 3)),
    FileCase("soft-nan", ("'soft_labels'", "NaN or infinite"), soft=torch.full((10, 10), float("nan"))),
    # metadata
    FileCase("classes-huge", ("200000 classes",), meta={"classes": [str(i) for i in range(_HUGE)]}),
    FileCase("classes-11", ("ipc is 1", "11 classes"), meta={"classes": [str(i) for i in range(11)]}),
    FileCase("classes-empty-name", ("classes", "''"), meta={"classes": [""] + [str(i) for i in range(1, 10)]}),
    FileCase("classes-int", ("classes", "distinct names"), meta={"classes": list(range(10))}),
    FileCase("classes-duplicate", ("classes", "appears twice"), meta={"classes": ["0"] * 10}),
    FileCase("classes-long-duplicate", ("classes", "appears twice"), meta={"classes": ["x" * 5000] * 10}),
    FileCase("classes-string", ("classes", "'abc'"), meta={"classes": "abc"}),
    FileCase("ipc-zero", ("'ipc'", "positive integer", "0"), meta={"ipc": 0}),
    FileCase("ipc-string", ("'ipc'", "'1'"), meta={"ipc": "1"}),
    FileCase("mean-huge", ("mean/std", "200000"), meta={"mean": [0.1] * _HUGE}),
    FileCase("mean-strings", ("'mean'", "200000 items"), meta={"mean": ["x" * 10] * _HUGE}),
    FileCase("mean-nan", ("mean", "nan"), meta={"mean": [float("nan")]}),
    FileCase("std-negative", ("'std'", "positive", "-0.5"), meta={"std": [-0.5]}),
    FileCase("channels-claim", ("1 channels", "says 3"), meta={"channels": 3}),
    FileCase("image-size-claim", ("[8, 8] pixels", "[32, 32]"), meta={"image_size": [32, 32]}),
    FileCase("dataset-empty", ("'dataset'", "''"), meta={"dataset": ""}),
    FileCase("method-traversal", ("method", "'../x'"), meta={"method": "../x"}),
    FileCase("meta-list", ("'meta'",), raw_meta=[1, 2]),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=[c.name for c in FILE_CASES])
def test_a_hostile_set_file_is_refused_in_one_line_by_load_the_loader_and_info(tmp_path, case):
    path = tmp_path / "bad.safetensors"
    _write(path, case)
    before = snapshot(tmp_path)
    with pytest.raises(CondensedFormatError) as err:
        load(path)
    message = str(err.value)
    assert "\n" not in message and len(message) <= MAX_LINE, message
    for fragment in case.expect:
        assert fragment in message, (fragment, message)
    with pytest.raises(RuntimeError) as loader_err:  # torchvision's "not found or corrupted" contract
        CondensedDataset.from_file(path)
    assert str(loader_err.value) == message
    line = one_error_line(cli("info", path))
    assert all(fragment in line for fragment in case.expect), line
    line = one_error_line(cli("show", path, "--out", tmp_path / "grid.png"))
    assert all(fragment in line for fragment in case.expect), line
    assert snapshot(tmp_path) == before  # nothing written (no preview, no temporary file)


# --- sets refused by `save`: nothing is written -----------------------------------------------------------------------
def _good(**changes) -> CondensedSet:
    meta = {"dataset": "toy", "classes": ["a", "b"], "mean": [0.5], "std": [0.25], "method": "random", "ipc": 2}
    fields = {"images": torch.randn(4, 1, 8, 8), "labels": torch.tensor([0, 0, 1, 1]), "meta": meta,
              "decoder": DecoderSpec(), "soft_labels": None, **changes}
    return CondensedSet(**fields)


SAVE_CASES = [
    ("uint8-images", _good(images=torch.zeros(4, 1, 8, 8, dtype=torch.uint8)), ("images", "uint8", "float images")),
    ("int-images", _good(images=torch.zeros(4, 1, 8, 8, dtype=torch.int32)), ("images", "int32", "float images")),
    ("float-labels", _good(labels=torch.tensor([0.0, 0.0, 1.0, 1.0])), ("labels", "float32", "integers")),
    ("bool-labels", _good(labels=torch.tensor([False, False, True, True])), ("labels", "bool", "integers")),
    ("int-soft-labels", _good(soft_labels=torch.ones(4, 2, dtype=torch.int64)), ("soft_labels", "int64", "floating point")),
    ("factor-1000", _good(decoder=DecoderSpec("multi_formation", {"factor": 1000})), ("factor", "1000")),
    ("decoder-nope", _good(decoder=DecoderSpec("nope")), ("decoder", "'nope'")),
    ("soft-rows", _good(soft_labels=torch.full((4, 2), 0.9)), ("soft_labels", "sum to 1")),
    ("labels-out-of-range", _good(labels=torch.tensor([0, 0, 1, 2])), ("labels", "[0, 2)")),
    ("empty-images", _good(images=torch.zeros(4, 1, 0, 0)), ("0 x 0",)),
]


@pytest.mark.parametrize("name,cset,expect", SAVE_CASES, ids=[c[0] for c in SAVE_CASES])
def test_save_refuses_an_invalid_set_and_writes_nothing(tmp_path, name, cset, expect):
    with pytest.raises(CondensedFormatError) as err:
        cset.save(tmp_path / "s.safetensors")
    assert "\n" not in str(err.value) and all(f in str(err.value) for f in expect), str(err.value)
    assert list(tmp_path.iterdir()) == []


# --- command-line values ----------------------------------------------------------------------------------------------
B = ("build", "digits", "--method", "random", "--ipc", "1", "--quiet")

CLI_CASES = [
    ("checkpoint-nan", (*B, "--out", "{tmp}/o", "--checkpoint-minutes", "nan"), ("--checkpoint-minutes", "'nan'", "finite")),
    ("checkpoint-inf", (*B, "--out", "{tmp}/o", "--checkpoint-minutes", "inf"), ("--checkpoint-minutes", "'inf'", "finite")),
    ("checkpoint-1e999", (*B, "--out", "{tmp}/o", "--checkpoint-minutes", "1e999"), ("--checkpoint-minutes", "'1e999'")),
    ("checkpoint-negative-inf", (*B, "--out", "{tmp}/o", "--checkpoint-minutes", "-inf"), ("--checkpoint-minutes",)),
    ("build-out-empty", (*B, "--out", ""), ("--out", "empty path")),
    ("build-out-blank", (*B, "--out", "  "), ("--out", "empty path")),
    ("show-out-jpg", ("show", "{set}", "--out", "{tmp}/x.jpg"), ("--out", "x.jpg", "must end in .png")),
    ("show-out-no-suffix", ("show", "{set}", "--out", "{tmp}/grid"), ("--out", "must end in .png")),
    ("show-out-empty", ("show", "{set}", "--out", ""), ("--out", "empty path")),
    ("list-root-empty", ("list", "--root", ""), ("--root", "empty path")),
    ("eval-path-empty", ("eval", ""), ("PATH", "empty path")),
    ("data-root-empty", (*B, "--out", "{tmp}/o", "--data-root", ""), ("--data-root", "empty path")),
    ("collection-checkpoint-nan", ("collection", "build", "digits/random/1", "--out", "{tmp}/o", "--checkpoint-minutes", "nan"),
     ("--checkpoint-minutes", "'nan'", "finite")),
    ("collection-out-empty", ("collection", "status", "--out", ""), ("--out", "empty path")),
    ("collection-staged-empty", ("collection", "build", "digits/random/1", "--out", "{tmp}/o", "--staged", ""),
     ("--staged", "empty path")),
    ("collection-to-empty", ("collection", "stage", "digits/random/1", "--out", "{tmp}/o", "--to", ""), ("--to", "empty path")),
    ("pin-commit-bad", ("pin", "{set}", "--repo", "org/x", "--commit", "../x", "--registry", "{tmp}/r.json"),
     ("invalid revision", "'../x'")),
    ("pin-registry-missing-folder", ("pin", "{set}", "--repo", "org/x", "--commit", "a" * 40, "--registry", "{tmp}/no/r.json"),
     ("--registry", "does not exist")),
]


@pytest.fixture()
def good_set(tmp_path) -> Path:
    path = tmp_path / "sets" / "toy" / "random" / "ipc2" / "condensed.safetensors"
    _good().save(path)
    return path


@pytest.mark.parametrize("name,args,expect", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_a_bad_command_line_value_is_one_line(tmp_path, good_set, name, args, expect, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    line = one_error_line(cli(*(a.replace("{tmp}", str(tmp_path)).replace("{set}", str(good_set)) for a in args)))
    assert all(fragment in line for fragment in expect), line
    assert snapshot(tmp_path) == before


def test_show_still_writes_a_png(tmp_path, good_set):
    result = cli("show", good_set, "--out", tmp_path / "grid.PNG")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.PNG").read_bytes()[:4] == b"\x89PNG"


# --- eval.json beside a set: every field's type is checked ----------------------------------------------------------
GOOD_EVAL = {"mean": 91.5, "std": 0.4, "protocol": "dc", "epochs": 300, "models": 5, "arch": "convnet", "method": "random", "ipc": 2}

EVAL_CASES = [
    ("mean-string", {"mean": "91"}, ("mean '91'", "finite")),
    ("mean-null", {"mean": None}, ("mean None",)),
    ("mean-nan", {"mean": float("nan")}, ("mean nan",)),
    ("mean-200", {"mean": 200}, ("mean 200", "0 to 100")),
    ("std-list", {"std": [1] * 1000}, ("std [1, 1, 1, 1, ...]", "1000 items")),
    ("epochs-zero", {"epochs": 0}, ("epochs 0", "positive integer")),
    ("epochs-float", {"epochs": 2.5}, ("epochs 2.5",)),
    ("models-bool", {"models": True}, ("models True",)),
    ("protocol-int", {"protocol": 5}, ("protocol 5", "string")),
    ("arch-list", {"arch": []}, ("arch []",)),
    ("ipc-string", {"ipc": "x"}, ("ipc 'x'",)),
    ("method-int", {"method": 3}, ("method 3",)),
    ("sha-short", {"set_sha256": "abc"}, ("set_sha256 'abc'", "64 hex digits")),
    ("best-of-periodic", {"best_of_periodic": {"mean": "a"}}, ("best_of_periodic",)),
    ("reduced-string", {"reduced_epochs": "no"}, ("reduced_epochs 'no'", "true or false")),
]


@pytest.mark.parametrize("name,change,expect", EVAL_CASES, ids=[c[0] for c in EVAL_CASES])
def test_a_hostile_eval_json_is_one_line_naming_the_file_and_field(tmp_path, good_set, name, change, expect):
    (good_set.parent / "eval.json").write_text(json.dumps([GOOD_EVAL, {**GOOD_EVAL, **change}]))
    with pytest.raises(ValueError) as err:
        read_evaluations(good_set.parent)
    assert "eval.json" in str(err.value) and "result 1" in str(err.value)
    before = snapshot(tmp_path)
    for args in (("list", "--root", tmp_path / "sets"), ("card", tmp_path / "sets")):
        line = one_error_line(cli(*args))
        assert "eval.json" in line and all(fragment in line for fragment in expect), line
    assert snapshot(tmp_path) == before


def test_a_valid_eval_json_is_read(good_set):
    (good_set.parent / "eval.json").write_text(json.dumps([GOOD_EVAL]))
    assert read_evaluations(good_set.parent) == [GOOD_EVAL]


def test_the_tables_hold_at_least_a_hundred_hostile_cases():
    assert len(FILE_CASES) + len(SAVE_CASES) + len(CLI_CASES) + len(EVAL_CASES) >= 100


# --- any valid set survives save -> load -> decode unchanged --------------------------------------------------------
names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"), min_size=1, max_size=8)


@st.composite
def valid_sets(draw) -> CondensedSet:
    n_classes, ipc = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    channels, size = draw(st.sampled_from([1, 3])), draw(st.integers(1, 9))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    labels = torch.arange(n_classes).repeat_interleave(ipc)
    images = torch.randn(len(labels), channels, size, size, generator=g) * draw(st.floats(0.01, 100))
    mean = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=channels, max_size=channels))
    std = draw(st.lists(st.floats(0.01, 2), min_size=channels, max_size=channels))
    meta = {"dataset": draw(names), "classes": draw(st.lists(names, min_size=n_classes, max_size=n_classes, unique=True)),
            "mean": mean, "std": std, "method": "idc", "ipc": ipc, "image_size": [size, size], "channels": channels}
    kind = draw(st.sampled_from(["identity", "multi_formation", "multi_scale"]))
    # a factor is valid when every part of its grid covers stored pixels (none is padding only)
    factors = [f for f in range(1, min(size, 4) + 1) if (f - 1) * -(-size // f) < size]
    if kind == "multi_formation":
        decoder = multi_formation_spec(draw(st.sampled_from(factors)), tuple(mean), tuple(std))
    elif kind == "multi_scale":
        decoder = DecoderSpec("multi_scale", {"factors": draw(st.lists(st.sampled_from(factors), min_size=1, max_size=3, unique=True))})
    else:
        decoder = DecoderSpec()
    soft = torch.softmax(torch.randn(len(labels), n_classes, generator=g), 1) if draw(st.booleans()) else None
    return CondensedSet(images, labels, meta, decoder, soft)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cset=valid_sets())
def test_any_valid_set_survives_save_load_decode_unchanged(cset):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.safetensors"
        save(cset, path)
        back = load(path)
        dataset = CondensedDataset.from_file(path)
    assert torch.equal(back.images, cset.images) and torch.equal(back.labels, cset.labels) and back.meta == cset.meta
    expected, back_decoded = cset.decode_all(), back.decode_all()
    for a, b in zip(expected, back_decoded):
        assert (a is None and b is None) or torch.equal(a, b)
    assert torch.equal(dataset.images, expected[0]) and dataset.targets == expected[1].tolist()


# --- inputs beyond set files ------------------------------------------------------------------------------------------
def test_a_header_nested_past_the_parser_is_one_line(tmp_path, good_set):
    from safetensors import safe_open

    with safe_open(str(good_set), "pt") as f:
        metadata = f.metadata()
    document = json.loads(metadata["condensed"])
    document["meta"]["config"] = "NEST"
    deep = json.dumps(document).replace('"NEST"', "[" * 100_000 + "]" * 100_000)
    path = tmp_path / "deep" / "condensed.safetensors"
    path.parent.mkdir()
    save_file(load_tensors(good_set), str(path), metadata={**metadata, "condensed": deep})
    line = one_error_line(cli("info", path))
    assert "nests deeper than 32 levels" in line and str(path) in line


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_an_image_folder_whose_splits_differ_in_classes_is_refused(tmp_path):
    import numpy as np
    from PIL import Image

    for split, classes in (("train", ["a", "b"]), ("test", ["a", "c"])):
        for name in classes:
            (tmp_path / "data" / split / name).mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "data" / split / name / "x.png")
    line = one_error_line(cli("build", f"imagefolder:{tmp_path / 'data'}", "--method", "random", "--ipc", "1",
                              "--out", tmp_path / "o", "--quiet"))
    assert "test classes ['c'] are not train classes" in line and "train classes ['b'] have no test folder" in line
    assert not (tmp_path / "o").exists()


def test_soft_targets_of_a_hard_label_set_with_many_classes_cost_one_row_per_item(tmp_path):
    classes = [f"c{i}" for i in range(10_000)]
    cset = CondensedSet(torch.zeros(10_000, 1, 2, 2), torch.arange(10_000),
                        {"dataset": "toy", "classes": classes, "mean": [0.5], "std": [0.2], "method": "random", "ipc": 1})
    path = tmp_path / "many" / "condensed.safetensors"
    cset.save(path)
    dataset = CondensedDataset.from_file(path, target_type="soft")
    _, target = dataset[9_999]
    assert target.shape == (10_000,) and target[9_999] == 1 and target.sum() == 1
    assert dataset._one_hot is None  # no n x classes table was built for one item


def test_list_ignores_a_folder_named_like_a_set(tmp_path, good_set):
    (tmp_path / "sets" / "toy" / "dm" / "ipc1" / "condensed.safetensors").mkdir(parents=True)
    listed = cli("list", "--root", tmp_path / "sets")
    assert listed.exit_code == 0 and "toy/dm/ipc1" not in listed.output and "toy/random/ipc2" in listed.output
