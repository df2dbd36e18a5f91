"""Size limits for SMILES from untrusted files (predictions, released outputs), before RDKit.

RDKit canonicalises recursively: on this project's machines a 18,179-atom chain (``CCC…``,
or the same chain written as nested branches ``C(C(C(…)))``) overflows the default 8 MiB
stack and kills the whole process with SIGSEGV, and canonicalising time grows with the
square of the atom count (``tools/rdkit_crash_thresholds.py`` measures both). Every atom
takes at least one character, so a length limit bounds the recursion depth; the limits sit
far above every real molecule (longest product SMILES in USPTO-MIT: 870 characters; in
ChEBI-20: 1,598, branches nested at most 75 deep) and far below the crash. A string over a
limit is an invalid prediction, scored as wrong like any SMILES RDKit rejects.
"""

from __future__ import annotations

MAX_SMILES_LENGTH = 4096  # characters; crash measured from 18,179 atoms (8 MiB stack)
MAX_BRANCH_DEPTH = 256  # nested '(' levels


def smiles_too_large(smiles: str) -> str | None:
    """Why ``smiles`` is refused before RDKit sees it (too long, too deeply nested), or None."""
    if len(smiles) > MAX_SMILES_LENGTH:
        return f"longer than {MAX_SMILES_LENGTH:,} characters ({len(smiles):,})"
    if smiles.count("(") <= MAX_BRANCH_DEPTH:  # the common case: no need to walk it
        return None
    depth = deepest = 0
    for char in smiles:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    if deepest > MAX_BRANCH_DEPTH:
        return f"branches nested deeper than {MAX_BRANCH_DEPTH} ({deepest})"
    return None
