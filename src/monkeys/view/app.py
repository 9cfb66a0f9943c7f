"""The viewer as a Starlette app over one or more run stores, each opened read-only.

Handlers are `async` and read SQLite on the event loop: each run has one connection and reads are short
(one problem's key range, one page), so one thread is enough and no connection is shared across threads.
The figures (coverage, answers) are drawn in a worker thread, since `load_run` + the bootstrap take
seconds on a large run; both are cached until the store changes.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import json
import math
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monkeys._hosts import host_allowed
from monkeys._terminal import printable
from monkeys.errors import MonkeysError
from monkeys.store import StoreReader, open_readonly, run_verifier
from monkeys.view.queries import Filters, ProblemStat, Queries
from monkeys.view.templates import STYLE, environment

PAGE = 50  # samples per page
PROBLEM_PAGE = 200  # problems per page of the index
DIFF_CHARS = 20_000  # characters and lines of each side a diff compares (difflib is quadratic at worst)
DIFF_LINES = 600
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none';"
       " frame-ancestors 'none'")
# Every response, on every page: the policy above, no MIME sniffing, no referrer, and no use by another origin
# (a page elsewhere, even another port of this machine, could otherwise load the viewer's images and pages as
# subresources and learn from whether and how they load; nor may it keep a handle on a viewer window).
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cross-Origin-Resource-Policy": "same-origin", "Cross-Origin-Opener-Policy": "same-origin"}
_FIGURE_LOCK = threading.Lock()  # matplotlib's text layout is not safe across threads


class NotFound(Exception):
    """A page that names a run, problem, sample or verifier the stores do not have."""


@dataclass
class Run:
    index: int
    path: Path
    name: str
    _db: StoreReader | None = None
    _cache: dict[Any, Any] = field(default_factory=dict)

    def queries(self) -> Queries:
        """Queries on this run's store, reopened (and caches dropped) when a writer changed it: a store read
        without locks is reopened; one read beside a live run's WAL sees its commits, which move SQLite's
        `data_version`."""
        if self._db is not None and self._db.changed():
            self._db.close()
            self._db = None
        if self._db is None:
            self._db = open_readonly(self.path)
            self._cache.clear()
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if self._cache.get("data_version") != version:
            self._cache.clear()
            self._cache["data_version"] = version
        return Queries(self._db)

    def cached(self, key: Any, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _int(value: str | None, default: int, low: int = 0) -> int:
    try:
        return max(low, int(value)) if value not in (None, "") else default
    except ValueError:
        return default


def _pages(total: int, per: int) -> int:
    return max(1, math.ceil(total / per))


def _svg(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    return buf.getvalue()


def create_app(run_dirs: list[Path], allowed_hosts: frozenset[str] | None = None) -> Starlette:
    """The viewer over `run_dirs`; each store is opened once here, so a bad directory fails before serving
    (a `StoreError` naming it). With `allowed_hosts`, a request whose Host header names another host is
    refused (`host_allowed`)."""
    names = [Path(p).resolve().name or str(p) for p in run_dirs]
    runs = [Run(i, Path(p), names[i] if names.count(names[i]) == 1 else str(p)) for i, p in enumerate(run_dirs)]
    for run in runs:
        run.queries()
    env = environment()

    def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("run", None)
        context.setdefault("verifier", None)
        context.setdefault("verifier_param", None)
        html = env.get_template(name).render(runs=runs, **context)
        return HTMLResponse(html, status_code=status)

    def get_run(request: Request) -> Run:
        index = _int(request.path_params.get("run"), -1, low=-1)
        if not 0 <= index < len(runs):
            raise NotFound(f"no run number {request.path_params.get('run')!r}")
        return runs[index]

    def get_verifier(request: Request, q: Queries) -> tuple[str | None, str | None]:
        """The verifier a page shows (`?verifier=`, else the run's) and the parameter to carry in links."""
        asked = request.query_params.get("verifier") or None
        if asked is not None:
            if asked not in q.verifiers():
                raise NotFound(f"no verdicts of verifier {asked!r} in this run; it has"
                               f" {', '.join(q.verifiers()) or 'none'}")
            return asked, asked
        return run_verifier(q.db), None

    async def index(request: Request) -> Response:
        if len(runs) == 1:
            return RedirectResponse("/run/0", status_code=302)
        summaries = []
        for run in runs:
            q = run.queries()
            verifier = run_verifier(q.db)
            stats = run.cached(("stats", verifier), lambda q=q, v=verifier: q.problem_stats(v))
            summaries.append({"run": run, "verifier": verifier, "problems": len(stats),
                              "solved": sum(1 for s in stats if s.passes),
                              "samples": run.cached("samples", q.sample_count)})
        return page("runs.html", summaries=summaries)

    async def go(request: Request) -> Response:
        return RedirectResponse(f"/run/{_int(request.query_params.get('run'), 0)}", status_code=303)

    async def run_page(request: Request) -> Response:
        run = get_run(request)
        q = run.queries()
        verifier, param = get_verifier(request, q)
        stats: list[ProblemStat] = run.cached(("stats", verifier), lambda: q.problem_stats(verifier))
        show = request.query_params.get("show") or "all"
        sort = request.query_params.get("sort") or "rate"
        rows = [s for s in stats if show == "all" or (show == "solved") == (s.passes > 0)]
        keys = {"rate": lambda s: (s.passes > 0, s.rate if s.rate is not None else -1.0, s.position),
                "rate-desc": lambda s: (-(s.rate or 0.0), s.position),
                "position": lambda s: s.position, "n": lambda s: (-s.n, s.position)}
        rows.sort(key=keys.get(sort, keys["rate"]))
        pages = _pages(len(rows), PROBLEM_PAGE)
        number = min(_int(request.query_params.get("page"), 1, low=1), pages)
        rated = [s.rate for s in stats if s.rate is not None]
        meta = q.db.execute("SELECT key, value FROM meta WHERE key IN ('config', 'protections')").fetchall()
        found = {k: v for k, v in meta}
        return page(
            "run.html", run=run, verifier=verifier, verifier_param=param, verifiers=q.verifiers(), stats=stats,
            rows=rows[(number - 1) * PROBLEM_PAGE:number * PROBLEM_PAGE], total=len(rows), page=number,
            pages=pages, show=show, sort=sort, solved=sum(1 for s in stats if s.passes),
            mean_rate=sum(rated) / len(rated) if rated else None,
            samples=run.cached("samples", q.sample_count),
            config=_pretty(found.get("config")), protections=_pretty(found.get("protections")))

    async def coverage_svg(request: Request) -> Response:
        run = get_run(request)
        q = run.queries()
        verifier, _ = get_verifier(request, q)

        def draw() -> bytes:
            from monkeys.report.analyze import analyze_run
            from monkeys.report.data import load_run
            from monkeys.report.plots import coverage_figure

            data = load_run(run.path, verifier=verifier)
            with _FIGURE_LOCK:
                return _svg(coverage_figure([analyze_run(data, n_boot=200)], title=f"coverage: {run.name}"))

        key = ("coverage", verifier)
        if key not in run._cache:
            run._cache[key] = await run_in_threadpool(draw)
        return Response(run._cache[key], media_type="image/svg+xml")

    async def answers_svg(request: Request) -> Response:
        run = get_run(request)
        q = run.queries()
        verifier, _ = get_verifier(request, q)
        problem_id = request.query_params.get("id") or ""
        answers = q.answers(problem_id, verifier, limit=20)
        found = q.problem(problem_id)
        right = _right_answer(found[1]) if found else None
        return Response(await run_in_threadpool(_answers_figure, answers, right, problem_id),
                        media_type="image/svg+xml")

    async def problem_page(request: Request) -> Response:
        run = get_run(request)
        q = run.queries()
        verifier, param = get_verifier(request, q)
        problem_id = request.query_params.get("id") or ""
        found = q.problem(problem_id)
        if found is None:
            raise NotFound(f"run {run.name} has no problem {problem_id!r}")
        prompt, reference = found
        qp = request.query_params
        filters = Filters(outcome=qp.get("outcome") or None, reason=qp.get("reason") or None,
                          answer_key=qp.get("answer") or None)
        facets = q.facets(problem_id, verifier)
        if filters.outcome and not filters.reason and not filters.answer_key:
            total = facets.outcomes.get(filters.outcome, 0)
        elif filters.reason and not filters.outcome and not filters.answer_key:
            total = dict(facets.reasons).get(filters.reason, 0)
        elif filters.any():
            total = q.count(problem_id, verifier, filters)
        else:
            total = facets.samples
        pages = _pages(total, PAGE)
        number = min(_int(qp.get("page"), 1, low=1), pages)
        rows = q.samples(problem_id, verifier, filters, offset=(number - 1) * PAGE, limit=PAGE)
        answers = q.answers(problem_id, verifier)
        others = [r for r in runs if r is not run and r.queries().problem(problem_id) is not None]
        return page(
            "problem.html", run=run, verifier=verifier, verifier_param=param, problem_id=problem_id,
            prompt=prompt if isinstance(prompt, dict) else {"text": str(prompt)}, reference=_pretty_value(reference),
            right=_right_answer(reference), answers=answers, facets=facets, rows=rows, total=total, page=number,
            pages=pages, outcome=filters.outcome, reason=filters.reason, answer=filters.answer_key,
            scorers=q.scorers(), has_pass=facets.outcomes.get("pass", 0) > 0, others=others,
            here=f"/run/{run.index}/problem")

    async def sample_page(request: Request) -> Response:
        run = get_run(request)
        q = run.queries()
        problem_id = request.query_params.get("problem") or ""
        index = _int(request.query_params.get("index"), -1, low=-1)
        sample = q.sample(problem_id, index) if index >= 0 else None
        if sample is None:
            raise NotFound(f"run {run.name} has no sample {index} of problem {problem_id!r}")
        return page("sample.html", run=run, problem_id=problem_id, sample=sample,
                    to_json=lambda d: json.dumps(d, indent=2, ensure_ascii=False, sort_keys=True))

    async def diff_page(request: Request) -> Response:
        run = get_run(request)
        q = run.queries()
        verifier, param = get_verifier(request, q)
        problem_id = request.query_params.get("problem") or ""
        a = _int(request.query_params.get("a"), -1, low=-1)
        b = _int(request.query_params.get("b"), -1, low=-1)
        if b < 0:
            b = q.first_index(problem_id, verifier, "pass") if problem_id else None  # type: ignore[assignment]
            if b is None:
                return page("message.html", status=404, run=run, title="Nothing to diff against",
                            message=f"problem {problem_id!r} has no passing sample under {verifier}")
        first, second = q.sample(problem_id, a), q.sample(problem_id, b)
        if first is None or second is None:
            raise NotFound(f"run {run.name} has no sample {a if first is None else b} of problem {problem_id!r}")

        def label(s: Any) -> str:
            mine = next((v for v in s.verdicts if v["verifier"] == verifier), None)
            return f"#{s.index} ({mine['outcome']}: {mine['reason']})" if mine else f"#{s.index} (no verdict)"

        table = await run_in_threadpool(_diff_table, first.text, second.text, a, b)
        return page("diff.html", run=run, verifier=verifier, verifier_param=param, problem_id=problem_id, a=a,
                    b=b, a_label=label(first), b_label=label(second), table=Markup(table))  # HtmlDiff escapes text

    async def style(request: Request) -> Response:
        return Response(STYLE, media_type="text/css")

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask for one; answering 404 reads as an error

    async def not_found(request: Request, exc: Exception) -> Response:
        return page("message.html", status=404, title="Not found", message=str(exc))

    async def store_error(request: Request, exc: Exception) -> Response:
        return page("message.html", status=500, title="Cannot read the run store", message=str(exc))

    async def damaged_store(request: Request, exc: Exception) -> Response:
        """A store that opened but fails a query (a corrupt page): the page names it, no traceback."""
        index = _int(request.path_params.get("run"), -1, low=-1)
        where = str(runs[index].path / "monkeys.db") if 0 <= index < len(runs) else "a run store"
        return page("message.html", status=500, title="Cannot read the run store",
                    message=f"{where}: {exc}; the store is damaged (expected a readable SQLite run store): "
                            "restore it from a copy")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for run in runs:
            run.close()

    app = Starlette(
        routes=[Route("/", index), Route("/go", go), Route("/static/style.css", style),
                Route("/favicon.ico", no_icon),
                Route("/run/{run}", run_page), Route("/run/{run}/coverage.svg", coverage_svg),
                Route("/run/{run}/answers.svg", answers_svg), Route("/run/{run}/problem", problem_page),
                Route("/run/{run}/sample", sample_page), Route("/run/{run}/diff", diff_page)],
        exception_handlers={NotFound: not_found, MonkeysError: store_error, sqlite3.DatabaseError: damaged_store},
        middleware=[Middleware(_Headers, allowed_hosts=allowed_hosts)], lifespan=lifespan)
    return app


class _Headers:
    """Adds `HEADERS` (no script, nothing from elsewhere, no use by other origins) to every response, and refuses
    (421) a request for another host than the viewer's own (`host_allowed`)."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        if scope["type"] == "http" and self.allowed_hosts is not None:
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not host_allowed(host, self.allowed_hosts):
                refuse = PlainTextResponse(f"this viewer answers only for {', '.join(sorted(self.allowed_hosts))}"
                                           " (the request named another host)\n", status_code=421)
                await refuse(scope, receive, with_headers)
                return
        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def _diff_table(first: str, second: str, a: int, b: int) -> str:
    """difflib's side-by-side table of two texts, cut to DIFF_CHARS / DIFF_LINES (it escapes the texts)."""
    def lines(text: str) -> list[str]:
        text = printable(text)  # difflib marks changes with \0+, \0-, \0^ and \1: a text's own would be markup
        cut = text[:DIFF_CHARS].splitlines()[:DIFF_LINES]
        return cut + (["[… cut: the rest is on the sample page]"] if len(cut) < len(text.splitlines()) or
                      len(text) > DIFF_CHARS else [])

    return difflib.HtmlDiff(wrapcolumn=100).make_table(
        lines(first), lines(second), str(escape(f"#{a}")), str(escape(f"#{b}")), context=True, numlines=3)


def _pretty(value: str | None) -> str:
    if value is None:
        return "(none recorded)"
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False, sort_keys=True)
    except ValueError:
        return value


def _pretty_value(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _right_answer(reference: Any) -> str | None:
    """The reference answer of a math problem (its reference JSON's `answer`), else None."""
    if isinstance(reference, dict) and reference.get("answer") is not None:
        return str(reference["answer"])
    return None


def _answers_figure(answers: list[Any], right: str | None, problem_id: str) -> bytes:
    """A horizontal bar chart of the most frequent answers: green where the verifier passed them."""
    from monkeys.report.plots import _figure, as_text, short

    with _FIGURE_LOCK:
        shown = list(reversed(answers))
        fig = _figure(6.4, max(1.6, 0.28 * len(shown) + 0.9))
        ax = fig.add_subplot()
        colors = ["#2da44e" if a.passes else "#a0a7b0" for a in shown]
        ax.barh(range(len(shown)), [a.count for a in shown], color=colors)
        ax.set_yticks(range(len(shown)), [as_text(short(a.shown, 24)) for a in shown])
        ax.set_xlabel("samples")
        title = f"answers to {short(problem_id, 40)}"
        if right is not None:
            title += f" (reference: {short(right, 20)})"
        ax.set_title(as_text(title), fontsize=10)
        return _svg(fig)
