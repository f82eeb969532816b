"""The JSON Schemas of the `--json` documents: valid, matched by real output, and in the docs.

Every document a command prints is produced here with click's CliRunner on the
fixtures of the command's own tests (fake sensors and clocks, SQLite stores under
tmp_path, the bundled tables and recorded series; no network), then validated
against its schema. The schemas close their objects (`additionalProperties:
false`), so a key added to a document without its schema entry fails here; the
key columns of docs/json.md and the schemas' property names are compared both ways.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from carbonlens import schemas
from carbonlens.accounting import series_settings
from carbonlens.cli import main
from carbonlens.config import Settings
from carbonlens.records import (
    Channel,
    Component,
    IntensityPoint,
    IntensitySeries,
    Method,
)
from carbonlens.store.base import Budget, BudgetKind, BudgetPeriod
from carbonlens.store.sqlite import SqliteStore
from carbonlens.testing import FakeClock, FakeSensor, FakeShares
from carbonlens.tracking.tracker import Tracker

from .serving.runs import record_serving_run
from .test_docs import _HEADING, _LINK, _prose_lines

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DATA = ROOT / "tests" / "data"
CPU = Channel("fake", Component.CPU, "package-0", Method.MEASURED)
GPU = Channel("fake", Component.GPU, "gpu0", Method.MEASURED)
MODEL = "def predict(batch):\n    return [sum(i * x for i in range(500)) for x in batch]\n"


def _registry() -> Registry[Any]:
    """Every bundled schema under its `$id`, so `$ref`s between them resolve offline."""
    return Registry().with_resources(
        (schemas.schema(name)["$id"], Resource.from_contents(schemas.schema(name)))
        for name in schemas.names()
    )


def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schemas.schema(name), registry=_registry())


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store path under tmp_path, no config file, no provider; cwd in tmp_path and on
    sys.path (for the benchmarked module)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    for name in ("CARBONLENS_INTENSITY_PROVIDER", "CARBONLENS_STORE"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path / "runs.db"


def _cli(*args: str, exit_code: int = 0) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def _tracked_run(store: Path, name: str = "train") -> str:
    """A run of project `vision` with every optional part filled: a metric, a budget
    with its events, a prediction, a window, a time-resolved and a market-based
    figure, and a schedule plan. Returns the run id."""
    clock = FakeClock(wall=datetime(2023, 6, 2, 10, tzinfo=UTC))
    tracker = Tracker(
        project="vision",
        name=name,
        tags=["docs"],
        sensors=[FakeSensor(CPU, power_w=[100.0]), FakeSensor(GPU, power_w=[300.0])],
        store=store,
        clock=clock,
        shares=FakeShares(),
        interval_s=3600.0,
        country="FR",
        pue=1.2,
        # 400 W x 600 s x PUE 1.2 = 0.08 kWh: the warn, exceeded and predicted_over events
        budget_kwh=0.05,
        settings=Settings(embodied=True, cfe_ratio=0.25),
    )
    tracker.start()
    tracker.annotate("schedule_plan", _cli(*PLAN, "--duration", "1h", *DAY))
    with tracker.window("epoch-1"):
        for step in range(1, 11):
            clock.advance(60.0)
            tracker.progress(step, 20)
            tracker._sampler.tick()  # type: ignore[union-attr]  # a sample per step
            tracker.log_metric("accuracy", 0.5 + step / 100, step=step)
    tracker.stop()
    return _with_series(store, tracker.run_id)


def _with_series(store: Path, run_id: str) -> str:
    """A copy of a stored run whose settings hold an hourly intensity series, as a live
    provider leaves them; its id is the original's with `-series` appended."""
    series = IntensitySeries(
        "FR",
        "test provider",
        tuple(
            IntensityPoint(datetime(2023, 6, 2, hour, tzinfo=UTC), 3600.0, 50.0 + hour)
            for hour in range(8, 14)
        ),
    )
    copy_id = f"{run_id}-series"
    with closing(SqliteStore(store)) as db:
        info = db.get_run(run_id)
        assert info is not None and info.ended_at is not None and info.duration_s is not None
        settings = {**info.settings, "intensity_series": series_settings(series)}
        db.create_run(replace(info, run_id=copy_id, settings=settings))
        db.append_samples(copy_id, db.samples(run_id))
        for window in db.windows(run_id):
            db.save_window(copy_id, window)
        db.log_metrics(copy_id, db.metrics(run_id))
        db.finish_run(copy_id, info.status, info.ended_at, info.duration_s)
    return copy_id


def _a_run(store: Path) -> dict[str, str]:
    return {"run": _tracked_run(store)}


def _a_run_and_a_foreign_one(store: Path) -> dict[str, str]:
    """A tracked run, and a record another tool wrote into the store (no pricing settings)."""
    run = _tracked_run(store)
    with closing(SqliteStore(store)) as db:
        info = db.get_run(run)
        assert info is not None
        db.create_run(replace(info, run_id="foreign", settings={"written_by": "another tool"}))
    return {"run": run}


def _a_run_elsewhere(store: Path) -> dict[str, str]:
    """A run in another store, to sync into `store`."""
    source = store.parent / "elsewhere.db"
    _tracked_run(source)
    return {"source": str(source)}


def _benchmarked_model(store: Path) -> dict[str, str]:
    (store.parent / "schema_model.py").write_text(MODEL)
    return {}


def _two_ranks(store: Path) -> dict[str, str]:
    """Job 88 on two SLURM nodes, each rank with a node-wide CPU and its own GPU."""
    from carbonlens.integrations.distributed import rank_tracker

    base = {"SLURM_NTASKS": "2", "SLURM_LOCALID": "0", "SLURM_JOB_ID": "88"}
    for rank in (0, 1):
        gpu = Channel("fake", Component.GPU, f"gpu{rank}", Method.MEASURED)
        clock = FakeClock()
        tracker = rank_tracker(
            env={**base, "SLURM_PROCID": str(rank), "SLURMD_NODENAME": f"node{rank}"},
            sensors=[FakeSensor(CPU, power_w=[100.0]), FakeSensor(gpu, power_w=[300.0])],
            project="dist",
            country="FR",
            store=store,
            clock=clock,
            shares=FakeShares(cpu_ratio=1.0),
            interval_s=3600.0,
        )
        with tracker:
            clock.advance(60.0)
    return {}


def _budgets(store: Path) -> dict[str, str]:
    _tracked_run(store)
    with closing(SqliteStore(store)) as db:
        db.set_budget(Budget("vision", BudgetKind.ENERGY, 10.0, BudgetPeriod.TOTAL))
        db.set_budget(Budget("vision", BudgetKind.EMISSIONS, 50.0, BudgetPeriod.MONTH))
    return {}


def _ranked_and_excluded(store: Path) -> dict[str, str]:
    """A run with the metric, and imported CodeCarbon runs without it (left out)."""
    _tracked_run(store)
    _cli(*IMPORT, "--store", str(store), "--project", "vision")
    return {}


def _serving_run(store: Path) -> dict[str, str]:
    """A serving run (tests/serving/runs.py)."""
    return {"run": record_serving_run(store)}


def _nothing(store: Path) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Case:
    """A command line whose JSON output must match `schema`.

    `setup` fills the store and returns values for the `{run}`-style fields of
    `args` (`{store}` is always given); `present` lists key paths the document
    must hold, not null, so that the optional parts of the schema are exercised.
    """

    schema: str
    args: str
    setup: Callable[[Path], dict[str, str]] = _nothing
    present: tuple[str, ...] = ()
    exit_code: int = 0

    def document(self, store: Path) -> Any:
        values = {"store": str(store), **self.setup(store)}
        return _cli(*(arg.format(**values) for arg in self.args.split()), exit_code=self.exit_code)


GB, DE = (str(DATA / "hourly" / f"{c}_2023_em_2023-06-01_7d.csv") for c in ("GB", "DE"))
NESO = str(DATA / "hourly" / "GB_2023_neso_2023-10-19_6d.csv")
PLAN = ("schedule", "--location", "GB", "--series", GB, "--json")
DAY = ("--earliest", "2023-06-02T00:00Z", "--deadline", "24h", "--tz", "UTC")
IMPORT = ("import", "codecarbon", "--json") + tuple(
    str(DATA / "codecarbon" / name) for name in ("v1_2020.csv", "v3.3.0_flushes.csv")
)
FULL_RUN = ("time_resolved", "market_based", "schedule.plan", "budget.events.2", "prediction")
FULL_RUN += ("metrics.accuracy", "windows.0", "embodied.0")
BENCH = "bench schema_model:predict --batch-sizes 1,2 --json --store {store} --idle 0.1"
BENCH += " --min-time 0.05 --repeats 2 --warmup 1 --max-p95-ms 0.000001"  # missed: exit 1
RUNS = ("runs.0.windows.0", "unpriced.0")
SERVING = "--training-kgco2e 120 --params 8B --device H100"
CASES: dict[str, Case] = {
    "run": Case("run", "run --store {store} --country FR --json -- true", present=("probes.0",)),
    "show": Case("run", "show {run} --store {store} --json", _a_run, FULL_RUN),
    "report json": Case("run", "report {run} --format json --store {store}", _a_run, FULL_RUN),
    "report json serving": Case(
        "run",
        f"report {{run}} --format json --store {{store}} {SERVING}",
        _serving_run,
        ("serving.figures.estimated_breakeven_days", "serving.figures.measured_per_token_gco2e"),
    ),
    "report json project": Case(
        "export", "report --project vision --format json --store {store}", _a_run, ("runs.0",)
    ),
    "report sci": Case("sci", "report {run} --format sci --json --store {store}", _a_run),
    "export": Case(
        "export", "export --format json --samples --store {store}", _a_run, ("runs.0.samples.0",)
    ),
    "runs": Case("runs", "runs --store {store} --json", _a_run_and_a_foreign_one, RUNS),
    "doctor": Case("doctor", "doctor --json", present=("sensors.0", "intensity_providers.0")),
    "doctor store": Case("doctor-store", "doctor --store {store} --json", _a_run, ("findings.0",)),
    "sync": Case("sync", "sync {source} --to {store} --json", _a_run_elsewhere, ("runs.0",)),
    "bench": Case("bench", BENCH, _benchmarked_model, ("slo_misses.1", "batches.1"), 1),
    "compare": Case(
        "compare",
        "compare --project vision --metric accuracy --store {store} --json",
        _ranked_and_excluded,
        ("runs.0", "excluded.0"),
    ),
    "budget show": Case(
        "budget-show", "budget show --store {store} --json", _budgets, ("budgets.1",)
    ),
    "group": Case("group", "group 88 --store {store} --json", _two_ranks, ("ranks.1",)),
    "import codecarbon": Case(
        "import", " ".join(IMPORT) + " --store {store}", present=("imported.0", "skipped.0")
    ),
    "estimate compute": Case(
        "estimate",
        "estimate compute --params 7B --tokens 1T --device A100 --location US --json"
        " --compare-regions FR,IN --compare-devices H100 --compare-precisions fp32",
        present=("comparisons.regions.0", "comparisons.devices.0", "comparisons.precisions.0"),
    ),
    "estimate hardware": Case(
        "estimate",
        "estimate hardware --device A100 --hours 1 --location aws:us-east-1 --json",
        present=("embodied.0", "assumptions.pue_ratio"),
    ),
    "estimate hpo": Case(
        "estimate",
        "estimate hpo --trials 10 --early-stopped 0.8 --stopped-at 0.25 --device A100"
        " --hours 2 --intensity 100 --json",
        present=("details.trial_equivalents",),
    ),
    "estimate federated": Case(
        "estimate",
        "estimate federated --clients 100 --rounds 10 --client-device A100"
        " --client-seconds 60 --json",
        present=("parts.1",),
    ),
    "estimate inference": Case(
        "estimate",
        "estimate inference --params 7B --device H100 --users 100k --input-tokens 500"
        " --output-tokens 200 --queries-per-user 5 --training-kgco2e 50000 --json",
        present=("details.breakeven_day",),
    ),
    "hardware list": Case("hardware-list", "hardware list --json", present=("devices.0",)),
    "hardware show": Case("hardware-show", "hardware show V100 --json"),
    "intensity show": Case(
        "intensity-show", "intensity show FR --json", present=("alternatives.0",)
    ),
    "intensity show cloud": Case(
        "intensity-show", "intensity show aws:eu-west-3 --json", present=("pue", "pue_source")
    ),
    "intensity list": Case("intensity-list", "intensity list --json", present=("locations.0",)),
    "intensity compare": Case(
        "intensity-compare", "intensity compare FR WLD aws:us-east-1 --json", present=("notes.0",)
    ),
    "schedule": Case("schedule-plan", " ".join((*PLAN, "--duration", "6h", *DAY))),
    "schedule pause-resume": Case(
        "schedule-plan",
        " ".join(PLAN) + " --duration 12h --earliest 2023-06-02T00:00Z --deadline"
        " 2023-06-08T00:00Z --pause-resume --min-chunk 1h --resume-cost 1m",
        present=("slots.1",),
    ),
    "schedule locations": Case(
        "schedule-plan",
        f"schedule --duration 4h --location DE --locations GB --series {DE}"
        f" --series GB={GB} --json " + " ".join(DAY),
        present=("alternatives.1",),
    ),
    "schedule profile-run": Case(
        "schedule-plan",
        " ".join((*PLAN, *DAY)) + " --profile-run {run} --store {store}",
        _a_run,
        ("energy_j", "plan_g"),
    ),
    "schedule evaluate": Case(
        "schedule-evaluate",
        f"schedule evaluate --series {NESO} --duration 4h --json",
        present=("strategies.1", "skipped_days.0"),
    ),
}


def _at(document: Any, path: str) -> Any:
    for step in path.split("."):
        document = document[int(step)] if isinstance(document, list) else document[step]
    return document


@pytest.mark.parametrize("name", schemas.names())
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    document = schemas.schema(name)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"https://carbonlens.invalid/schemas/{name}.schema.json"


@pytest.mark.parametrize("case", sorted(CASES))
def test_command_output_matches_its_schema(case: str, env: Path) -> None:
    document = CASES[case].document(env)
    _validator(CASES[case].schema).validate(document)
    assert [path for path in CASES[case].present if _at(document, path) is None] == []


@pytest.mark.parametrize(
    ("case", "where"),
    [
        ("show", ""),
        ("show", "components.0"),
        ("show", "schedule.plan"),
        ("report json serving", "serving.figures.breakeven_days"),
        ("report json project", "runs.0"),  # a run document extended by `samples`
        ("bench", ""),  # the run document's benchmark object extended by `run_id`, `store`
        ("intensity compare", "locations.0"),
        ("hardware show", ""),
    ],
)
def test_a_key_that_its_schema_does_not_name_fails(case: str, where: str, env: Path) -> None:
    document = CASES[case].document(env)
    (_at(document, where) if where else document)["new_figure_kwh"] = 1.0
    with pytest.raises(ValidationError, match="new_figure_kwh"):
        _validator(CASES[case].schema).validate(document)


COMMAND_SCHEMAS: dict[str, tuple[str, ...]] = {
    "run": ("run",),
    "show": ("run",),
    "runs": ("runs",),
    "doctor": ("doctor", "doctor-store"),
    "sync": ("sync",),
    "bench": ("bench",),
    "compare": ("compare",),
    "budget show": ("budget-show",),
    "group": ("group",),
    **{f"estimate {mode}": ("estimate",) for mode in ("hardware", "compute", "hpo")},
    **{f"estimate {mode}": ("estimate",) for mode in ("federated", "inference")},
    "hardware list": ("hardware-list",),
    "hardware show": ("hardware-show",),
    **{f"intensity {command}": (f"intensity-{command}",) for command in ("show", "list")},
    "intensity compare": ("intensity-compare",),
    "report": ("run", "export", "sci"),
    "export": ("export",),
    "import codecarbon": ("import",),
    "schedule": ("schedule-plan",),
    "schedule evaluate": ("schedule-evaluate",),
}
"""The schemas of what each command that can print JSON prints."""


def _json_commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Paths of the commands with `--json`, or a format choice that includes json."""
    for param in command.params:
        choices = param.type.choices if isinstance(param.type, click.Choice) else ()
        if param.name == "as_json" or "json" in choices:
            yield " ".join(path)
            break
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _json_commands(sub, (*path, name))


def test_every_command_that_prints_json_has_a_schema_and_a_case_per_schema() -> None:
    assert sorted(_json_commands(main)) == sorted(COMMAND_SCHEMAS)
    covered = set()
    for case in CASES.values():
        words = case.args.split()
        command = max((c for c in COMMAND_SCHEMAS if words[: len(c.split())] == c.split()), key=len)
        assert case.schema in COMMAND_SCHEMAS[command], case
        covered.add((command, case.schema))
    expected = {(command, name) for command, names in COMMAND_SCHEMAS.items() for name in names}
    assert sorted(expected - covered) == []
    assert {name for names in COMMAND_SCHEMAS.values() for name in names} == set(schemas.names())


def test_schema_command_lists_and_prints_the_bundled_schemas() -> None:
    listing = CliRunner().invoke(main, ["schema"])
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.stdout.splitlines()] == list(schemas.names())
    assert "doctor --json" in listing.stdout
    printed = CliRunner().invoke(main, ["schema", "run"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == schemas.schema("run")
    unknown = CliRunner().invoke(main, ["schema", "nope"])
    assert unknown.exit_code == 2 and "the schemas are: bench, budget-show" in unknown.stderr


def test_schema_returns_a_new_dict_and_names_the_choices_of_an_unknown_name() -> None:
    first = schemas.schema("doctor")
    first["title"] = "changed"
    assert schemas.schema("doctor")["title"] == "doctor --json"
    with pytest.raises(KeyError, match="the schemas are: bench"):
        schemas.schema("nope")


# --- the schemas and docs/json.md ------------------------------------------------------

_SPAN = re.compile(r"`([^`]+)`")


def _slug(title: str) -> str:
    """The GitHub-style anchor of a heading (as tests/test_docs.py computes it)."""
    return re.sub(r"[^\w\- ]", "", title.replace("`", "").strip().lower()).replace(" ", "-")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _schema_table() -> dict[str, list[str]]:
    """The table of docs/json.md#json-schemas: the pages (besides json.md) that
    describe each schema's keys."""
    lines = _prose_lines((DOCS / "json.md").read_text(encoding="utf-8"))
    start = lines.index("| schema | printed by | keys described in |") + 2
    table: dict[str, list[str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        names, _, where = _cells(line)
        pages = [t.partition("#")[0] for t in _LINK.findall(where) if not t.startswith("#")]
        for name in _SPAN.findall(names):
            table[name] = pages
    return table


SECTIONS: dict[str, str] = {
    "the-run-document-carbonlensrun1": "run",
    "doctor---json": "doctor",
    "group-totals-carbonlens-group": "group",
    "codecarbon-import-carbonlens-import-codecarbon": "import",
    "schedule-evaluation-carbonlens-schedule-evaluate": "schedule-evaluate",
}
"""The schema of the key tables under each `##` heading of docs/json.md (by anchor)."""


def _key_tables() -> Iterator[tuple[str, str, str]]:
    """(section anchor, key prefix, key cell) of every row of a `| key |` table in json.md.

    The prefix is the code span that opens a `###` heading (`components`), or the one
    a line before the table names as "keys of `serving.figures`"; else empty.
    """
    section = prefix = ""
    in_key_table = False
    for line in _prose_lines((DOCS / "json.md").read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            if level == 2:
                section, prefix = _slug(title), ""
            elif level == 3:
                opening = re.match(r"`([^`]+)`", title)
                prefix = opening.group(1) if opening else ""
            continue
        keys_of = re.search(r"keys of `([^`]+)`", line)
        if keys_of:
            prefix = keys_of.group(1)
        if not line.startswith("|"):
            in_key_table = False
        elif _cells(line)[0] == "key":
            in_key_table = True
        elif in_key_table and not line.startswith("|---"):
            yield section, prefix, _cells(line)[0]


def _key_paths(prefix: str, cell: str) -> list[str]:
    """`a.b[].c`, `d` -> a.b[].c and a.b[].d: later plain names are siblings of the first."""
    spans = _SPAN.findall(cell)
    inside = not prefix or spans[0].startswith((f"{prefix}.", f"{prefix}["))
    first = spans[0] if inside else f"{prefix}.{spans[0]}"
    parent = first[: max(first.rfind("."), first.rfind("]") + 1)].rstrip(".")
    return [first] + [
        span if ("." in span or "[" in span) else f"{parent}.{span}".lstrip(".")
        for span in spans[1:]
    ]


def _branches(node: dict[str, Any], base: str) -> Iterator[tuple[dict[str, Any], str]]:
    """The subschema and every schema it stands for: `$ref` targets (in their own file)
    and `anyOf`/`allOf`/`oneOf` members."""
    yield node, base
    ref = node.get("$ref")
    if ref:
        file, _, pointer = ref.partition("#")
        target_base = file.removesuffix(".schema.json") if file else base
        target: Any = schemas.schema(target_base)
        for part in filter(None, pointer.split("/")):
            target = target[part]
        yield from _branches(target, target_base)
    for keyword in ("anyOf", "allOf", "oneOf"):
        for member in node.get(keyword, []):
            yield from _branches(member, base)


def _children(node: dict[str, Any], base: str, token: str) -> list[tuple[dict[str, Any], str]]:
    """The subschemas one step of a key path leads to (a name, `[]`, or `<name>` for data keys).

    A name also looks into a list's entries, as a `components` heading opens a table of them.
    """
    found = []
    for branch, branch_base in _branches(node, base):
        if token == "[]":
            found += [(branch["items"], branch_base)] if "items" in branch else []
        elif token.startswith("<"):
            extra = branch.get("additionalProperties")
            found += [(extra, branch_base)] if isinstance(extra, dict) else []
        elif token in branch.get("properties", {}):
            found.append((branch["properties"][token], branch_base))
        elif "items" in branch:
            found += _children(branch["items"], branch_base, token)
    return found


def _resolves(name: str, path: str) -> bool:
    """Whether a key path (`budget.limits[].kind`, `metrics.<name>.value`) is in the schema."""
    nodes = [(schemas.schema(name), name)]
    for token in filter(None, path.replace("[]", ".[]").split(".")):
        nodes = [child for node, base in nodes for child in _children(node, base, token)]
        if not nodes:
            return False
    return True


def _property_names(node: Any) -> Iterator[str]:
    """Every key a schema file names under `properties`, at any depth (its `$defs` too)."""
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            yield from properties
        for value in node.values():
            yield from _property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _property_names(value)


def test_every_schema_has_a_row_in_the_table_of_json_md() -> None:
    assert sorted(_schema_table()) == list(schemas.names())


def test_every_key_in_the_tables_of_json_md_is_in_its_schema() -> None:
    rows = list(_key_tables())
    assert len(rows) > 100  # the run document alone has more rows
    assert set(SECTIONS) == {section for section, _, _ in rows if section in SECTIONS}
    unmapped = sorted({section for section, _, _ in rows if section not in SECTIONS})
    assert not unmapped, f"key tables of docs/json.md under headings without a schema: {unmapped}"
    missing = [
        f"{SECTIONS[section]}: {path}"
        for section, prefix, cell in rows
        for path in _key_paths(prefix, cell)
        if not _resolves(SECTIONS[section], path)
    ]
    assert not missing, f"keys of docs/json.md missing from their schema: {missing}"


@pytest.mark.parametrize("name", schemas.names())
def test_every_key_of_the_schema_is_documented(name: str) -> None:
    pages = sorted({"json.md", *_schema_table()[name]})
    text = "\n".join((DOCS / page).read_text(encoding="utf-8") for page in pages)
    # a key is described where a code span names it (`ranks[].node` names ranks and
    # node), or where an example shows it ("node": ...)
    paragraphs = "\n".join(_prose_lines(text)).split("\n\n")  # a span may wrap a line
    spans = [span for para in paragraphs for span in _SPAN.findall(para.replace("\n", " "))]
    named = {part for span in spans for part in re.split(r"[.\[\]\s,=()]+", span)}
    missing = sorted(
        key
        for key in set(_property_names(schemas.schema(name)))
        if key not in named and f'"{key}"' not in text
    )
    assert not missing, f"keys of schema {name!r} not described in {pages}: {missing}"
