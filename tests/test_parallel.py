"""The per-row map on a Dask cluster gives the same builds as local processes."""

from __future__ import annotations

import json
from importlib import metadata

import pytest

import molbench
from molbench import parallel
from molbench.errors import BuildError, ParameterError
from molbench.pipeline import _check_dask_workers

from .conftest import RAW
from .test_build_hashes import CASES, RECORD, opsin_state, summary

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-thread workers in this process (fast to start), over TCP on 127.0.0.1."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
    ) as local:
        yield local


@pytest.mark.parametrize(
    "case", ["validity_small", "reactions_all", "text_chebi20_evaluation_only"]
)
def test_dask_build_equals_the_local_build(case, cluster, raw_fixtures, tmp_path) -> None:
    """Same content hash and Parquet bytes as the local build recorded for this case."""
    dataset, params, configs, raw = CASES[case]
    result = molbench.build(
        dataset,
        params,
        configs=configs,
        out=tmp_path,
        source=RAW if raw else None,
        scheduler=cluster.scheduler_address,
    )
    recorded = json.loads(RECORD.read_text())
    key = f"{case}/{opsin_state()}" if dataset == "text" else case
    expected = recorded["cases"][key]
    got = summary(result)
    assert got["content_hash"] == expected["content_hash"]
    if metadata.version("pyarrow") == recorded["pyarrow"]:
        assert got["files"] == expected["files"]
    group = next(iter(result.manifest["groups"].values()))
    assert group["executor"] == "dask" and group["workers"] == 2


def test_workers_with_other_library_versions_are_refused() -> None:
    class Cluster:
        def run(self, fn):
            return {"tcp://10.0.0.2:4000": {**fn(), "rdkit": "2020.09.1"}}

    with pytest.raises(BuildError, match=r"1 Dask worker\(s\) run other library versions"):
        _check_dask_workers(Cluster())


def test_scheduler_and_local_cluster_exclude_each_other() -> None:
    with pytest.raises(ParameterError, match="not both"), parallel.dask_cluster("tcp://x:1", 2):
        pass


def test_cli_builds_on_a_scheduler(cluster, tmp_path) -> None:
    from click.testing import CliRunner

    from molbench.cli import main

    args = ["build", "validity", "--n-molecules", "100", "--max-carbons", "8"]
    args += ["--size-ood-max-train-carbons", "5", "--out", str(tmp_path), "-q"]
    result = CliRunner().invoke(main, [*args, "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 0, result.output
    manifest = molbench.open_dataset(tmp_path / "validity" / "1.0.0").manifest
    assert manifest["groups"]["default"]["executor"] == "dask"
