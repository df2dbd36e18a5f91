"""Pure checks of a manifest's own content: canonical digest, files hash, structure, paths.

No I/O here: ``store`` reads and writes manifests and checks them against the disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

CARD_NAME = "README.md"
QUARANTINE_DIR = "quarantine"
_PLAIN_NAME = re.compile(r"\w+(?:[.+-]\w+)*")  # dataset, version, config, split, group
_HEX64 = re.compile(r"[0-9a-f]{64}")


def version_hash(groups: dict[str, dict[str, Any]]) -> str:
    """The version's content hash: its group's hash when there is one group, else a hash
    over every group's hash (so one group's hash stays its identity whatever else is built)."""
    if len(groups) == 1:
        return next(iter(groups.values()))["content_hash"]
    digest = hashlib.sha256(b"molbench-groups-v1\n")
    for group in sorted(groups):
        digest.update(f"{group}={groups[group]['content_hash']}\n".encode())
    return "sha256:" + digest.hexdigest()


def seal(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest with its files hash and digest (re)computed: what a build writes."""
    sealed = {k: v for k, v in manifest.items() if k not in ("files_hash", "digest")}
    shas = {rel: record["sha256"] for rel, record in sealed["files"].items()}
    sealed["files_hash"] = files_hash(sealed, shas)
    sealed["digest"] = manifest_digest(sealed)
    return sealed


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """sha256 over the manifest's canonical JSON (sorted keys, no spaces), ``digest`` left out.

    It catches any edit of counts, parameters, audits or hashes. It is no signature: whoever
    reseals an edit with this code passes it, and only the Parquet row counts, ``verify
    --deep`` and a content hash recorded elsewhere (results, papers) can tell.
    """
    body = json.loads(json.dumps({k: v for k, v in manifest.items() if k != "digest"}))
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(b"molbench-manifest-v1\n" + text.encode()).hexdigest()


def files_hash(manifest: Mapping[str, Any], sha256s: Mapping[str, str]) -> str:
    """One hash binding each config's content hash to its splits' file sha256s in shard order.

    Checked against the per-file records on every read (which ``verify`` checks against the
    bytes), it catches split files swapped or relisted without reading a row, even under a
    digest recomputed by hand.
    """
    digest = hashlib.sha256(b"molbench-files-v1\n")
    for config in sorted(manifest["configs"]):
        entry = manifest["configs"][config]
        digest.update(f"{config} {entry['content_hash']}\n".encode())
        for split in sorted(entry["splits"]):
            for rel in entry["splits"][split]["files"]:
                digest.update(f"{split} {rel} {sha256s[rel]}\n".encode())
    return "sha256:" + digest.hexdigest()


def is_plain(name: Any) -> bool:
    """Whether a name from a manifest is safe in paths and messages (no separators, no dots)."""
    return isinstance(name, str) and _PLAIN_NAME.fullmatch(name) is not None


def structure_problem(m: Mapping[str, Any]) -> str | None:
    """Why a manifest, even one whose digest holds, cannot describe a sound build; else None."""
    try:
        for key in ("name", "version"):
            if not is_plain(m[key]):
                return f"{key} {m[key]!r} is not a plain name"
        files, groups, configs = m["files"], m["groups"], m["configs"]
        if not all(isinstance(x, dict) for x in (files, groups, configs)):
            return "files, groups and configs must be JSON objects"
        for rel, record in files.items():
            problem = _path_problem(rel, configs)
            if problem is not None:
                return problem
            if not (isinstance(record["sha256"], str) and _HEX64.fullmatch(record["sha256"])):
                return f"{rel} has no sha256"
            if not _count(record["bytes"]):
                return f"{rel} has no byte size"
        for group, entry in groups.items():
            for config in entry["configs"]:
                if configs.get(config, {}).get("group") != group:
                    return f"group {group} lists config {config!r}, which is not in it"
        in_splits: list[str] = []
        for config, entry in configs.items():
            group = groups.get(entry["group"])
            if group is None or config not in group["configs"]:
                return f"config {config} belongs to no group of this build"
            if entry["content_hash"] != group["content_hash"]:
                return f"config {config}'s content hash differs from its group's"
            rows = 0
            for split, info in entry["splits"].items():
                listed = info["files"]
                if not is_plain(split) or not listed or not _count(info["rows"]):
                    return f"split {config}/{split!r} is malformed"
                if any(rel not in files or not rel.startswith(f"{config}/") for rel in listed):
                    return f"split {config}/{split} lists files outside {config}/ or the manifest"
                in_splits += listed
                rows += info["rows"]
            if rows != group["rows"]:
                return f"config {config}'s splits hold {rows} rows, its group {group['rows']}"
        if len(in_splits) != len(set(in_splits)):
            return "a file is listed in more than one split"
        if m["content_hash"] != version_hash(groups):
            return "content_hash does not combine its groups' content hashes"
        shas = {rel: record["sha256"] for rel, record in files.items()}
        if m["files_hash"] != files_hash(m, shas):
            return "the split files do not match the files hash (split lists edited or swapped)"
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        return f"malformed ({type(e).__name__}: {e})"
    return None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _path_problem(rel: Any, configs: Mapping[str, Any]) -> str | None:
    """A listed path must be relative, stay inside the build and follow its layout."""
    if not isinstance(rel, str):
        return f"file path {rel!r} is not a string"
    parts = rel.split("/")
    if PurePosixPath(rel).is_absolute() or any(p in ("", ".", "..") for p in parts):
        return f"file path {rel!r} is absolute or leaves the build directory"
    in_layout = parts == [CARD_NAME] or (
        len(parts) == 2
        and _PLAIN_NAME.fullmatch(parts[1]) is not None
        and (
            (parts[0] in configs and parts[1].endswith(".parquet"))
            or (parts[0] == QUARANTINE_DIR and parts[1].endswith(".jsonl"))
        )
    )
    return None if in_layout else f"file path {rel!r} is not in a build's layout"
