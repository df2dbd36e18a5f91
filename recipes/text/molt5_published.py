"""Published MolT5 / T5 text-to-molecule models on ChEBI-20 test, rescored by molbench.

    molbench build text --config chebi20 --splits validation,test --source ../shared/data \
        --out builds
    python recipes/text/molt5_published.py --source=../shared/data --data=builds/text/1.0.0 \
        --record=true

Reads the eight ``caption2smiles`` files that Edwards et al. (EMNLP 2022) released in
blender-nlp/MolT5 (``<source>/published_outputs/molt5/predictions/``, sha256-pinned below),
scores each exactly as ``molbench eval --predictions FILE --format molt5`` does (the ``molt5``
importer matches it to the test split) and, with ``--record``, writes one result per model into
``leaderboards/results/text/published/`` with the numbers the paper printed (``reported``)
beside ours. The released files are read in place, never copied into the repository.
"""

from dataclasses import dataclass
from pathlib import Path

from rdkit import Chem
from rdkit.rdBase import BlockLogs

from molbench import fsutil, recipe
from molbench.errors import ChecksumError
from molbench.evaluate import evaluate_predictions
from molbench.hardware import describe
from molbench.importers import import_predictions
from molbench.tasks.reaction_metrics import parse_smiles


@dataclass(frozen=True)
class Settings:
    source: str = "../shared/data"  # raw root holding published_outputs/molt5/predictions/
    root: str = ""  # dataset root ("" = $MOLBENCH_HOME or ~/.cache/molbench)
    data: str = ""  # a build directory with the chebi20 config (test split)
    record: bool = False  # write results into leaderboards/results/text/published/


@dataclass(frozen=True)
class Published:
    model: str
    file: str
    sha256: str
    reported: dict  # metric -> the value the paper printed (ChEBI-20 test, text -> molecule)


PAPER = "Edwards et al., EMNLP 2022 (MolT5), Table: text-based de novo molecule generation"
REPOSITORY = "blender-nlp/MolT5"
COMMIT = "6430076f9c91ecb6a01b902b9cdc3f0c68121682"  # "Add the predictions of all models"
# The paper's Morgan FTS is RDKit's count Morgan fingerprint: molbench's morgan_count_fts.
MOLT5_LARGE_REPORTED = {
    "bleu": 0.854,
    "exact_match": 0.311,
    "levenshtein": 16.07,
    "maccs_fts": 0.834,
    "rdk_fts": 0.746,
    "morgan_count_fts": 0.684,
    "validity": 0.905,
}
MODELS = (
    Published(
        "MolT5-Large",
        "molt5-large-caption2smiles.txt",
        "bd7243a0762face8e4cff078f498639bf2fc8077b318e97d901d00193d26083b",
        MOLT5_LARGE_REPORTED,
    ),
    Published(
        "MolT5-Base",
        "molt5-base-caption2smiles.txt",
        "e08d223159e00e80b86d98936a03befc51e9fcb443037aa518be305e02219a58",
        {"exact_match": 0.081, "validity": 0.772},
    ),
    Published(
        "MolT5-Small",
        "molt5-small-caption2smiles.txt",
        "c65c8c92c29349858f7af0032a424a98e8bbe370f8c6109f5489386e0654eea7",
        {},
    ),
    Published(
        "T5-Large (T5 v1.1)",
        "t5-v1_1-large-caption2smiles.txt",
        "f788868c8cebf0d7c03c8a6fcb3a08148e66ba0dd175fe8708a3de7792f2d81d",
        {"exact_match": 0.279, "validity": 0.902},
    ),
    Published(
        "T5-Base (T5 v1.1)",
        "t5-v1_1-base-caption2smiles.txt",
        "70a6e5203b246e0febdbf4257497a00779c9f362ebfa3157a2ea25a527840a60",
        {},
    ),
    Published(
        "T5-Small (T5 v1.1)",
        "t5-v1_1-small-caption2smiles.txt",
        "50c82220477d18bbb6ca9cea5a1a12eed9e58a6ddf0310cdaca58cf4e13b18e7",
        {},
    ),
    Published(
        "T5-Small (T5 v1.1), fine-tuned from C4 pretraining",
        "t5-v1_1-small-caption2smiles-ft-from-pretrained-c4.txt",
        "ee2e0ab456004b9ac17ff475e2c257fe9046820944a6c0561d8f66809c74c8a6",
        {},
    ),
    Published(
        "T5-Small (T5 v1.1), fine-tuned from ZINC pretraining",
        "t5-v1_1-small-caption2smiles-ft-from-pretrained-zinc.txt",
        "4434779a9cc806df018d82ae4df912a478c4b9e9f03280aa34728b019abacd56",
        {},
    ),
)


def method_name(published: Published) -> str:
    """``molt5_large_published``, ``t5_v1_1_small_c4_published``, ... from the file name."""
    stem = published.file.removesuffix(".txt").replace("-caption2smiles", "")
    stem = stem.replace("-ft-from-pretrained", "")
    return stem.replace("-", "_").replace(".", "_") + "_published"


def note(published: Published, metrics: dict, outputs: list[str]) -> str:
    """Where molbench's numbers and the paper's part, and why."""
    with BlockLogs():
        lenient = [o for o in outputs if Chem.MolFromSmiles(o) is not None]
    only_molt5 = [o for o in lenient if parse_smiles(o) is None]
    empty = sum(1 for o in only_molt5 if not o.strip())
    parts = [
        f"Validity {metrics['validity']:.4f} as molbench counts it, "
        f"{metrics['validity_molt5']:.4f} as MolT5 counts it (Chem.MolFromSmiles is not None): "
        f"{len(only_molt5)} outputs are valid for MolT5 only ({empty} empty, "
        f"{len(only_molt5) - empty} a SMILES followed by words)."
    ]
    apart = [m for m, v in published.reported.items() if abs(metrics[m] - v) > _half_last(v)]
    if apart:
        parts.append(
            "BLEU, Levenshtein, exact match and FTS are computed here as MolT5's scripts "
            "compute them, and validity counted MolT5's way does not close the gap, so it is "
            "in the file, not the scoring: the released file is probably not the exact run "
            "behind the paper's table (the curator of these files found the same under the "
            "RDKit version MolT5 pins)."
        )
    if not published.reported:
        parts.append("No number the paper printed for this model is transcribed here.")
    return " ".join(parts)


def _half_last(value: float) -> float:
    """Rounding of a printed number: half a unit of its last digit (0.311 -> 0.0005)."""
    return 0.5 * 10.0 ** -len(f"{value:.6g}".partition(".")[2]) + 1e-9


s = recipe.parse_overrides(Settings())
built = recipe.dataset("text", s.root, s.data, ["chebi20"])
test = built.table("chebi20", "test")
folder = Path(s.source) / "published_outputs" / "molt5" / "predictions"
run = recipe.Run("molt5_published", __file__, seed=None)

for published in MODELS:
    path = folder / published.file
    digest = fsutil.sha256_file(path)
    if digest != published.sha256:
        raise ChecksumError(
            f"{path}: sha256 {digest}, expected {published.sha256} (the released file)"
        )
    result = evaluate_predictions(path, str(built.path), "chebi20", "test", format="molt5")
    method = method_name(published)
    outputs = import_predictions("molt5", path, test)["smiles"].to_pylist()  # for the note
    result["source"]["kind"] = "published"
    result["source"]["published"] = {
        "model": published.model,
        "paper": PAPER,
        "repository": REPOSITORY,
        "commit": COMMIT,
        "path": f"predictions/{published.file}",
        "sha256": digest,
        "reported": published.reported,
        "note": note(published, result["metrics"], outputs),
    }
    result["run"] = {
        "method": method,
        "recipe": run.recipe,
        "seed": None,
        "n_parameters": None,
        "train_seconds": None,
        "hardware": describe("cpu"),  # where it was scored; the authors ran the model
        "git_commit": run.commit,
    }
    m = result["metrics"]
    print(
        f"{published.model:<52} exact {m['exact_match']:.4f}  BLEU {m['bleu']:.4f}  "
        f"Levenshtein {m['levenshtein']:.2f}  validity {m['validity']:.4f} "
        f"(MolT5's count {m['validity_molt5']:.4f})  MACCS/RDK/Morgan(count) "
        f"{m['maccs_fts']:.3f}/{m['rdk_fts']:.3f}/{m['morgan_count_fts']:.3f}"
    )
    for metric, value in published.reported.items():
        print(f"    {metric:<18} paper {value:<8} molbench {m[metric]:.4f}")
    if s.record:
        directory = run.repo_root / "leaderboards" / "results" / "text" / "published"
        fsutil.write_json(directory / recipe.result_file_name(method, "chebi20", None), result)
