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
            f"Content hash (rows + split assignment of every group): `{manifest['content_hash']}`",
            "",
            *_absent_splits(manifest),
            "## Columns",
            "",
            _columns(info, manifest),
            "",
            info.notes.strip(),
            "",
            *_group_sections(manifest),
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
    lines = [
        "---",
        f"license: {info.license}",
        f"pretty_name: {json.dumps(info.title)}",
        "configs:",
    ]
    for i, (config, c) in enumerate(manifest["configs"].items()):
        lines.append(f"- config_name: {config}")
        if i == 0:
            lines.append("  default: true")
        # datasets keys its cache on the config, so the content hash keeps builds apart
        lines.append(
            f'  description: "molbench {info.name} {info.version} {config}; '
            f'content {c["content_hash"]}"'
        )
        lines.append("  data_files:")  # exact files, no glob: a stray file joins no split
        for split, s in c["splits"].items():
            lines += [f"  - split: {split}", "    path:", *(f"    - {rel}" for rel in s["files"])]
    # load_dataset checks each split's num_examples (its files may not swap or grow); it
    # reads the entry only with num_bytes, given here as the split's Parquet bytes
    lines.append("dataset_info:")
    for config, c in manifest["configs"].items():
        lines += [f"- config_name: {config}", "  splits:"]
        for split, s in c["splits"].items():
            size = sum(manifest["files"][rel]["bytes"] for rel in s["files"])
            lines += [
                f"  - name: {split}",
                f"    num_bytes: {size}",
                f"    num_examples: {s['rows']}",
            ]
    lines.append("---")
    return "\n".join(lines) + "\n"


def _split_table(manifest: Mapping[str, Any], split_notes: Mapping[str, str]) -> str:
    rows = ["| config | split | rows | how it was made |", "| --- | --- | ---: | --- |"]
    for config, c in manifest["configs"].items():
        for split, s in c["splits"].items():
            rows.append(f"| `{config}` | {split} | {s['rows']:,} | {split_notes.get(config, '')} |")
    return "\n".join(rows)


def _absent_splits(manifest: Mapping[str, Any]) -> list[str]:
    lines = []
    for config, c in manifest["configs"].items():
        for split, hint in c.get("absent_splits", {}).items():
            lines.append(f"- `{config}` has no **{split}** split in this build: {hint}")
    if not lines:
        return []
    return ["**Evaluation-only build.**", "", *lines, ""]


def _columns(info: DatasetInfo, manifest: Mapping[str, Any]) -> str:
    groups = manifest["groups"]
    rows = ["| column | type | groups | meaning |", "| --- | --- | --- | --- |"]
    for name, doc in info.columns.items():
        having = [g for g, e in groups.items() if name in e["schema"]]
        if not having:
            continue
        types = sorted({groups[g]["schema"][name] for g in having})
        rows.append(f"| `{name}` | `{' / '.join(types)}` | {', '.join(having)} | {doc} |")
    return "\n".join(rows)


def _group_sections(manifest: Mapping[str, Any]) -> list[str]:
    """Per group: sources read, quarantine, audits and parameters, as recorded."""
    lines: list[str] = []
    for group, entry in manifest["groups"].items():
        lines += [f"## Group `{group}` (configs: {', '.join(entry['configs'])})", ""]
        for config, reason in entry.get("configs_not_built", {}).items():
            lines += [f"- config `{config}` not built: {reason}"]
        sources = entry.get("sources", [])
        if sources:
            lines += ["", "Raw files read:", ""]
            lines += [
                f"- `{s['source']}/{s['filename']}` sha256 `{s['sha256']}` "
                f"({'verified against the pin' if s['verified'] else 'NOT verified'})"
                for s in sources
            ]
        quarantine = entry.get("quarantine", {})
        lines += [
            "",
            f"Quarantined raw records: {quarantine.get('rows', 0)}"
            + (f" (in `{quarantine['file']}`, with reasons)" if quarantine.get("file") else ""),
            "",
            f"Audits (`manifest.json`, `groups.{group}.audits`):",
            "",
            "```json",
            json.dumps(entry["audits"], indent=2, sort_keys=True),
            "```",
            "",
            "Counts:",
            "",
            "```json",
            json.dumps(entry["counts"], indent=2, sort_keys=True),
            "```",
            "",
            "Build parameters:",
            "",
            "```json",
            json.dumps(entry["parameters"], indent=2, sort_keys=True),
            "```",
            "",
        ]
    if manifest.get("cross_audits"):
        lines += [
            "## Audits across groups",
            "",
            "```json",
            json.dumps(manifest["cross_audits"], indent=2, sort_keys=True),
            "```",
            "",
        ]
    return lines
