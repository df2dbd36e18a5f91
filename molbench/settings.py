"""Field types of settings dataclasses (build parameters, recipe settings), resolved.

Kept apart from the pipeline so that code which never builds (a recipe on a machine
without RDKit) can parse its settings.
"""

from __future__ import annotations

import dataclasses
import typing


def param_types(params_type: type) -> dict[str, type]:
    """Each parameter's declared type (annotations resolved, also under postponed evaluation)."""
    hints = typing.get_type_hints(params_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(params_type)}
