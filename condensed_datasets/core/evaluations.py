"""core.evaluations"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from condensed_datasets.core.files import atomic_write_bytes
from condensed_datasets.core.layout import (
    EVAL_FILENAME,
)


def read_evaluations(set_folder: Path) -> list[dict[str, Any]]:
    """The evaluation results recorded beside a set (``eval.json``, a list, oldest first)."""
    path = Path(set_folder) / EVAL_FILENAME
    if not path.is_file():
        return []
    try:
        results = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); fix or remove it") from None
    needed = ("mean", "std", "protocol", "epochs", "models", "arch")
    if not isinstance(results, list) or not all(isinstance(r, dict) and all(k in r for k in needed) for r in results):
        raise ValueError(f"{path} must hold a list of evaluation results, each with {', '.join(needed)}; fix or remove it")
    from condensed_datasets.core.validation import (
        check_evaluation,  # every field's type and range (mean, std, epochs, models, ...)
    )

    for i, result in enumerate(results):
        try:
            check_evaluation(result, f"result {i}")
        except ValueError as err:
            raise ValueError(f"{path}: {err}; fix or remove it") from None
    return results


def record_evaluation(set_folder: Path, result: dict[str, Any]) -> Path:
    """Append one evaluation result to the set's ``eval.json`` (atomically)."""
    from condensed_datasets.core.locks import file_lock

    path = Path(set_folder) / EVAL_FILENAME
    with file_lock(path):
        results = read_evaluations(set_folder) + [result]
        atomic_write_bytes(path, (json.dumps(results, indent=2) + "\n").encode())
    return path
