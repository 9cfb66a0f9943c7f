"""Template helpers: page links and URLs."""

from __future__ import annotations

from monkeys.view.templates import environment, page_numbers, url


def test_page_numbers_keep_ends_and_neighbours() -> None:
    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 3) == [1, 2, 3]
    assert page_numbers(10, 30) == [1, None, 8, 9, 10, 11, 12, None, 30]
    assert page_numbers(30, 30) == [1, None, 28, 29, 30]


def test_url_drops_empty_parameters_and_quotes_the_rest() -> None:
    assert url("/run/0/problem", id="test/1", outcome=None, reason="") == "/run/0/problem?id=test%2F1"
    assert url("/run/0", page=2, verifier='a"b<c') == "/run/0?page=2&verifier=a%22b%3Cc"


def test_every_template_autoescapes() -> None:
    env = environment()
    assert env.autoescape is True
    html = env.get_template("message.html").render(runs=[], run=None, title="<b>t</b>", message="<script>x")
    assert "<script>x" not in html and "&lt;script&gt;x" in html and "&lt;b&gt;t&lt;/b&gt;" in html
