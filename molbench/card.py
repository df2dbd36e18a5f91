"""Dataset cards: README.md with Hugging Face YAML, generated from DatasetInfo and the manifest.

The YAML ``configs:`` block is what makes ``datasets.load_dataset(path, config)`` work on a
build directory with no loading script and no network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from molbench.builders.base import DatasetInfo


def render_card(
    info: DatasetInfo, manifest: Mapping[str, Any], split_notes: Mapping[str, str]
) -> str:
    """The card for one build. Deterministic: no timestamps, so it is hashed like the data."""
    return "\n".join(
        [
            _yaml_header(info, manifest),
            f"# {info.title} — molbench `{info.name}` {info.version}",
            "",
            info.summary.strip(),
            "",
            "## Loading",
            "",
            "```python",
            "import datasets",
            f'ds = datasets.load_dataset("<this directory>", "{next(iter(manifest["configs"]))}")',
            "",
            "import molbench  # verifies every file's sha256 against manifest.json first",
            'built = molbench.open_dataset("<this directory>")',
            "```",
            "",
            "## Configs and splits",
            "",
            _split_table(manifest, split_notes),
            "",
            f"Content hash (rows + split assignment): `{manifest['content_hash']}`",
            "",
            "## Columns",
            "",
            "| column | type | meaning |",
            "| --- | --- | --- |",
            *(
                f"| `{name}` | `{manifest['schema'].get(name, '?')}` | {doc} |"
                for name, doc in info.columns.items()
            ),
            "",
            info.notes.strip(),
            "",
            "## Audits",
            "",
            "Recorded by the build in `manifest.json` under `audits`:",
            "",
            "```json",
            json.dumps(manifest["audits"], indent=2, sort_keys=True),
            "```",
            "",
            "## Build parameters",
            "",
            "```json",
            json.dumps(manifest["parameters"], indent=2, sort_keys=True),
            "```",
            "",
            "Rebuild byte-identically with the same molbench version and parameters; "
            "`molbench verify <this directory>` checks every file against `manifest.json`.",
            "",
            "## License",
            "",
            f"`{info.license}`",
            "",
            "## Citation",
            "",
            "```bibtex",
            info.citation.strip(),
            "```",
            "",
        ]
    )


def _yaml_header(info: DatasetInfo, manifest: Mapping[str, Any]) -> str:
    lines = ["---", f"license: {info.license}", f"pretty_name: {info.title}", "configs:"]
    for i, (config, c) in enumerate(manifest["configs"].items()):
        lines.append(f"- config_name: {config}")
        if i == 0:
            lines.append("  default: true")
        # datasets keys its cache on the config, so the content hash keeps builds apart
        lines.append(
            f'  description: "molbench {info.name} {info.version} {config}; '
            f'content {manifest["content_hash"]}"'
        )
        lines.append("  data_files:")
        for split in c["splits"]:
            lines += [f"  - split: {split}", f"    path: {config}/{split}-*.parquet"]
    lines.append("---")
    return "\n".join(lines) + "\n"


def _split_table(manifest: Mapping[str, Any], split_notes: Mapping[str, str]) -> str:
    rows = ["| config | split | rows | how it was made |", "| --- | --- | ---: | --- |"]
    for config, c in manifest["configs"].items():
        for split, s in c["splits"].items():
            rows.append(f"| `{config}` | {split} | {s['rows']:,} | {split_notes.get(config, '')} |")
    return "\n".join(rows)
