"""How every ``condensed`` command answers an error: one clean line and exit code 1, never a traceback."""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

import click

from condensed_datasets.core.errors import (
    CondensedFormatError,
    DataNotFoundError,
    NonFiniteLossError,
    PushError,
    RunStopped,
    SetInUseError,
    UnknownNameError,
)

USER_ERRORS = (ValueError, FileNotFoundError, DataNotFoundError, CondensedFormatError, UnknownNameError, NonFiniteLossError,
               PushError, SetInUseError, RunStopped, RuntimeError, OSError)
DEBUG_ENV = "CONDENSED_DEBUG"


def user_errors(fn: Callable) -> Callable:
    """Turn errors into one clean line and exit code 1 (``CONDENSED_DEBUG=1`` re-raises, with the traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:
            if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
                raise
            if isinstance(err, USER_ERRORS):
                raise click.ClickException(str(err)) from None
            raise click.ClickException(f"unexpected {type(err).__name__}: {err} (a bug: please report it; "
                                       f"{DEBUG_ENV}=1 shows the traceback)") from None

    return wrapper
