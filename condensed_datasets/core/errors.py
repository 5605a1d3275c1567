"""Every exception a user of the package can meet, and the helpers that word a refusal.

Each error names the bad value (bounded by `brief`) and, where there are choices, the valid ones;
the ``condensed`` command turns each of them into one line (`condensed_datasets.cli.errors`).
"""

from __future__ import annotations

import reprlib
from typing import Any

_BRIEF = reprlib.Repr()
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxset = _BRIEF.maxdict = 4
_BRIEF.maxstring = _BRIEF.maxother = 60
_BRIEF.maxlevel = 2
_BRIEF.maxlong = 40
BRIEF_ITEMS = _BRIEF.maxlist


class CondensedFormatError(ValueError, RuntimeError):
    """A file is not a valid condensed set: truncated, corrupted, inconsistent or of an unknown schema.

    A `RuntimeError`, torchvision's error for a dataset that is "not found or corrupted", and a
    `ValueError` as in earlier versions, so both ``except`` clauses catch it.
    """


class PushError(RuntimeError):
    """The Hub refused or could not be reached after the allowed retries."""


class SetInUseError(RuntimeError):
    """Another process is building the same set."""


class DataNotFoundError(FileNotFoundError):
    """A real dataset is not where we looked; the message says where and how to get it."""


class SetUnavailableError(FileNotFoundError):
    """A set cannot be had: not on the Hub, or not stored locally while the Hub is out of reach."""


class HubUnreachableError(SetUnavailableError):
    """The Hub could not be reached (the message says how to work offline)."""


class NonFiniteLossError(RuntimeError):
    """The matching loss became NaN or infinite; the last good checkpoint is kept."""


class RunStopped(RuntimeError):
    """A stop was asked for (SIGTERM): the run ended at an iteration boundary, its checkpoint written."""


class CheckpointMismatchError(ValueError):
    """A checkpoint belongs to a different run (method, config, seed or set shape) than the one resuming,
    or is not a readable checkpoint at all."""


def brief(value: Any) -> str:
    """A bounded ``repr`` for error messages: a few items and about 60 characters, whatever the value.

    A long list says how many items it has (``[0, 1, 2, 3, ...] (1000000 items)``); a tensor shows its
    first values and its shape. Never prints a million-element list.
    """
    if hasattr(value, "shape") and hasattr(value, "flatten"):  # a tensor or an array, without importing torch
        head = value.flatten()[:BRIEF_ITEMS].tolist()
        more = len(value.flatten()) > BRIEF_ITEMS
        return _BRIEF.repr(head)[:-1] + (", ...]" if more else "]") + f" (shape {list(value.shape)})"
    text = _BRIEF.repr(value)
    if isinstance(value, (list, tuple, dict, set)) and len(value) > BRIEF_ITEMS:
        text += f" ({len(value)} items)"
    return text


class UnknownNameError(ValueError):
    """Raised for a name no registry entry carries; the message lists the valid choices."""


def check_choice(kind: str, value: str, choices) -> None:
    """``value`` must be one of ``choices``; else a `ValueError` naming it and the valid choices."""
    if value not in choices:
        raise ValueError(f"unknown {kind} {brief(value)}; valid choices: {', '.join(choices)}")
