"""Round-trip checks of generated names through OPSIN, an independent name-to-structure parser.

Agreement shows that a name denotes the intended structure, not that it is the preferred
IUPAC name. OPSIN runs in Java via ``py2opsin`` (the optional ``opsin`` extra), and every
call starts a JVM, so all names go to OPSIN in one batch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")
log = logging.getLogger(__name__)

MAX_DISAGREEMENTS = 10


class OpsinError(RuntimeError):
    """OPSIN cannot run here, or returned something other than one line per name."""


@dataclass(frozen=True)
class RoundTrip:
    """How many names OPSIN turned back into the expected structure, and the first misses."""

    checked: int
    agreed: int
    disagreements: tuple[tuple[str, str, str], ...]  # (name, expected, got); got "" = no parse
    opsin_version: str | None

    @property
    def rate(self) -> float:
        return self.agreed / self.checked if self.checked else 1.0


def opsin_available() -> str | None:
    """None when OPSIN can run here, else why not (for ``pytest.skip`` and error messages)."""
    if importlib.util.find_spec("py2opsin") is None:
        return "py2opsin not installed (pip install py2opsin)"
    if shutil.which("java") is None:
        return "Java not found (OPSIN needs a Java runtime on PATH)"
    return None


def opsin_version() -> str | None:
    """Version of the OPSIN jar that py2opsin bundles, read from the jar's file name."""
    if importlib.util.find_spec("py2opsin") is None:
        return None
    for entry in files("py2opsin").iterdir():
        match = re.fullmatch(r"opsin-cli-([\d.]+)-jar-with-dependencies\.jar", entry.name)
        if match:
            return match.group(1)
    return None


def canonical(smiles: str) -> str:
    """RDKit canonical SMILES, or "" when the text is empty or cannot be parsed."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return Chem.MolToSmiles(mol) if mol is not None else ""


def parse_names(names: Sequence[str]) -> list[str]:
    """OPSIN's SMILES for each name ("" where it could not parse one), in one JVM call."""
    reason = opsin_available()
    if reason is not None:
        raise OpsinError(reason)
    if not names:
        return []
    if any("\n" in n for n in names):
        raise ValueError("names must not contain newlines: OPSIN reads one name per line")
    from py2opsin import py2opsin

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = py2opsin(list(names), tmp_fpath=str(Path(tmp) / "names.txt"))
    for warning in caught:
        log.debug("py2opsin: %s", warning.message)
    if result is False or len(result) != len(names):
        got = "an error" if result is False else f"{len(result)} results"
        raise OpsinError(f"OPSIN returned {got} for {len(names)} names")
    return list(result)


def round_trip(names: Sequence[str], expected_smiles: Sequence[str]) -> RoundTrip:
    """Parse ``names`` with OPSIN and compare with ``expected_smiles`` after canonicalisation."""
    if len(names) != len(expected_smiles):
        raise ValueError(f"{len(names)} names but {len(expected_smiles)} expected SMILES")
    parsed = parse_names(names)
    agreed = 0
    disagreements = []
    for name, expected, got in zip(names, expected_smiles, parsed, strict=True):
        want, have = canonical(expected), canonical(got)
        if want and want == have:
            agreed += 1
        elif len(disagreements) < MAX_DISAGREEMENTS:
            disagreements.append((name, want or expected, have or got))
    return RoundTrip(len(names), agreed, tuple(disagreements), opsin_version())


def py2opsin_version() -> str | None:
    """Installed py2opsin version, for manifests and reports."""
    try:
        return importlib.metadata.version("py2opsin")
    except importlib.metadata.PackageNotFoundError:
        return None
