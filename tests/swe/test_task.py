"""The swe-bench task: instance files (and their errors), repositories, BM25 retrieval, the prompt.

A small real git repository is built per test module: a few modules of a units package with a bug planted in
one of them, and an issue text that describes the bug in the reporter's words.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from monkeys.errors import DataError
from monkeys.registry import create
from monkeys.swe import retrieval
from monkeys.swe.instances import load_instances, repo_dir

pytest.importorskip("bm25s", reason="the swe extra (bm25s) is not installed")

FILES = {
    "units/__init__.py": '"""Units."""\nfrom units.convert import to_metres\n',
    "units/convert.py": ('"""Conversions between length units."""\n\nFEET_PER_METRE = 3.28084\n\n\n'
                         'def to_metres(value, unit):\n    """Length `value` in `unit` (m, ft, inch) as metres."""\n'
                         '    if unit == "ft":\n        return value * FEET_PER_METRE\n    if unit == "inch":\n'
                         '        return value * 0.0254\n    return value\n'),
    "units/format.py": ('"""Pretty printing."""\n\n\ndef pretty(value, unit):\n    """`1.5 m` style text."""\n'
                        '    return f"{value:g} {unit}"\n'),
    "units/parse.py": ('"""Parsing of quantities from text."""\n\n\ndef parse(text):\n'
                       '    """`"3 ft"` as (3.0, "ft")."""\n    number, unit = text.split()\n'
                       '    return float(number), unit\n'),
    "units/tests/test_convert.py": ("from units.convert import to_metres\n\n\ndef test_feet():\n"
                                    "    assert abs(to_metres(1, 'ft') - 0.3048) < 1e-9\n"),
    "docs/notes.txt": "feet metres conversion notes\n",
}
ISSUE = ("Converting feet to metres gives the wrong answer\n\nto_metres(1, 'ft') returns 3.28 but one foot is "
         "0.3048 metres; the conversion multiplies by FEET_PER_METRE where it should divide.")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(repos folder, base commit): `repos/acme__units` holds the package with the bug at its second commit."""
    repos = tmp_path_factory.mktemp("repos")
    root = repos / "acme__units"
    root.mkdir()
    _git(repos, "init", "-q", str(root))
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    base = _git(root, "rev-parse", "HEAD").strip()
    (root / "units" / "convert.py").write_text("# rewritten after the base commit\n")  # retrieval must not see it
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "later")
    return repos, base


def record(base: str, **over: object) -> dict[str, object]:
    r: dict[str, object] = {
        "instance_id": "acme__units-1", "repo": "acme/units", "base_commit": base, "problem_statement": ISSUE,
        "patch": "--- a/units/convert.py\n+++ b/units/convert.py\n", "test_patch": "",
        "FAIL_TO_PASS": json.dumps(["units/tests/test_convert.py::test_feet"]), "PASS_TO_PASS": "[]",
        "version": 1.0, "created_at": "2024-01-01T00:00:00"}
    r.update(over)
    return r


def write_jsonl(path: Path, *records: dict[str, object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_retrieval_ranks_the_buggy_file_first(mirror: tuple[Path, str], tmp_path: Path) -> None:
    repos, base = mirror
    repo = repos / "acme__units"
    index = retrieval.get_index(repo, base, cache_dir=tmp_path / "bm25")
    assert "units/tests/test_convert.py" not in index.paths and "docs/notes.txt" not in index.paths
    ranked = index.rank(ISSUE)
    assert ranked[0][0] == "units/convert.py"
    files = retrieval.retrieve(repo, base, ISSUE, budget_tokens=10_000, max_files=2)
    assert [f.path for f in files][0] == "units/convert.py"
    assert "FEET_PER_METRE = 3.28084" in files[0].text  # the base commit's text, not the work tree's
    assert len(files) == 2


def test_retrieval_ranks_the_planted_bug_first_on_the_fixture(tmp_path: Path) -> None:
    from swe_fixture import SOURCE_FILE, build_instance

    instance, repo = build_instance(tmp_path / "repos")
    ranked = retrieval.get_index(repo, instance["base_commit"]).rank(instance["problem_statement"])
    assert ranked[0][0] == SOURCE_FILE, ranked[:3]
    task = create("task", "swe-bench", data=str(write_jsonl(tmp_path / "i.jsonl", instance)),
                  repos=str(tmp_path / "repos"), cache_dir=str(tmp_path / "cache"), context_tokens=2000)
    (problem,) = task.load_problems()
    assert problem.reference["context_files"][0] == SOURCE_FILE  # too long to show whole: its best part
    assert "def partition_all(" in problem.prompt.messages[1]["content"]
    assert "yield prev[:prev.index(no_pad)]" in problem.prompt.messages[1]["content"]  # the planted bug
    assert f"### {SOURCE_FILE} (lines " in problem.prompt.messages[1]["content"]


def test_code_names_are_what_prose_writes_as_code() -> None:
    assert retrieval.code_names("partition_all fails on __eq__ (it uses tuple.index); `foo` bar() parseHeader x_ "
                                "and plain words") == ["partition_all", "index", "foo", "bar", "parseheader"]


def test_the_index_is_cached_on_disk(mirror: tuple[Path, str], tmp_path: Path) -> None:
    repos, base = mirror
    repo = repos / "acme__units"
    retrieval._MEMORY.clear()
    first = retrieval.get_index(repo, base, cache_dir=tmp_path / "bm25").rank(ISSUE)
    saved = list((tmp_path / "bm25").rglob("files.json"))
    assert len(saved) == 1
    retrieval._MEMORY.clear()
    again = retrieval.get_index(repo, base, cache_dir=tmp_path / "bm25")
    assert again.rank(ISSUE) == first


def test_budget_limits_the_files_shown(mirror: tuple[Path, str]) -> None:
    repos, base = mirror
    repo = repos / "acme__units"
    convert = retrieval.estimate_tokens(FILES["units/convert.py"])
    files = retrieval.retrieve(repo, base, ISSUE, budget_tokens=convert + 20, max_files=5)
    assert [f.path for f in files] == ["units/convert.py"]
    part, *rest = retrieval.retrieve(repo, base, ISSUE, budget_tokens=90, max_files=5)
    assert part.path == "units/convert.py" and part.truncated
    assert part.lines is not None and part.lines[0] > 1  # the docstring says less about the issue than the code
    assert "FEET_PER_METRE" in part.text and part.text in FILES["units/convert.py"]
    assert retrieval.estimate_tokens(part.text) <= 45
    assert all(not f.truncated for f in rest)


def test_words_split_code_identifiers() -> None:
    assert retrieval.words("to_metres FEET_PER_METRE parseFitsHeader") == [
        "to_metres", "to", "metres", "feet_per_metre", "feet", "per", "metre", "parsefitsheader", "parse", "fits",
        "header"]


def test_task_builds_agentless_prompts(mirror: tuple[Path, str], tmp_path: Path) -> None:
    repos, base = mirror
    data = write_jsonl(tmp_path / "inst.jsonl", record(base))
    task = create("task", "swe-bench", data=str(data), repos=str(repos), cache_dir=str(tmp_path / "cache"),
                  context_tokens=2000)
    (problem,) = task.load_problems()
    assert problem.problem_id == "acme__units-1"
    system, user = problem.prompt.messages
    assert system["role"] == "system" and user["role"] == "user"
    assert ISSUE in user["content"] and "### units/convert.py\n" in user["content"]
    assert user["content"].index("units/convert.py") < user["content"].index("<<<<<<< SEARCH")
    assert problem.prompt.text.startswith(system["content"]) and user["content"] in problem.prompt.text
    ref = problem.reference
    assert ref["kind"] == "swe-bench" and ref["repo_dir"] == str(repos / "acme__units")
    inst = ref["instance"]
    assert inst["FAIL_TO_PASS"] == ["units/tests/test_convert.py::test_feet"] and inst["PASS_TO_PASS"] == []
    assert inst["version"] == "1.0" and inst["base_commit"] == base
    assert ref["context_files"][0] == "units/convert.py"
    json.dumps(ref)  # plain JSON: stored with the run
    diff_task = create("task", "swe-bench", data=str(data), repos=str(repos), cache_dir=str(tmp_path / "cache"),
                       edit_format="diff", context_tokens=0)
    (p2,) = diff_task.load_problems()
    assert "```diff" in p2.prompt.messages[1]["content"] and "BEGIN FILE" not in p2.prompt.messages[1]["content"]


def test_instances_option_loads_only_those(mirror: tuple[Path, str], tmp_path: Path) -> None:
    repos, base = mirror
    data = write_jsonl(tmp_path / "inst.jsonl", record(base), record(base, instance_id="other__repo-2",
                                                                     repo="other/repo"))
    task = create("task", "swe-bench", data=str(data), repos=str(repos), instances="acme__units-1",
                  cache_dir=str(tmp_path / "c"))
    assert [p.problem_id for p in task.load_problems()] == ["acme__units-1"]
    everything = create("task", "swe-bench", data=str(data), repos=str(repos), cache_dir=str(tmp_path / "c"))
    with pytest.raises(DataError, match=r"other__repo: no git repository of other/repo here; expected one per "
                                        r"owner__name under repos="):
        everything.load_problems()
    unknown = create("task", "swe-bench", data=str(data), repos=str(repos), instances=["nope-1"])
    with pytest.raises(DataError, match=r"instances: 'nope-1' is not an instance of .*inst.jsonl \(2 in all\)"):
        unknown.load_problems()


@pytest.mark.parametrize(("over", "message"), [
    ({"FAIL_TO_PASS": "[not json"}, r"inst.jsonl:1: field 'FAIL_TO_PASS': not a JSON list of test names"),
    ({"PASS_TO_PASS": "[1, 2]"}, r"inst.jsonl:1: field 'PASS_TO_PASS': expected a list of test names"),
    ({"FAIL_TO_PASS": []}, r"inst.jsonl:1: field 'FAIL_TO_PASS': empty"),
    ({"base_commit": 7}, r"inst.jsonl:1: field 'base_commit': expected a string, got a number 7"),
    ({"repo": "units"}, r"inst.jsonl:1: field 'repo': 'units'; expected 'owner/name'"),
])
def test_bad_instances_are_named(tmp_path: Path, over: dict[str, object], message: str) -> None:
    data = write_jsonl(tmp_path / "inst.jsonl", record("abc", **over))
    with pytest.raises(DataError, match=message):
        load_instances(str(data))


def test_missing_field_and_repeated_id(tmp_path: Path) -> None:
    r = record("abc")
    del r["test_patch"]
    with pytest.raises(DataError, match=r"inst.jsonl:2: missing field 'test_patch'"):
        load_instances(str(write_jsonl(tmp_path / "inst.jsonl", record("abc", instance_id="x-0"), r)))
    with pytest.raises(DataError, match=r"inst.jsonl:2: problem id 'acme__units-1' appears twice"):
        load_instances(str(write_jsonl(tmp_path / "inst.jsonl", record("abc"), record("abc"))))


def test_lists_and_parquet_accepted(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [record("abc"), record("abc", instance_id="acme__units-2", PASS_TO_PASS='["t::b"]')]
    pq.write_table(pa.Table.from_pylist([{**r, "version": str(r["version"])} for r in rows]), tmp_path / "i.parquet")
    loaded = load_instances(str(tmp_path / "i.parquet"))  # the official files' JSON text
    assert [(r["FAIL_TO_PASS"], r["PASS_TO_PASS"]) for r in loaded] == [
        (["units/tests/test_convert.py::test_feet"], []), (["units/tests/test_convert.py::test_feet"], ["t::b"])]
    lists = write_jsonl(tmp_path / "l.jsonl", record("abc", FAIL_TO_PASS=["t::a"], PASS_TO_PASS=["t::b"]))
    assert [(r["FAIL_TO_PASS"], r["PASS_TO_PASS"]) for r in load_instances(str(lists))] == [(["t::a"], ["t::b"])]


def test_repository_errors_name_the_folder_or_commit(mirror: tuple[Path, str], tmp_path: Path) -> None:
    repos, base = mirror
    assert repo_dir("acme/units", base, repos) == repos / "acme__units"
    with pytest.raises(DataError, match=r"commit 0123456789abcdef0123456789abcdef01234567 of acme/units is not in"):
        repo_dir("acme/units", "0123456789abcdef0123456789abcdef01234567", repos)
    with pytest.raises(DataError, match=r"nobody__here: no git repository of nobody/here; pass --task-option repos"):
        repo_dir("nobody/here", base, None, tmp_path / "cache", clone=False)
