"""The viewer's Jinja2 templates and stylesheet, kept in code so the package needs no data files.

Autoescaping is on for every template: sample texts are model output and may hold markup. Every value a
template shows passes `shown` first: control characters and bidirectional overrides become visible escapes
(`\\u202e`), so a text cannot show other than what it holds (a right-to-left override reorders a program's
lines as a reviewer reads them). Pages carry no script at all; filters and paging are plain links.
"""
# ruff: noqa: E501  (HTML lines read better whole than wrapped at 120)

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup, escape

from monkeys._terminal import printable

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #fafafa; }
header { background: #24292f; color: #fff; padding: 8px 16px; display: flex; gap: 16px; align-items: center;
         flex-wrap: wrap; }
header a { color: #fff; }
header form { margin: 0; }
main { padding: 12px 20px; max-width: 1400px; }
a { color: #0550ae; }
table { border-collapse: collapse; margin: 8px 0; background: #fff; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f3f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #fff; border: 1px solid #d0d7de; padding: 8px; white-space: pre-wrap; word-break: break-word;
      max-height: 640px; overflow: auto; }
td pre { max-height: 160px; margin: 0; border: 0; padding: 0; background: transparent; }
.pass { color: #116329; font-weight: 600; } .fail { color: #a40e26; font-weight: 600; }
.timeout, .error { color: #9a6700; font-weight: 600; }
.filters a, .pages a, .pages span { margin-right: 8px; }
.filters a.on, .pages span.on { font-weight: 700; color: #1d1d1f; text-decoration: none; }
.muted { color: #57606a; }
.right { color: #116329; font-weight: 700; } .pick { color: #0550ae; font-weight: 700; }
meter { width: 240px; }
img.plot { max-width: 100%; background: #fff; border: 1px solid #d0d7de; }
table.diff { font-family: monospace; font-size: 12px; }
.diff_header { background: #f0f3f6; } td.diff_header { text-align: right; }
.diff_next { background: #f0f3f6; } .diff_add { background: #ccffd8; } .diff_chg { background: #fff5b1; }
.diff_sub { background: #ffd7d5; }
"""

BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}monkeys view{% endblock %}</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><header><strong><a href="/">monkeys view</a></strong>
{% if runs|length > 1 %}<form method="get" action="/go"><label>run <select name="run">
{% for r in runs %}<option value="{{ r.index }}"{% if run is defined and run and r.index == run.index %} selected{% endif %}>
{{ r.name }}</option>{% endfor %}</select></label> <button type="submit">open</button></form>{% endif %}
{% if run is defined and run %}<a href="{{ url('/run/%d' % run.index, verifier=verifier_param) }}">{{ run.name }}</a>
{% if verifier %}<span>verifier: {{ verifier }}</span>{% endif %}{% endif %}
</header><main>{% block main %}{% endblock %}</main></body></html>
"""

RUNS = """{% extends "base.html" %}
{% block main %}<h1>Runs</h1>
<table><tr><th>run</th><th>directory</th><th>verifier</th><th>problems</th><th>solved</th><th>samples</th></tr>
{% for s in summaries %}<tr><td><a href="/run/{{ s.run.index }}">{{ s.run.name }}</a></td>
<td>{{ s.run.path }}</td><td>{{ s.verifier or "none" }}</td><td class="num">{{ s.problems }}</td>
<td class="num">{{ num(s.solved) }}</td><td class="num">{{ num(s.samples) }}</td></tr>{% endfor %}</table>
{% endblock %}
"""

RUN = """{% extends "base.html" %}
{% block title %}{{ run.name }} · monkeys view{% endblock %}
{% block main %}<h1>{{ run.name }}</h1>
<p class="muted">{{ run.path }} · {{ num(samples) }} samples · {{ num(stats|length) }} problems · solved {{ num(solved) }}
({{ pct(solved / stats|length if stats else None) }}) · mean pass rate {{ pct(mean_rate) }}</p>
{% if verifiers|length > 1 %}<p class="filters">verifier:
{% for v in verifiers %}<a class="{{ 'on' if v == verifier }}" href="{{ url('/run/%d' % run.index, verifier=v) }}">{{ v }}</a>
{% endfor %}</p>{% endif %}
<h2>Coverage</h2>
<img class="plot" alt="coverage vs samples" src="{{ url('/run/%d/coverage.svg' % run.index, verifier=verifier_param) }}">
<h2>Problems</h2>
<p class="filters">show:
{% for key, label in (('all', 'all'), ('unsolved', 'unsolved'), ('solved', 'solved')) %}
<a class="{{ 'on' if show == key }}" href="{{ url('/run/%d' % run.index, verifier=verifier_param, show=key, sort=sort) }}">{{ label }}</a>
{% endfor %} · sort:
{% for key, label in (('rate', 'unsolved first, by pass rate'), ('rate-desc', 'highest pass rate'),
                      ('position', 'dataset order'), ('n', 'most samples')) %}
<a class="{{ 'on' if sort == key }}" href="{{ url('/run/%d' % run.index, verifier=verifier_param, show=show, sort=key) }}">{{ label }}</a>
{% endfor %}</p>
<p class="muted">{{ num(total) }} problem(s) listed{% if pages > 1 %}, page {{ page }} of {{ pages }}{% endif %}</p>
<table id="problems"><tr><th>problem</th><th>n</th><th>passes</th><th>pass rate</th><th>time-outs</th><th>errors</th>
<th>status</th></tr>
{% for p in rows %}<tr><td><a href="{{ url('/run/%d/problem' % run.index, id=p.problem_id, verifier=verifier_param) }}">{{ p.problem_id }}</a></td>
<td class="num">{{ p.n }}</td><td class="num">{{ p.passes }}</td><td class="num">{{ pct(p.rate) }}</td>
<td class="num">{{ p.timeouts }}</td><td class="num">{{ p.errors }}</td>
<td class="{{ 'pass' if p.passes else 'fail' }}">{{ 'solved' if p.passes else 'unsolved' }}</td></tr>{% endfor %}
</table>
{{ pager(page, pages, '/run/%d' % run.index, verifier=verifier_param, show=show, sort=sort) }}
<h2>Config</h2><pre>{{ config }}</pre>
<h2>Protections</h2><pre>{{ protections }}</pre>
{% endblock %}
"""

PAGER = """{% macro pager(page, pages, path) -%}
{% if pages > 1 %}<p class="pages">pages:
{% if page > 1 %}<a href="{{ url(path, page=page - 1, **kwargs) }}">‹ previous</a>{% endif %}
{% for p in page_numbers(page, pages) %}{% if p == page %}<span class="on">{{ p }}</span>
{% elif p %}<a href="{{ url(path, page=p, **kwargs) }}">{{ p }}</a>{% else %}<span>…</span>{% endif %}{% endfor %}
{% if page < pages %}<a href="{{ url(path, page=page + 1, **kwargs) }}">next ›</a>{% endif %}</p>{% endif %}
{%- endmacro %}
"""

PROBLEM = """{% extends "base.html" %}
{% block title %}{{ problem_id }} · {{ run.name }}{% endblock %}
{% block main %}<h1>{{ problem_id }}</h1>
{% if others %}<p class="filters">in other runs: {% for r in others %}
<a href="{{ url('/run/%d/problem' % r.index, id=problem_id) }}">{{ r.name }}</a>{% endfor %}</p>{% endif %}
<h2>Prompt</h2>
{% for m in prompt.get('messages') or [] %}<p class="muted">{{ m.get('role') }}</p><pre>{{ m.get('content') }}</pre>
{% else %}{% if prompt.get('text') %}<pre>{{ prompt.get('text') }}</pre>{% else %}<p class="muted">(no prompt stored: an imported run)</p>{% endif %}{% endfor %}
{% if right is not none %}<p>reference answer: <span class="right" id="right-answer">{{ right }}</span></p>{% endif %}
{% if answers %}<h2>Answers</h2>
<p>majority's pick: <span class="pick" id="majority">{{ answers[0].shown }}</span> ({{ answers[0].count }} of {{ facets.outcomes.values()|sum }})
— {% if answers[0].passes %}<span class="pass">right</span>{% else %}
<span class="fail">wrong</span>{% endif %}</p>
<table id="answers"><tr><th>answer</th><th>samples</th><th></th><th>verdict</th></tr>
{% for a in answers %}<tr><td><a href="{{ url(here, id=problem_id, verifier=verifier_param, answer=a.key) }}">{{ a.shown }}</a></td>
<td class="num">{{ a.count }}</td><td><meter min="0" max="{{ answers[0].count }}" value="{{ a.count }}"></meter></td>
<td>{% if a.passes %}<span class="right">right</span>{% else %}<span class="muted">wrong</span>{% endif %}
{% if loop.first %} <span class="pick">majority</span>{% endif %}</td></tr>{% endfor %}</table>
<img class="plot" alt="answer histogram" src="{{ url('/run/%d/answers.svg' % run.index, id=problem_id, verifier=verifier_param) }}">
{% endif %}
<h2>Samples</h2>
<p class="muted">{{ num(facets.samples) }} sample(s); {{ num(total) }} listed{% if pages > 1 %}, page {{ page }} of {{ pages }}{% endif %}</p>
<p class="filters" id="outcome-filters">outcome:
<a class="{{ 'on' if not outcome }}" href="{{ url(here, id=problem_id, verifier=verifier_param, reason=reason, answer=answer) }}">all</a>
{% for o, count in facets.outcomes.items() %}<a class="{{ 'on' if outcome == o }}" data-outcome="{{ o }}"
href="{{ url(here, id=problem_id, verifier=verifier_param, outcome=o, reason=reason, answer=answer) }}">{{ o }} ({{ count }})</a>
{% endfor %}</p>
<p class="filters" id="reason-filters">reason:
<a class="{{ 'on' if not reason }}" href="{{ url(here, id=problem_id, verifier=verifier_param, outcome=outcome, answer=answer) }}">all</a>
{% for r, count in facets.reasons[:30] %}<a class="{{ 'on' if reason == r }}"
href="{{ url(here, id=problem_id, verifier=verifier_param, outcome=outcome, reason=r, answer=answer) }}">{{ r|truncate(80) }} ({{ count }})</a>
{% endfor %}{% if facets.reasons|length > 30 %}<span class="muted">… {{ facets.reasons|length - 30 }} more</span>{% endif %}</p>
{% if answer %}<p>answer: {{ answer }} <a href="{{ url(here, id=problem_id, verifier=verifier_param, outcome=outcome, reason=reason) }}">(any answer)</a></p>{% endif %}
<table id="samples"><tr><th>#</th><th>outcome</th><th>reason</th><th>answer</th>{% for s in scorers %}<th>{{ s }}</th>{% endfor %}
<th>text</th><th></th></tr>
{% for s in rows %}<tr class="sample" data-outcome="{{ s.outcome or '' }}">
<td class="num"><a href="{{ url('/run/%d/sample' % run.index, problem=problem_id, index=s.index) }}">{{ s.index }}</a></td>
<td class="{{ s.outcome or '' }}">{{ s.outcome or "—" }}</td><td>{{ s.reason or "" }}</td><td>{{ s.answer if s.answer is not none else "" }}</td>
{% for name in scorers %}<td class="num">{{ '%.4g' % s.scores[name] if name in s.scores else "" }}</td>{% endfor %}
<td><pre>{{ s.preview }}{% if s.length > s.preview|length %} …{% endif %}</pre></td>
<td>{% if s.outcome and s.outcome != 'pass' and has_pass %}<a href="{{ url('/run/%d/diff' % run.index, problem=problem_id, a=s.index, verifier=verifier_param) }}">diff vs a pass</a>{% endif %}</td>
</tr>{% endfor %}</table>
{{ pager(page, pages, here, id=problem_id, verifier=verifier_param, outcome=outcome, reason=reason, answer=answer) }}
<h2>Reference</h2><pre>{{ reference }}</pre>
{% endblock %}
"""

SAMPLE = """{% extends "base.html" %}
{% block title %}{{ problem_id }} #{{ sample.index }} · {{ run.name }}{% endblock %}
{% block main %}<h1><a href="{{ url('/run/%d/problem' % run.index, id=problem_id) }}">{{ problem_id }}</a> · sample {{ sample.index }}</h1>
<p class="pages">{% if sample.index > 0 %}<a href="{{ url('/run/%d/sample' % run.index, problem=problem_id, index=sample.index - 1) }}">‹ previous</a>{% endif %}
<a href="{{ url('/run/%d/sample' % run.index, problem=problem_id, index=sample.index + 1) }}">next ›</a></p>
<h2>Text</h2><pre id="text">{{ sample.text }}</pre>
<h2>Verdicts</h2>
<table><tr><th>verifier</th><th>outcome</th><th>reason</th><th>duration (s)</th><th>details</th></tr>
{% for v in sample.verdicts %}<tr><td>{{ v.verifier }}</td><td class="{{ v.outcome }}">{{ v.outcome }}</td><td>{{ v.reason }}</td>
<td class="num">{{ '%.3g' % v.duration_s if v.duration_s is not none else '' }}</td><td><pre>{{ to_json(v.details) }}</pre></td></tr>
{% else %}<tr><td colspan="5" class="muted">no verdict</td></tr>{% endfor %}</table>
{% if sample.scores %}<h2>Scores</h2><table>{% for name, value in sample.scores.items() %}
<tr><td>{{ name }}</td><td class="num">{{ '%.6g' % value }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Sampling</h2><table>{% for k, v in sample.info.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table>
{% endblock %}
"""

DIFF = """{% extends "base.html" %}
{% block title %}diff {{ problem_id }} · {{ run.name }}{% endblock %}
{% block main %}<h1><a href="{{ url('/run/%d/problem' % run.index, id=problem_id) }}">{{ problem_id }}</a>: sample {{ a }} vs {{ b }}</h1>
<form method="get" action="/run/{{ run.index }}/diff"><input type="hidden" name="problem" value="{{ problem_id|exact }}">
{% if verifier_param %}<input type="hidden" name="verifier" value="{{ verifier_param|exact }}">{% endif %}
<label>sample <input name="a" value="{{ a }}" size="6"></label> <label>against <input name="b" value="{{ b }}" size="6"></label>
<button type="submit">diff</button></form>
<p>{{ a_label }} vs {{ b_label }}</p>
{{ table }}
{% endblock %}
"""

MESSAGE = """{% extends "base.html" %}
{% block main %}<h1>{{ title }}</h1><p>{{ message }}</p>{% endblock %}
"""


def url(path: str, **params: Any) -> str:
    """`path` with the given query parameters, leaving out those that are None or empty."""
    kept = {k: v for k, v in params.items() if v is not None and v != ""}
    return path + ("?" + urlencode(kept) if kept else "")


def pct(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{100 * x:.3g}%"


def page_numbers(page: int, pages: int) -> list[int | None]:
    """Page links to show: the first, the last, and two either side of `page`; None marks a gap."""
    keep = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    out: list[int | None] = []
    for p in keep:
        if out and out[-1] is not None and p - int(out[-1] or 0) > 1:
            out.append(None)
        out.append(p)
    return out


def shown(value: Any) -> Any:
    """What a template prints for `value`: a string with its control characters and bidirectional controls
    as visible escapes (plain text: safe in an attribute as in an element); markup and other values as they are."""
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    return printable(value.replace("\r\n", "\n"))  # a line break as Windows writes it is a line break here


def exact(value: Any) -> Markup:
    """`value` escaped but not made visible: a form field that must send back exactly what the page was given."""
    return escape(value)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.DictLoader({"base.html": BASE, "runs.html": RUNS, "run.html": RUN, "pager.html": PAGER,
                                  "problem.html": PROBLEM, "sample.html": SAMPLE, "diff.html": DIFF,
                                  "message.html": MESSAGE}),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=shown)
    env.filters["exact"] = exact
    env.globals.update(url=url, pct=pct, page_numbers=page_numbers, num=lambda n: f"{n:,}")
    env.globals["pager"] = env.get_template("pager.html").module.pager  # type: ignore[attr-defined]
    return env
