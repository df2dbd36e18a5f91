"""The ``molbench`` command line: parses options, calls the library, prints results.

Every expected failure (bad option, missing data, tampered file) ends as one line on
stderr starting with ``error:`` and exit status 2 — never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from molbench import fsutil, store
from molbench.errors import DatasetNotFoundError, MolbenchError

try:  # the builders need RDKit; a GPU machine without it still runs `molbench predict`
    from molbench.builders import BUILDERS, Builder
    from molbench.pipeline import BuildResult, build, param_types
except ImportError as missing:
    BUILDERS, NO_BUILDERS = {}, f"building needs RDKit, which is not installed here ({missing})"
else:
    NO_BUILDERS = ""


class _OneLineErrors(click.Group):
    """Turn every user-facing exception into ``error: ...`` and an exit status."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Abort:
            _fail("interrupted", 130)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help())
            sys.exit(0)
        except click.UsageError as e:
            hint = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
            _fail(e.format_message() + hint, e.exit_code)
        except click.ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except MolbenchError as e:
            _fail(str(e), 2)
        except OSError as e:
            _fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e), 2)
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="molbench")
def main() -> None:
    """Versioned, audited molecular ML datasets and benchmarks."""
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")


class _BuildGroup(click.Group):
    """Without RDKit there are no builders: say so instead of "no such command"."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if NO_BUILDERS:
            raise MolbenchError(NO_BUILDERS)
        return super().resolve_command(ctx, args)


@main.group("build", cls=_BuildGroup)
def build_group() -> None:
    """Build a dataset into <root>/<name>/<version>.

    The root is --out, else $MOLBENCH_HOME, else ~/.cache/molbench.
    """


def _build_command(name: str, builder: Builder) -> click.Command:
    fields = dataclasses.fields(builder.params_type)
    types = param_types(builder.params_type)
    configs = [d.config for d in builder.split_definitions]

    def run(
        out: str | None,
        force: bool,
        workers: int | None,
        quiet: bool,
        config: tuple[str, ...],
        scheduler: str | None,
        dask_local: int | None,
        source: str | None = None,
        allow_unverified: bool = False,
        **params: Any,
    ) -> None:
        chosen = [c.strip() for value in config for c in value.split(",") if c.strip()]
        result = build(
            name,
            params,
            configs=chosen or None,
            out=out,
            force=force,
            workers=workers,
            progress=not quiet,
            source=source,
            allow_unverified=allow_unverified,
            scheduler=scheduler,
            dask_local=dask_local,
        )
        _report_build(result)

    options = [
        click.Option(
            [f"--{f.name.replace('_', '-')}"],
            type=types[f.name],
            default=f.default,
            show_default=True,
            help=f.metadata.get("help", ""),
        )
        for f in fields
    ] + [
        click.Option(
            ["--config"],
            multiple=True,
            help=f"Config(s) to build, comma-separated or repeated: {', '.join(configs)} "
            f"[default: {', '.join(builder.default_configs)}]. Configs that share rows are "
            "built together.",
        ),
        click.Option(["--out"], type=click.Path(file_okay=False), help="Root directory of builds."),
        click.Option(["--force"], is_flag=True, help="Rebuild even if this version exists."),
        click.Option(
            ["--workers"], type=click.IntRange(min=1), help="Processes to use [default: all cores]."
        ),
        click.Option(["--quiet", "-q"], is_flag=True, help="No progress bars."),
        click.Option(
            ["--scheduler"],
            metavar="ADDRESS",
            help="Run the per-row work on this Dask cluster (tcp://HOST:8786) instead of "
            "local processes; files are written here. Needs the dask extra.",
        ),
        click.Option(
            ["--dask-local"],
            type=click.IntRange(min=1),
            metavar="N",
            help="Run the per-row work on a Dask LocalCluster of N processes on 127.0.0.1.",
        ),
    ]
    if builder.raw_sources:
        folders = ", ".join(f"{s}/" for s in builder.raw_sources)
        options += [
            click.Option(
                ["--source"],
                type=click.Path(file_okay=False),
                help=f"Raw-data root with one folder per source ({folders}) holding the "
                "upstream files as published [default: $MOLBENCH_RAW_DIR, else download].",
            ),
            click.Option(
                ["--allow-unverified"],
                is_flag=True,
                help="Use raw files whose checksum differs from the pinned one (recorded).",
            ),
        ]
    return click.Command(
        name,
        callback=run,
        params=options,
        help=f"{builder.info.title} ({builder.info.version}).\n\n"
        + builder.info.summary.replace("**", ""),
        short_help=builder.info.title,
    )


for _name, _builder in BUILDERS.items():
    build_group.add_command(_build_command(_name, _builder))


def _rows(manifest: dict[str, Any]) -> int:
    return sum(g["rows"] for g in manifest["groups"].values())


def _report_build(result: BuildResult) -> None:
    m = result.manifest
    if result.skipped:
        click.echo(
            f"{m['name']} {m['version']} is already built with these parameters "
            f"(use --force to rebuild): {result.path}"
        )
    else:
        for group in result.groups:
            g = m["groups"][group]
            click.echo(
                f"built {m['name']} {m['version']} {group}: {g['rows']:,} rows "
                f"in {g['build_seconds']} s"
            )
            if g["quarantine"]["rows"]:
                click.echo(
                    f"  quarantined {g['quarantine']['rows']} raw records with reasons: "
                    f"{result.path / g['quarantine']['file']}"
                )
            for config, reason in g.get("configs_not_built", {}).items():
                click.echo(f"  not built: {config} ({reason})")
    click.echo(f"  path:         {result.path}")
    click.echo(f"  content hash: {m['content_hash']}")
    for config, c in m["configs"].items():
        splits = ", ".join(f"{s} {info['rows']:,}" for s, info in c["splits"].items())
        absent = c.get("absent_splits", {})
        missing = f"  (no {', '.join(absent)}: evaluation-only)" if absent else ""
        click.echo(f"  config {config}: {splits}{missing}")
    built_configs = [c for g in result.groups for c in m["groups"][g]["configs"]]
    first = (built_configs or list(m["configs"]))[0]
    python = sys.executable
    click.echo("load it:")
    load = f"import datasets; print(datasets.load_dataset('{result.path}', '{first}'))"
    click.echo(f'  {python} -c "{load}"')
    click.echo(f"  {python} -c \"import molbench; print(molbench.open_dataset('{result.path}'))\"")


@main.command()
@click.argument("path", type=click.Path())
@click.option("--deep", is_flag=True, help="Also recompute the content hash from the data.")
def verify(path: str, deep: bool) -> None:
    """Re-hash every file of a build and compare with its manifest."""
    report = store.verify(_resolve(path), deep=deep)
    click.echo(
        f"ok: {report.files_checked} files, {report.bytes_checked:,} bytes match the manifest"
        f"{' and the content hash' if deep else ''} ({report.content_hash})"
    )


@main.command("list")
@click.option("--root", type=click.Path(file_okay=False), help="Root of builds to list.")
def list_command(root: str | None) -> None:
    """Show every sound build under the root (damaged ones are named as warnings)."""
    base = store.resolve_root(root)
    if root is not None and not base.is_dir():
        raise DatasetNotFoundError(f"--root {base} does not exist or is not a directory")
    builds = store.list_builds(base)
    if not builds:
        click.echo(f"no builds under {base}; try: molbench build validity")
        return
    click.echo(f"{'name':<12} {'version':<8} {'rows':>10}  {'content hash':<20} {'built':<25} path")
    for b in builds:
        built_at = max(g.get("built_at", "?") for g in b["groups"].values())
        click.echo(
            f"{b['name']:<12} {b['version']:<8} {_rows(b):>10,}  {b['content_hash'][:19]:<20} "
            f"{built_at:<25} {b['path']}"
        )


@main.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def info(path: str, as_json: bool) -> None:
    """Describe a build: parameters, configs, counts, audits, environment."""
    m = store.read_checked_manifest(_resolve(path))
    if as_json:
        click.echo(json.dumps(m, indent=2, sort_keys=True))
        return
    click.echo(f"{m['name']} {m['version']}  {m['content_hash']}")
    for group, g in m["groups"].items():
        env = ", ".join(f"{k} {v}" for k, v in g["environment"].items())
        click.echo(f"group {group}: {g['rows']:,} rows, {g['content_hash']}")
        click.echo(f"  built {g.get('built_at')} in {g.get('build_seconds')} s with {env}")
        click.echo(f"  parameters: {json.dumps(g['parameters'], sort_keys=True)}")
        for config in g["configs"]:
            c = m["configs"][config]
            splits = ", ".join(f"{s} {info['rows']:,}" for s, info in c["splits"].items())
            absent = "".join(f"; no {s}: {hint}" for s, hint in c.get("absent_splits", {}).items())
            click.echo(f"  config {config}: {splits}{absent}")
        for source in g.get("sources", []):
            verified = "verified" if source["verified"] else "NOT verified"
            click.echo(f"  source {source['source']}/{source['filename']}: {verified}")
        click.echo(f"  quarantined: {g['quarantine']['rows']}")
        click.echo(f"  counts: {json.dumps(g['counts'], sort_keys=True)}")
        for audit, result in g["audits"].items():
            click.echo(f"  audit {audit}: {json.dumps(result, sort_keys=True)}")
    for audit, result in m.get("cross_audits", {}).items():
        click.echo(f"cross audit {audit}: {json.dumps(result, sort_keys=True)}")


def _resolve(path: str) -> Path:
    """A build directory, or a dataset name / name/version under the default root."""
    given = Path(path)
    if given.is_dir():
        return given
    root = store.resolve_root()
    candidate = root / path
    if (candidate / store.MANIFEST_NAME).is_file():
        return candidate
    if path in BUILDERS:
        return store.version_dir(root, path, BUILDERS[path].info.version)
    raise DatasetNotFoundError(f"{path} is neither a build directory nor a dataset under {root}")


@main.command("eval")
@click.option("--model", "model_dir", type=click.Path(), help="Model directory to run and score.")
@click.option("--predictions", type=click.Path(), help="Parquet or CSV predictions to score.")
@click.option(
    "--outputs",
    "outputs_file",
    type=click.Path(dir_okay=False),
    help="With --model: the model's network outputs for this split (from `molbench predict` "
    "or a recipe on a machine without RDKit); only the RDKit half runs here.",
)
@click.option(
    "--dataset",
    default=None,
    help="Dataset name (under --root) or build directory [default: the model's, else validity].",
)
@click.option(
    "--config", default=None, help="Config [default: the model's, else the task's default]."
)
@click.option("--split", default="test", show_default=True, help="Split to score.")
@click.option(
    "--device",
    default=None,
    help="With --model: cpu or cuda [default: cpu]. Scoring a predictions file runs no "
    "network, so --device is refused there.",
)
@click.option("--root", type=click.Path(file_okay=False), help="Root of builds.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the result JSON here.")
@click.option(
    "--candidates",
    type=click.Path(),
    help="text task: `id` + `mol_embedding` for every chebi20_molecules row, to also rank "
    "each text against the whole corpus (Text2Mol's protocol).",
)
@click.option(
    "--rule",
    type=click.Choice(["exact", "subset"]),
    default=None,
    help="reactions: a prediction is right when its molecules equal the recorded products "
    "(exact, the default) or include them (subset: the WLDN authors' rule for edited "
    "mixtures). Recorded in the result.",
)
@click.option(
    "--format",
    "file_format",
    default=None,
    help="With --predictions: the file is a released output in this format, read by its "
    "importer (opennmt, csv-wide, cbond, molt5; see `molbench import --help`).",
)
@click.option("--n-best", type=click.IntRange(min=1), help="--format opennmt: lines per row.")
@click.option("--keep", help="--format cbond: mixture (default) or a product rule.")
@click.option("--replay", help="--format cbond: molbench (default) or authors (their scorer's).")
@click.option(
    "--record",
    "record_dir",
    type=click.Path(file_okay=False),
    help="Models only: also copy the result into this leaderboard results directory "
    "(e.g. leaderboards/results/reactions), named by method, config and seed; a model "
    "scored on another config than it trained on is recorded as a transfer.",
)
def eval_command(
    model_dir: str | None,
    predictions: str | None,
    outputs_file: str | None,
    dataset: str | None,
    config: str | None,
    split: str,
    device: str | None,
    root: str | None,
    out: str | None,
    candidates: str | None,
    rule: str | None,
    file_format: str | None,
    n_best: int | None,
    keep: str | None,
    replay: str | None,
    record_dir: str | None,
) -> None:
    """Score a model directory or a predictions file on one split."""
    from molbench.evaluate import evaluate_model, evaluate_predictions

    if (model_dir is None) == (predictions is None):
        raise click.UsageError("give exactly one of --model DIR or --predictions FILE")
    if record_dir is not None and model_dir is None:
        raise click.UsageError("--record needs --model (a recipe records its own predictions)")
    if record_dir is not None and rule not in (None, "exact"):
        raise click.UsageError(
            "--record files leaderboard rows, which are scored under the exact rule; "
            "score other rules with --out"
        )
    if outputs_file is not None and model_dir is None:
        raise click.UsageError("--outputs needs --model (the outputs of that model)")
    if device is not None and model_dir is None:
        raise click.UsageError(
            "--device applies only to --model: scoring a predictions file runs no network"
        )
    options = _import_options(n_best, keep, replay)
    if (file_format is not None or options) and predictions is None:
        raise click.UsageError("--format, --n-best, --keep and --replay need --predictions FILE")
    if options and file_format is None:
        raise click.UsageError("--n-best, --keep and --replay need --format")
    if model_dir is not None:
        result = evaluate_model(
            model_dir, dataset, config, split, device or "cpu", root, outputs_file, rule=rule
        )
    else:
        result = evaluate_predictions(
            predictions,
            dataset or "validity",
            config,
            split,
            root,
            candidates,
            rule=rule,
            format=file_format,
            import_options=options,
        )
    _print_result(result)
    if out:
        fsutil.write_json(Path(out), result)
        click.echo(f"result written to {out}")
    if record_dir is not None:
        from molbench.recipe import result_file_name

        if "trained_on_content_hash" in result:  # other data than it trained on, no transfer
            raise MolbenchError(
                "not recorded: the model was trained on other data than "
                f"{result['dataset']['config']} and this is not a transfer between sets "
                "(see the warning above)"
            )

        run, d = result["run"], result["dataset"]
        trained_on = (result.get("transfer") or {}).get("trained_on", "")
        name = result_file_name(run["method"], d["config"], run.get("seed"), trained_on)
        fsutil.write_json(Path(record_dir) / name, result)
        click.echo(f"recorded as {Path(record_dir) / name}")


def _import_options(n_best: int | None, keep: str | None, replay: str | None) -> dict[str, Any]:
    """The importer options given on the command line (only those set)."""
    given = (("n_best", n_best), ("keep", keep), ("replay", replay))
    return {k: v for k, v in given if v is not None}


@main.command("import")
@click.argument("file_format", metavar="FORMAT")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dataset", default="reactions", show_default=True, help="Dataset or build dir.")
@click.option("--config", default=None, help="Config [default: the task's default].")
@click.option("--split", default="test", show_default=True, help="Split the file predicts.")
@click.option("--root", type=click.Path(file_okay=False), help="Root of builds.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Parquet file.")
@click.option("--n-best", type=click.IntRange(min=1), help="opennmt: lines per row [inferred].")
@click.option(
    "--keep",
    default=None,
    help="cbond: mixture (every molecule after the edits, for --rule subset; default), "
    "largest or reactants (a product rule, for --rule exact).",
)
@click.option(
    "--replay",
    default=None,
    help="cbond: molbench (its valence repair; default) or authors (candidates rebuilt as "
    "the WLDN authors' scorer does, with --keep mixture).",
)
def import_command(
    file_format: str,
    file: str,
    dataset: str,
    config: str | None,
    split: str,
    root: str | None,
    out: str,
    n_best: int | None,
    keep: str | None,
    replay: str | None,
) -> None:
    """Turn a released prediction FILE in FORMAT into a standard predictions Parquet file.

    FORMAT: opennmt (Molecular Transformer: n_best space-tokenised lines per test row, in
    test order), csv-wide (id, prediction_1 ... prediction_k), cbond (WLDN/rexgen ranked
    bond edits per test line), molt5 (MolT5 caption2smiles TSV, matched by description;
    --dataset text --config chebi20).
    """
    from molbench.builders import resolve_dataset
    from molbench.evaluate import task_for
    from molbench.importers import import_predictions, write_predictions

    built = store.BuiltDataset(resolve_dataset(dataset, root))
    config = config or task_for(built.manifest).default_config
    table = import_predictions(
        file_format, Path(file), built.table(config, split), **_import_options(n_best, keep, replay)
    )
    write_predictions(table, Path(out))
    click.echo(f"wrote {out}: {table.num_rows:,} rows of {config}/{split} from {file_format}")


def _print_result(result: dict[str, Any]) -> None:
    d = result["dataset"]
    h = result["headline"]
    click.echo(
        f"{d['name']} {d['version']} / {d['config']} / {d['split']}  ({result['n_rows']:,} rows, "
        f"content {d['content_hash'][:19]}…)"
    )
    click.echo(
        f"  {h['metric']:<20} {h['value']:.4f}  (95% CI {h['ci95'][0]:.4f}-{h['ci95'][1]:.4f})"
    )
    for name, value in result["metrics"].items():
        if name != h["metric"]:
            click.echo(f"  {name:<20} {value:.4f}")
    for bucket, values in result["buckets"].items():
        cells = ", ".join(f"{k} {v:.3f}" for k, v in values.items())
        click.echo(f"  {bucket}: {cells}")
    if "protocol" in result:
        click.echo(f"  protocol: {json.dumps(result['protocol'], sort_keys=True)}")
    for warning in result.get("warnings", []):
        click.echo(f"  warning: {warning}")


@main.command("compare")
@click.argument("result_a", type=click.Path(exists=True, dir_okay=False))
@click.argument("result_b", type=click.Path(exists=True, dir_okay=False))
def compare_command(result_a: str, result_b: str) -> None:
    """Is RESULT_A better than RESULT_B? Paired tests on the same test rows."""
    from molbench.compare import compare, load_result

    a, b = load_result(Path(result_a)), load_result(Path(result_b))
    report = compare(a, b, ("A", "B"))
    d = a["dataset"]
    click.echo(
        f"{d['name']} {d['version']} / {d['config']} / {d['split']}: {report['metric']} on "
        f"{report['n']:,} shared rows ({'higher' if report['higher_is_better'] else 'lower'} "
        "is better)"
    )
    files = (result_a, result_b)
    for label, path, result, mean in zip("AB", files, (a, b), report["means"], strict=True):
        run = result.get("run") or {}
        seed = run.get("seed")
        who = f"{run.get('method', '?')}" + (f" seed {seed}" if seed is not None else "")
        click.echo(f"  {label}  {mean:.4f}  {who}  ({path})")
    for test in report["tests"]:
        low, high = test.ci95
        greater, two_sided = (  # a bootstrap cannot show a p below its resolution
            f"≤ {floor:.2g}" if p <= floor else f"= {p:.4g}"
            for p, floor in ((test.p_greater, test.p_floor), (test.p_two_sided, 2 * test.p_floor))
        )
        click.echo(
            f"  {test.test}: A - B = {test.difference:+.4f} (95% CI {low:+.4f} to {high:+.4f}); "
            f"one-sided p (A better) {greater}, two-sided p {two_sided}  [{test.detail}]"
        )


@main.command("predict")
@click.option("--model", "model_dir", required=True, type=click.Path(), help="Model directory.")
@click.option(
    "--dataset",
    default=None,
    help="Dataset name (under --root) or build directory [default: the model's].",
)
@click.option("--config", default=None, help="Config [default: the model's].")
@click.option("--split", default="test", show_default=True, help="Split to run on.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--root", type=click.Path(file_okay=False), help="Root of builds.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Parquet outputs file.")
def predict_command(
    model_dir: str,
    dataset: str | None,
    config: str | None,
    split: str,
    device: str,
    root: str | None,
    out: str,
) -> None:
    """Run a model's network on a split and write its outputs (needs no RDKit).

    For a GPU machine without RDKit: score the file on a CPU machine with
    `molbench eval --model DIR --outputs FILE`.
    """
    from molbench.outputs import predict_to_file

    path, seconds = predict_to_file(model_dir, dataset, config, split, device, root, out)
    click.echo(f"outputs of {model_dir} on {split} written to {path} ({seconds:.1f} s)")


@main.group("augment")
def augment_group() -> None:
    """Write augmented training rows for a recipe to read (e.g. on a machine without RDKit)."""


@augment_group.command("reactions")
@click.option("--config", default="uspto_15k", show_default=True, help="Reactions config.")
@click.option("--split", default="train", show_default=True, help="Split to augment.")
@click.option(
    "--copies", type=click.IntRange(min=1), default=10, show_default=True, help="Copies per row."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every copy.")
@click.option(
    "--dataset",
    default="reactions",
    show_default=True,
    help="Dataset name (under --root) or build directory.",
)
@click.option("--root", type=click.Path(file_okay=False), help="Root of builds.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Parquet file.")
def augment_reactions_command(
    config: str, split: str, copies: int, seed: int, dataset: str, root: str | None, out: str
) -> None:
    """Randomised SMILES of the precursors (reactants>reagents kept apart), canonical target.

    Token ids over the shared vocabulary; the same seed writes a byte-identical file.
    """
    from molbench.builders import resolve_dataset
    from molbench.chem.augment import write_augmented

    built = store.BuiltDataset(resolve_dataset(dataset, root))
    meta = write_augmented(built, config, split, copies, seed, Path(out))
    click.echo(
        f"wrote {out}: {meta['rows'] * copies:,} rows ({meta['rows']:,} {config}/{split} "
        f"reactions x {copies}); molecules kept canonical: "
        f"{meta['unsanitizable_kept_canonical']} unsanitizable, "
        f"{meta['out_of_vocabulary_kept_canonical']} out of vocabulary"
    )


@main.command()
@click.option("--dataset", "datasets", multiple=True, help="Only these datasets [default: all].")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default="leaderboards",
    show_default=True,
    help="Leaderboards directory holding results/<dataset>/*.json.",
)
@click.option(
    "--html",
    "html_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write the leaderboard website (every dataset) into this directory, e.g. "
    "leaderboards/site; static pages that work from file://.",
)
def leaderboard(datasets: tuple[str, ...], directory: str, html_dir: str | None) -> None:
    """Regenerate leaderboards/<dataset>.md and its figures from committed result JSONs."""
    from molbench.leaderboard import write_leaderboard

    base = Path(directory)
    names = datasets or tuple(sorted(p.name for p in (base / "results").glob("*") if p.is_dir()))
    if not names:
        raise DatasetNotFoundError(f"no results under {base / 'results'}")
    for name in names:
        for path in write_leaderboard(name, base):
            click.echo(f"wrote {path}")
    if html_dir is not None:
        from molbench.site import write_site

        files = write_site(base, Path(html_dir))
        click.echo(f"wrote the site: {len(files)} files in {html_dir} (open index.html)")


if __name__ == "__main__":
    main()
