"""Declared types and bounds of an architecture's hyperparameters, checked before building.

A model card is input from disk: ``hidden: 10**9`` must end in one line, not in an
allocation traceback, so every architecture declares a schema (a plain dict of specs) and
:func:`check_hyperparameters` runs before ``from_hyperparameters``. Bounds are generous
(far above anything molbench trains) but keep every module a machine can allocate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from molbench.errors import ModelFormatError

PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
TRAINING_KEY = "training"  # the recipe's settings, recorded with the model, never built from


def is_plain_name(value: object) -> bool:
    """A name safe in a file name: letters, digits, ``_ . -``; not ``.``/``..``-like."""
    return isinstance(value, str) and bool(PLAIN_NAME.fullmatch(value)) and ".." not in value


@dataclass(frozen=True)
class Int:
    """An integer in ``low..high`` (booleans are not integers here)."""

    low: int
    high: int
    required: bool = True

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"must be an integer, got {value!r}"
        if not self.low <= value <= self.high:
            return f"must be in {self.low}..{self.high}, got {value}"
        return None


@dataclass(frozen=True)
class Float:
    """A finite number in ``low..high``."""

    low: float
    high: float
    required: bool = True

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"must be a number, got {value!r}"
        if not self.low <= value <= self.high:  # NaN fails both comparisons
            return f"must be in {self.low}..{self.high}, got {value}"
        return None


@dataclass(frozen=True)
class Choice:
    """One of a few strings."""

    options: tuple[str, ...]
    required: bool = True

    def problem(self, value: Any) -> str | None:
        if value not in self.options:
            return f"must be one of {', '.join(self.options)}, got {_short(value)}"
        return None


@dataclass(frozen=True)
class Text:
    """A short string matching ``pattern`` (a name, a hex digest)."""

    pattern: str = PLAIN_NAME.pattern
    required: bool = True

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, str) or not re.fullmatch(self.pattern, value):
            return f"must match {self.pattern}, got {_short(value)}"
        return None


@dataclass(frozen=True)
class Nested:
    """The hyperparameters of a component model (e.g. a retriever inside a re-ranking
    pipeline), checked against that architecture's own schema."""

    schema: Mapping[str, Spec]
    required: bool = True

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, Mapping):
            return f"must be a mapping, got {_short(value)}"
        problems = _problems(self.schema, value)
        return f"({'; '.join(problems)})" if problems else None


Spec = Int | Float | Choice | Text | Nested
SHA256_HEX = Text(r"[0-9a-f]{64}")


def check_hyperparameters(
    schema: Mapping[str, Spec], values: Mapping[str, Any], where: str
) -> None:
    """Raise one :class:`ModelFormatError` naming every field that breaks ``schema``.

    Unknown fields are refused (a typo must not silently fall back to a default); the
    recorded ``training`` settings must be a flat mapping of plain values.
    """
    problems = _problems(schema, values)
    if problems:
        raise ModelFormatError(f"{where}: hyperparameters: {'; '.join(problems)}")


def _problems(schema: Mapping[str, Spec], values: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, spec in schema.items():
        if name in values:
            problem = spec.problem(values[name])
            if problem:
                problems.append(f"{name} {problem}")
        elif spec.required:
            problems.append(f"{name} is missing")
    unknown = sorted(k for k in values if k not in schema and k != TRAINING_KEY)
    if unknown:
        problems.append(f"unknown field(s) {', '.join(_short(k) for k in unknown)}")
    training = values.get(TRAINING_KEY, {})
    if not isinstance(training, Mapping) or not all(
        isinstance(v, str | int | float | bool) or v is None for v in training.values()
    ):
        problems.append(f"{TRAINING_KEY} must be a mapping of plain values")
    return problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
