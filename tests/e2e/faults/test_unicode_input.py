"""Text that is not valid Unicode, wherever a user hands it to monkeys, is one `error:` line naming the file,
line/row and field (or the argument), exit 2, no traceback, and nothing made.

Such text is a lone surrogate: valid JSON or YAML spells one with an escape (`"\\ud800"`, what a tool that
cut a model's reply mid-character may write), and Python carries a byte of a command-line argument that is
not UTF-8 (`--model $'caf\\xe9'`, a Latin-1 file name) the same way. SQLite and JSON output take neither. At
bf5ecf5 each case below ended in a traceback (`UnicodeEncodeError ... surrogates not allowed` from the store
or pydantic), most after the run directory was made; a task data file's escaped question was sent on to
the sampler.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
MONKEYS = _e2e.MONKEYS

pytestmark = pytest.mark.timeout(120)

ESC = "\\ud800"  # as it is written in the file: backslash, u, d800
GSM8K = ["--task", "gsm8k", "--task-option", "shots=0", "--sampler", "scripted", "-n", "2"]


def _files(d: Path) -> None:
    good = [{"question": f"What is {i} + 40?", "answer": f"#### {40 + i}"} for i in range(2)]
    (d / "math.jsonl").write_text("".join(json.dumps(r) + "\n" for r in good))
    (d / "math_bad.jsonl").write_text(json.dumps(good[0]) + "\n"
                                      + f'{{"question": "What is 1 + 40? {ESC}", "answer": "#### 41"}}\n')
    (d / "math_bad.json").write_text(f'[{json.dumps(good[0])}, {{"question": "1 + 40", "answer": "#### 41 {ESC}"}}]')
    (d / "model.json").write_text(f'{{"sampler": "scripted", "model": "m{ESC}"}}')
    (d / "responses.yaml").write_text(f'sampler: scripted\nsampler_options:\n  responses: ["ok", "x {ESC}"]\n')
    (d / "prices.json").write_text(f'{{"scripted{ESC}": {{"prompt_usd_per_mtok": 1, "completion_usd_per_mtok": 1}}}}')
    (d / "results.jsonl").write_text('{"problem_id": "a", "sample_index": 0, "correct": true}\n'
                                     f'{{"problem_id": "a{ESC}", "sample_index": 1, "correct": true}}\n')
    (d / "results.json").write_text(f'[{{"problem_id": "a", "sample_index": 0, "correct": true, "text": "{ESC}"}}]')
    (d / "samples.jsonl").write_text('{"problem_id": "test/0", "sample_index": 0, "text": "#### 40"}\n'
                                     f'{{"problem_id": "test/1", "sample_index": 0, "text": "#### 41 {ESC}"}}\n')


# (id, arguments after `monkeys` ({d}: the folder of the files above, {out}: a path that must stay absent),
# what the error line must contain)
CASES = [
    ("data-jsonl-line", ["run", *GSM8K, "--data", "{d}/math_bad.jsonl", "--out", "{out}"],
     ["{d}/math_bad.jsonl:2: field 'question': not valid Unicode text", "\\ud800"]),
    ("data-json-list", ["run", *GSM8K, "--data", "{d}/math_bad.json", "--out", "{out}"],
     ["{d}/math_bad.json: field '[1].answer': not valid Unicode text"]),
    ("config-json-field", ["run", "--config", "{d}/model.json", "--out", "{out}"],
     ["{d}/model.json: field 'model': not valid Unicode text"]),
    ("config-yaml-option", ["run", "--config", "{d}/responses.yaml", "--out", "{out}"],
     ["{d}/responses.yaml: field 'sampler_options.responses[1]': not valid Unicode text"]),
    ("flag-option-escape", ["run", *GSM8K, "--data", "{d}/math.jsonl", "--sampler-option",
                            'responses=["ok", "\\ud800"]', "--out", "{out}"],
     ["--sampler-option responses[1]: not valid Unicode text"]),
    ("pricing-model-name", ["run", *GSM8K, "--data", "{d}/math.jsonl", "--budget", "usd=1", "--pricing",
                            "{d}/prices.json", "--out", "{out}"],
     ["{d}/prices.json: field 'scripted\\ud800': not valid Unicode text"]),
    ("import-row", ["import", "{d}/results.jsonl", "{out}"],
     ["{d}/results.jsonl row 2: field 'problem_id': not valid Unicode text"]),
    ("import-json-list", ["import", "{d}/results.json", "{out}"],
     ["{d}/results.json row 1: field 'text': not valid Unicode text"]),
    ("verify-row", ["verify", "{d}/samples.jsonl", *GSM8K[:4], "--data", "{d}/math.jsonl", "--out", "{out}"],
     ["{d}/samples.jsonl row 2: field 'text': not valid Unicode text"]),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("unicode")
    _files(d)
    return d


def _one_error_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    stderr = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 2, (proc.returncode, stderr)
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(("args", "named"), [pytest.param(a, n, id=i) for i, a, n in CASES])
def test_text_that_is_not_unicode_is_one_line_and_nothing_is_made(files: Path, tmp_path: Path, args: list[str],
                                                                  named: list[str]):
    out = tmp_path / "run"
    proc = subprocess.run([MONKEYS, *[a.format(d=files, out=out) for a in args]], capture_output=True,
                          cwd=tmp_path, timeout=100)
    line = _one_error_line(proc)
    for part in named:
        assert part.format(d=files) in line, line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [], "something was made"


@pytest.mark.parametrize(("option", "value"), [("--model", b"caf\xe9"), ("--out", b"run-\xff"),
                                               ("--data", b"math-\xe9.jsonl")])
def test_a_command_line_argument_that_is_not_utf8_is_named(files: Path, tmp_path: Path, option: str,
                                                           value: bytes):
    args = [os.fsencode(MONKEYS), b"run", *(a.encode() for a in GSM8K), b"--data",
            str(files / "math.jsonl").encode(), b"--out", str(tmp_path / "run").encode(), option.encode(), value]
    proc = subprocess.run(args, capture_output=True, cwd=tmp_path, timeout=100)
    line = _one_error_line(proc)
    shown = repr(value)[2:-1]
    assert f"command line argument {option} '{shown}': not UTF-8 text" in line, line
    assert list(tmp_path.iterdir()) == [], "something was made"
