"""The dashboard's web application: Starlette routes over `queries`, Jinja templates.

Every route answers GET (and HEAD) only; the dashboard never writes a run.

==========================  ====================================================
``/``                       runs table: filters (project, status, since, q), totals
``/runs/{run_id}``          a run: figures, plots, components, windows, how to cut it
``/runs/{run_id}/section``  the run's section alone (live update of a running run)
``/compare?run=ID&run=ID``  runs side by side
``/projects/{project}``     a project: totals over time, budgets, quality vs cost, its runs
``/api/runs``               the runs table as JSON (same filters as ``/``)
``/api/runs/{run_id}``      a run's report as JSON (the schema of docs/json.md)
``/api/live?run=ID``        current figures of runs, polled by pages of runs in progress
``/static/...``             the style sheet and the live-update script
==========================  ====================================================

A store file is opened for each request, in a worker thread, and closed after
it: the dashboard may start before the first run, shows every run as soon as it
is written, and follows the file if `doctor --repair` replaces it. A PostgreSQL
store is opened once and kept (its connection pool checks each connection before
use and reconnects), since opening one costs a connection, a login and a schema
check: about 10 ms a request on a local server, more over a network.
Templates are autoescaped; the only markup inserted as is comes from
`report.html` and `report.charts`, which escape every text from the store.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from carbonlens._version import __version__
from carbonlens.dashboard import plots, queries
from carbonlens.dashboard.security import Guard
from carbonlens.errors import StoreError
from carbonlens.records import RunStatus
from carbonlens.report.html import HtmlRun, pareto_chart, run_section
from carbonlens.report.json import run_info_to_dict
from carbonlens.report.text import duration_text, energy_text, mass_text
from carbonlens.store import is_database_url, open_existing_store, store_label
from carbonlens.tracking.budget_limits import UNIT_NAMES
from carbonlens.units import kwh_from_j

if TYPE_CHECKING:
    from carbonlens.store.base import Store

__all__ = ["create_app"]

T = TypeVar("T")
_HERE = Path(__file__).parent


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(energy=energy_text, mass=mass_text, duration=duration_text, when=_when)
    env.globals.update(
        version=__version__, statuses=[s.value for s in RunStatus], budget_units=UNIT_NAMES
    )
    return Jinja2Templates(env=env)


def _row_json(row: queries.RunRow) -> dict[str, Any]:
    """A row as JSON: the run's identity and status, and its figures (None if unpriced)."""
    r = row.report
    return {
        **run_info_to_dict(row.info),
        "partial": row.partial,
        "facility_energy_kwh": None if r is None else kwh_from_j(r.facility_energy_j),
        "operational_gco2e": None if r is None else r.operational_g,
        "embodied_gco2e": None if r is None else r.embodied_g,
        "total_gco2e": None if r is None else r.total_g,
    }


def _live_json(row: queries.RunRow) -> dict[str, Any]:
    """What a page of a run in progress updates: figures as text, and the duration."""
    r = row.report
    return {
        "run_id": row.info.run_id,
        "status": row.info.status.value,
        "duration_s": None if r is None else r.duration_s,
        "duration": "" if r is None else duration_text(r.duration_s),
        "energy": "" if r is None else energy_text(r.facility_energy_j),
        "total": "" if r is None else mass_text(r.total_g),
    }


def _filter(request: Request) -> queries.RunFilter:
    """The runs filter of a request's query; HTTP 400 for a value that makes no sense."""
    import click

    from carbonlens._cli_common import MAX_LIMIT, parse_since

    q = request.query_params
    try:
        status = RunStatus(q["status"]) if q.get("status") else None
    except ValueError:
        choices = ", ".join(s.value for s in RunStatus)
        raise HTTPException(400, f"unknown status {q['status']!r}: use one of {choices}") from None
    try:
        since = parse_since(q["since"]) if q.get("since") else None
    except click.BadParameter as exc:
        raise HTTPException(400, f"since: {exc.format_message()}") from None
    limit_text = q.get("limit") or str(queries.DEFAULT_LIMIT)
    if not (limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= MAX_LIMIT):
        raise HTTPException(
            400, f"limit {limit_text!r} is not a whole number from 1 to {MAX_LIMIT}"
        )
    return queries.RunFilter(
        project=q.get("project") or None,
        status=status,
        since=since,
        text=q.get("q", ""),
        limit=int(limit_text),
    )


def _rendered_run(store: Store, run_id: str) -> tuple[HtmlRun, str] | None:
    """A run's page data and its report section (escaped HTML), or None if there is no run."""
    found = queries.run_page(store, run_id, queries.grid_options())
    return None if found is None else (found, run_section(found))


class _Dashboard:
    """The route handlers, around one store (path or URL) and the templates."""

    def __init__(self, store: str | Path) -> None:
        self.store = store
        self.store_label = store_label(store)  # a URL's password masked
        self.templates = _templates()
        self._keeps_store = isinstance(store, str) and is_database_url(store)
        self._kept: Store | None = None
        self._kept_lock = threading.Lock()

    def _call(self, fn: Callable[[Store], T]) -> T:
        """`fn(store)`: a file opened for this call, a database server's store kept."""
        if not self._keeps_store:
            store = open_existing_store(self.store)
            try:
                return fn(store)
            finally:
                store.close()
        with self._kept_lock:  # until it opens once, every request tries
            if self._kept is None:
                self._kept = open_existing_store(self.store)
            store = self._kept
        return fn(store)

    async def read(self, fn: Callable[[Store], T]) -> T:
        """Call `fn` with the store, in a worker thread."""
        return await run_in_threadpool(self._call, fn)

    def close(self) -> None:
        """Close a kept store (at the application's shutdown)."""
        with self._kept_lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        """Render template `name` with `context` and what every page shows."""
        context.setdefault("live", False)
        context["store"] = self.store_label
        context["now"] = datetime.now(UTC)
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    async def runs(self, request: Request) -> Response:
        """`/`: the runs table."""
        flt = _filter(request)
        table = await self.read(lambda s: queries.runs_table(s, flt))
        live = any(row.info.status is RunStatus.RUNNING for row in table.rows)
        return self.page(request, "runs.html", table=table, filter=flt, live=live)

    async def run(self, request: Request) -> Response:
        """`/runs/{run_id}`: a run's page."""
        run_id = request.path_params["run_id"]
        found = await self.read(lambda s: _rendered_run(s, run_id))
        if found is None:
            return await self.unknown_run(request, run_id)
        run, section = found
        return self.page(
            request,
            "run.html",
            run=run,
            info=run.report.info,
            section=Markup(section),
            live=run.report.info.status is RunStatus.RUNNING,
        )

    async def section(self, request: Request) -> Response:
        """`/runs/{run_id}/section`: the run's report section alone."""
        run_id = request.path_params["run_id"]
        found = await self.read(lambda s: _rendered_run(s, run_id))
        if found is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return HTMLResponse(found[1])

    async def unknown_run(self, request: Request, run_id: str) -> Response:
        """404 for `run_id`, with the newest runs to choose from."""
        recent = await self.read(queries.recent_runs)
        message = f"no run {run_id!r} in {self.store_label}"
        if request.url.path.startswith("/api/"):
            found = [run_info_to_dict(i) for i in recent]
            return JSONResponse({"error": message, "recent_runs": found}, status_code=404)
        return self.page(request, "error.html", 404, message=message, recent=recent)

    async def compare(self, request: Request) -> Response:
        """`/compare?run=ID...`: runs side by side."""
        run_ids = request.query_params.getlist("run")

        def load(s: Store) -> tuple[queries.Comparison, list[str]]:
            comparison = queries.compare_runs(s, run_ids)
            return comparison, plots.comparison_charts(comparison)

        comparison, charts = await self.read(load)
        shown = [Markup(svg) for svg in charts]
        return self.page(request, "compare.html", comparison=comparison, charts=shown)

    async def project(self, request: Request) -> Response:
        """`/projects/{project}`: a project over time."""
        name = request.path_params["project"]
        now = datetime.now(UTC)

        def load(
            s: Store,
        ) -> tuple[queries.ProjectPage, list[str], queries.QualityVsCost | None] | str:
            found = queries.project_page(s, name, now=now)
            if found is None:
                known = ", ".join(queries.projects(s)) or "none yet"
                return f"no runs or budgets in project {name!r}; projects: {known}"
            return found, plots.project_charts(found), queries.quality_vs_cost(s, name)

        loaded = await self.read(load)
        if isinstance(loaded, str):
            return self.page(request, "error.html", 404, message=loaded, recent=[])
        found, charts, quality = loaded
        live = any(row.info.status is RunStatus.RUNNING for row in found.table.rows)
        shown = [Markup(svg) for svg in charts]
        pareto = (
            Markup(
                pareto_chart(quality.ranking, metric=quality.metric, cost_label=quality.cost_label)
            )
            if quality
            else None
        )
        return self.page(
            request,
            "project.html",
            project=found,
            charts=shown,
            live=live,
            quality=quality,
            pareto=pareto,
        )

    async def api_runs(self, request: Request) -> Response:
        """`/api/runs`: the runs table as JSON."""
        flt = _filter(request)
        table = await self.read(lambda s: queries.runs_table(s, flt))
        t = table.totals
        totals = {
            "runs": t.runs,
            "unpriced_runs": t.unpriced,
            "facility_energy_kwh": kwh_from_j(t.facility_energy_j),
            "operational_gco2e": t.operational_g,
            "embodied_gco2e": t.embodied_g,
            "total_gco2e": t.total_g,
        }
        rows = [_row_json(row) for row in table.rows]
        return JSONResponse({"runs": rows, "totals": totals, "store": self.store_label})

    async def api_run(self, request: Request) -> Response:
        """`/api/runs/{run_id}`: a run's report document."""
        run_id = request.path_params["run_id"]
        found = await self.read(lambda s: queries.run_page(s, run_id))
        if found is None:
            return await self.unknown_run(request, run_id)
        return JSONResponse(found.report.to_dict())

    async def api_live(self, request: Request) -> Response:
        """`/api/live?run=ID...`: current figures of runs."""
        run_ids = request.query_params.getlist("run")
        rows = await self.read(lambda s: queries.live_rows(s, run_ids))
        return JSONResponse({"runs": [_live_json(row) for row in rows]})

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """An HTTP error as a page, or as JSON under `/api/`."""
        status, detail = (
            (exc.status_code, exc.detail) if isinstance(exc, HTTPException) else (500, "")
        )
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": detail}, status_code=status)
        return self.page(request, "error.html", status, message=detail, recent=[])

    async def store_error(self, request: Request, exc: Exception) -> Response:
        """A store that cannot be read: 503, with the store's own message."""
        message = f"cannot read the run store: {exc}"
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=503)
        return self.page(request, "error.html", 503, message=message, recent=[])


def create_app(store_path: str | Path, *, token: str | None = None) -> Starlette:
    """The dashboard as an ASGI application reading the store at `store_path`.

    Args:
        store_path: the store's file (a database or a `.jsonl` fallback file),
            `sqlite:///` URL (it may not exist yet) or PostgreSQL URL.
        token: the token every request must carry (see `dashboard.security`);
            None to answer requests for loopback addresses only.

    Returns:
        The application; serve it with `dashboard.server.serve` or any ASGI server.
    """
    d = _Dashboard(store_path)
    routes = [
        Route("/", d.runs, name="runs"),
        Route("/runs/{run_id}", d.run, name="run"),
        Route("/runs/{run_id}/section", d.section, name="run_section"),
        Route("/compare", d.compare, name="compare"),
        Route("/projects/{project:path}", d.project, name="project"),
        Route("/api/runs", d.api_runs, name="api_runs"),
        Route("/api/runs/{run_id}", d.api_run, name="api_run"),
        Route("/api/live", d.api_live, name="api_live"),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        d.close()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: d.http_error, StoreError: d.store_error},
        lifespan=lifespan,
    )
    app.add_middleware(Guard, token=token)
    return app
