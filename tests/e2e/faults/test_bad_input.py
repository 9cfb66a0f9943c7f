"""Issue 11, bad input: every mistake a user can type is one `error:` line, exit 2, and nothing created.

Each case runs the real `monkeys` command (a subprocess, real files) and checks: exit code 2, exactly one
line on stderr starting `error:` that names the flag/file/field and says what was expected, no traceback,
and for a fresh start no run directory; cases against an existing run check that every file of the run
is byte-identical afterwards. Everything here is refused before a run starts, so each case takes about
as long as the command takes to start.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("monkeys_e2e_conftest", Path(__file__).parents[1] / "conftest.py")
assert _spec is not None and _spec.loader is not None
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)
monkeys = _e2e.monkeys

SCRIPTED = ["--sampler", "scripted", "--problems", "2", "-n", "2"]
RECORD = {"task_id": "t/0", "prompt": "def f():\n", "entry_point": "f", "test": "def check(c):\n    assert c() is None\n"}
GOOD = "".join(json.dumps({**RECORD, "task_id": f"t/{i}"}) + "\n" for i in range(3))
ROOT = os.geteuid() == 0  # permissions do not stop root: the read-only cases skip


def _write_files(d: Path) -> None:
    """Every bad file the cases name, written once."""
    (d / "good.jsonl").write_text(GOOD)
    many = "".join(json.dumps({**RECORD, "task_id": f"t/{i}", "prompt": f"def f():\n    '{os.urandom(64).hex()}'\n"})
                   + "\n" for i in range(200))  # random text: half the compressed bytes hold many lines
    whole = gzip.compress(many.encode())
    (d / "trunc.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (d / "plain.jsonl.gz").write_text(GOOD)
    (d / "latin1.jsonl").write_bytes(GOOD.encode() + json.dumps(RECORD).encode().replace(b"f()", b"caf\xe9()")
                                     + b"\n")
    (d / "prompt_number.jsonl").write_text(GOOD + json.dumps({**RECORD, "task_id": "t/9", "prompt": 5}) + "\n")
    (d / "tests_list.jsonl").write_text(json.dumps({**RECORD, "test": ["assert 1"]}) + "\n")
    (d / "dup.jsonl").write_text(GOOD + json.dumps(RECORD) + "\n")
    (d / "dup.json").write_text(json.dumps([RECORD, RECORD]))
    (d / "empty.jsonl").write_text("")
    (d / "garbage.jsonl").write_text(GOOD + "\n   \nthis is not json\n")
    (d / "array_line.jsonl").write_text(GOOD + "[1, 2]\n")
    (d / "dict.json").write_text(json.dumps({"t/0": RECORD}))
    (d / "numbers.json").write_text("[1, 2, 3]")
    (d / "missing_field.jsonl").write_text(json.dumps({k: v for k, v in RECORD.items() if k != "test"}) + "\n")
    (d / "data_dir").mkdir()
    (d / "mbpp_bad.jsonl").write_text(json.dumps({"task_id": 1, "text": "t", "test_list": "assert f()"}) + "\n")
    (d / "cc_bad.jsonl").write_text(json.dumps({"name": "1_A", "description": 5,
                                                "public_tests": {"input": ["1\n"], "output": ["1\n"]}}) + "\n")
    (d / "cc_tests_numbers.jsonl").write_text(json.dumps({"name": "1_A", "description": "Echo.",
                                                          "public_tests": {"input": [1], "output": [1]}}) + "\n")
    (d / "gsm8k_bad.jsonl").write_text(json.dumps({"question": 12, "answer": "#### 12"}) + "\n")
    (d / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    (d / "latin1.yaml").write_bytes(b"sampler: scripted\n# caf\xe9\n")
    (d / "garbage.yaml").write_text("sampler: scripted\nn: [1,\n")
    (d / "list.yaml").write_text("- sampler\n- scripted\n")
    (d / "scalar.yaml").write_text("just some words\n")
    (d / "bad.toml").write_text('sampler = "scripted"\nn = \n')
    (d / "bad.json").write_text("{sampler: scripted}")
    (d / "typo.yaml").write_text("sampler: scripted\ntemprature: 0.5\n")
    (d / "vopt.yaml").write_text("sampler: scripted\nverifier_options:\n  timeout_s: abc\n")
    (d / "n_text.toml").write_text('sampler = "scripted"\nn = "lots"\n')
    (d / "results.jsonl").write_text('{"problem_id": "a", "sample_index": 0, "correct": true}\n')
    (d / "blank_id.jsonl").write_text(GOOD + json.dumps({**RECORD, "task_id": "  "}) + "\n")
    (d / "tasks.csv").write_text("task_id,prompt,entry_point,test\nt/0,def f(),f,assert True\n")
    (d / "tasks.yaml").write_text(f"- {json.dumps(RECORD)}\n")
    (d / "n_twice.yaml").write_text("sampler: scripted\nn: 2\ntemperature: 0.6\nn: 50\n")
    (d / "n_twice.json").write_text('{"sampler": "scripted", "n": 2, "n": 50}')
    (d / "field_twice.jsonl").write_text(GOOD + json.dumps(RECORD)[:-1] + ', "prompt": "def g():\\n"}\n')
    (d / "temp_bool.yaml").write_text("sampler: scripted\ntemperature: true\n")
    (d / "seed_bool.json").write_text('{"sampler": "scripted", "seed": false}')
    (d / "budget_inf.yaml").write_text("sampler: scripted\nbudget: {tokens: .inf}\n")
    (d / "config_dir").mkdir()
    (d / "a_file").write_text("not a directory\n")
    (d / "read_only").mkdir()
    (d / "read_only").chmod(0o555)


# (id, arguments after `monkeys`, what the error line must contain). `{d}` is the folder of the files above,
# `{out}` a run directory that must not exist afterwards.
CASES: list[tuple[str, list[str], list[str]]] = [
    # usage errors (typer's own click exceptions)
    ("n-not-a-number", ["run", "-n", "abc", "--out", "{out}"], ["-n", "expected an integer", "'abc'"]),
    ("unknown-flag", ["run", "--bogus", "--out", "{out}"], ["No such option: --bogus"]),
    ("missing-argument", ["report"], ["missing argument RUN_DIRS", "monkeys report --help"]),
    ("missing-option-value", ["run", "--out"], ["--out", "requires an argument"]),
    ("missing-value-n", ["run", "--out", "{out}", "-n"], ["-n", "requires an argument"]),
    ("seed-not-a-number", ["run", "--seed", "abc", "--out", "{out}"], ["--seed", "expected an integer", "'abc'"]),
    ("seed-a-fraction", ["run", "--seed", "1.5", "--out", "{out}"], ["--seed", "expected an integer", "'1.5'"]),
    ("temperature-not-a-number", ["run", "--temperature", "hot", "--out", "{out}"],
     ["--temperature", "expected a number", "'hot'"]),
    ("unknown-command", ["rnu"], ["No such command 'rnu'"]),
    ("extra-argument", ["run", "extra", "--out", "{out}"], ["unexpected extra argument", "extra"]),
    # an empty argument (an unset shell variable) read as a path is the current directory: a store went there
    ("out-empty", ["run", *SCRIPTED, "--out", ""], ["--out: an empty value"]),
    ("out-equals-empty", ["run", *SCRIPTED, "--out="], ["--out: an empty value"]),
    ("import-into-empty", ["import", "{d}/results.jsonl", ""], ["the argument after", "results.jsonl' is empty"]),
    ("data-empty-string", ["run", *SCRIPTED, "--data", "", "--out", "{out}"], ["--data: an empty value"]),
    ("flag-takes-no-value", ["run", "--no-report=3", "--out", "{out}"], ["--no-report", "does not take a value"]),
    # config fields out of range
    ("n-zero", ["run", *SCRIPTED[:4], "-n", "0", "--out", "{out}"], ["-n:", "expected an integer >= 1", "got 0"]),
    ("n-negative", ["run", *SCRIPTED[:4], "-n", "-1", "--out", "{out}"], ["-n:", ">= 1", "got -1"]),
    ("n-too-large", ["run", *SCRIPTED[:4], "-n", "2000000", "--out", "{out}"], ["-n:", "<= 1000000"]),
    ("temperature-negative", ["run", *SCRIPTED, "--temperature", "-1", "--out", "{out}"],
     ["--temperature:", "expected a number >= 0", "got -1.0"]),
    ("top-p-above-one", ["run", *SCRIPTED, "--top-p", "2", "--out", "{out}"], ["--top-p:", "<= 1", "got 2.0"]),
    ("top-p-zero", ["run", *SCRIPTED, "--top-p", "0", "--out", "{out}"], ["--top-p:", "> 0", "got 0.0"]),
    ("max-tokens-zero", ["run", *SCRIPTED, "--max-tokens", "0", "--out", "{out}"], ["--max-tokens:", ">= 1"]),
    ("batch-size-zero", ["run", *SCRIPTED, "--batch-size", "0", "--out", "{out}"], ["--batch-size:", ">= 1"]),
    ("concurrency-zero", ["run", *SCRIPTED, "--concurrency", "0", "--out", "{out}"], ["--concurrency:", ">= 1"]),
    ("verify-workers-zero", ["run", *SCRIPTED, "--verify-workers", "0", "--out", "{out}"],
     ["--verify-workers:", ">= 1"]),
    ("budget-infinite", ["run", *SCRIPTED, "--budget", "tokens=inf", "--out", "{out}"],
     ["--budget: tokens=inf; expected a finite number > 0"]),
    ("budget-overflows", ["run", *SCRIPTED, "--budget", "flops=1e400", "--out", "{out}"],
     ["--budget: flops=inf; expected a finite number > 0"]),
    ("problems-empty-slice", ["run", "--sampler", "scripted", "--problems", "5:2", "--out", "{out}"],
     ["problems", "'5:2' selects no problem"]),
    ("problems-unknown-id", ["run", "--sampler", "scripted", "--problems", "HumanEval/0,HumanEval/999",
                             "--out", "{out}"], ["problems", "'HumanEval/999' is not a problem id"]),
    ("problems-listed-twice", ["run", "--sampler", "scripted", "--problems", "HumanEval/0,HumanEval/0",
                               "--out", "{out}"], ["problems: 'HumanEval/0' is listed twice"]),
    ("scorer-twice", ["run", *SCRIPTED, "--scorer", "logprob", "--scorer", "logprob", "--out", "{out}"],
     ["--scorer: scorer 'logprob' is given twice"]),
    ("problems-not-a-slice", ["run", "--sampler", "scripted", "--problems", "a:b", "--out", "{out}"],
     ["problems", "'a:b'", "START:STOP"]),
    # plug-in names
    ("unknown-task", ["run", *SCRIPTED, "--task", "humaneavl", "--out", "{out}"],
     ["unknown task 'humaneavl'", "humaneval"]),
    ("unknown-sampler", ["run", "--sampler", "gpt", "--out", "{out}"], ["unknown sampler 'gpt'", "scripted"]),
    ("unknown-verifier", ["run", *SCRIPTED, "--verifier", "unit-tests", "--out", "{out}"],
     ["unknown verifier 'unit-tests'", "code-tests"]),
    ("unknown-scorer", ["run", *SCRIPTED, "--scorer", "vibes", "--out", "{out}"], ["unknown scorer 'vibes'"]),
    # plug-in options: types, ranges, names (declared by each plug-in, checked before anything is made)
    ("verifier-timeout-not-a-number", ["run", *SCRIPTED, "--verifier-option", "timeout_s=abc", "--out", "{out}"],
     ["error: --verifier-option timeout_s: expected a number > 0, got 'abc'"]),
    ("verifier-timeout-zero", ["run", *SCRIPTED, "--verifier-option", "timeout_s=0", "--out", "{out}"],
     ["--verifier-option timeout_s: expected a number > 0, got 0"]),
    ("verifier-timeout-negative", ["run", *SCRIPTED, "--verifier-option", "timeout_s=-1", "--out", "{out}"],
     ["--verifier-option timeout_s: expected a number > 0, got -1"]),
    ("verifier-cpu-zero", ["run", *SCRIPTED, "--verifier-option", "cpu_s=0", "--out", "{out}"],
     ["--verifier-option cpu_s: expected a number > 0, or null, got 0"]),
    ("verifier-memory-zero", ["run", *SCRIPTED, "--verifier-option", "memory_mb=0", "--out", "{out}"],
     ["--verifier-option memory_mb: expected an integer >= 16, got 0"]),
    ("verifier-memory-fraction", ["run", *SCRIPTED, "--verifier-option", "memory_mb=512.5", "--out", "{out}"],
     ["--verifier-option memory_mb: expected an integer >= 16, got 512.5"]),
    ("verifier-processes-zero", ["run", *SCRIPTED, "--verifier-option", "max_processes=0", "--out", "{out}"],
     ["--verifier-option max_processes: expected an integer >= 1, got 0"]),
    ("verifier-output-zero", ["run", *SCRIPTED, "--verifier-option", "max_output_mb=0", "--out", "{out}"],
     ["--verifier-option max_output_mb: expected an integer >= 1, got 0"]),
    ("verifier-flagged-unknown", ["run", *SCRIPTED, "--verifier-option", "flagged=maybe", "--out", "{out}"],
     ["--verifier-option flagged: expected one of 'fail', 'pass', got 'maybe'"]),
    ("verifier-option-unknown", ["run", *SCRIPTED, "--verifier-option", "timeout=5", "--out", "{out}"],
     ["--verifier-option timeout: not an option of verifier 'code-tests'", "timeout_s"]),
    ("verifier-bool-not-bool", ["run", *SCRIPTED, "--verifier-option", "guard=sometimes", "--out", "{out}"],
     ["--verifier-option guard: expected true or false, got 'sometimes'"]),
    ("sampler-delay-not-a-number", ["run", *SCRIPTED, "--sampler-option", "delay_s=abc", "--out", "{out}"],
     ["--sampler-option delay_s: expected a number >= 0, got 'abc'"]),
    ("sampler-pick-unknown", ["run", *SCRIPTED, "--sampler-option", "pick=random", "--out", "{out}"],
     ["--sampler-option pick: expected one of 'seed', 'index', got 'random'"]),
    ("sampler-responses-not-a-list", ["run", *SCRIPTED, "--sampler-option", "responses=42", "--out", "{out}"],
     ["--sampler-option responses: expected a list of strings, got 42"]),
    ("sampler-option-unknown", ["run", *SCRIPTED, "--sampler-option", "temperature=1", "--out", "{out}"],
     ["--sampler-option temperature: not an option of sampler 'scripted'", "pick"]),
    ("sampler-option-not-key-value", ["run", *SCRIPTED, "--sampler-option", "delay_s", "--out", "{out}"],
     ["--sampler-option 'delay_s': expected KEY=VALUE"]),
    ("sampler-model-twice", ["run", *SCRIPTED, "--model", "a", "--sampler-option", "model=b", "--out", "{out}"],
     ["--sampler-option model: conflicts with --model"]),
    ("openai-without-base-url", ["run", "--sampler", "openai", "--model", "m", "--out", "{out}"],
     ["--base-url: required by sampler 'openai'"]),
    ("task-option-unknown-style", ["run", *SCRIPTED, "--task-option", "prompt_style=poem", "--out", "{out}"],
     ["--task-option prompt_style: expected one of 'chat', 'completion', got 'poem'"]),
    ("task-shots-out-of-range", ["run", "--task", "gsm8k", "--sampler", "scripted", "--task-option", "shots=99",
                                 "--out", "{out}"], ["--task-option shots: expected an integer >= 0 and <= 16"]),
    ("data-twice", ["run", *SCRIPTED, "--data", "{d}/good.jsonl", "--task-option", "data={d}/dup.jsonl",
                    "--out", "{out}"], ["--task-option data: conflicts with --data"]),
    # data files
    ("data-missing", ["run", *SCRIPTED, "--data", "{d}/nope.jsonl", "--out", "{out}"],
     ["{d}/nope.jsonl: data file not found", ".jsonl"]),
    ("data-a-directory", ["run", *SCRIPTED, "--data", "{d}/data_dir", "--out", "{out}"],
     ["{d}/data_dir: is a directory"]),
    ("data-truncated-gz", ["run", *SCRIPTED, "--data", "{d}/trunc.jsonl.gz", "--out", "{out}"],
     ["{d}/trunc.jsonl.gz: truncated or corrupt gzip data after line", "expected a complete .gz"]),
    ("data-gz-not-gzip", ["run", *SCRIPTED, "--data", "{d}/plain.jsonl.gz", "--out", "{out}"],
     ["{d}/plain.jsonl.gz: truncated or corrupt gzip data", "Not a gzipped file"]),
    ("data-not-utf8", ["run", *SCRIPTED, "--data", "{d}/latin1.jsonl", "--out", "{out}"],
     ["{d}/latin1.jsonl:4: not UTF-8 text", "0xe9"]),
    ("data-field-wrong-type", ["run", *SCRIPTED, "--data", "{d}/prompt_number.jsonl", "--out", "{out}"],
     ["{d}/prompt_number.jsonl:4: field 'prompt': expected a string, got a number 5"]),
    ("data-tests-a-list", ["run", *SCRIPTED, "--data", "{d}/tests_list.jsonl", "--out", "{out}"],
     ["{d}/tests_list.jsonl:1: field 'test': expected a string, got a list"]),
    ("data-missing-field", ["run", *SCRIPTED, "--data", "{d}/missing_field.jsonl", "--out", "{out}"],
     ["{d}/missing_field.jsonl:1: missing field 'test'"]),
    ("data-duplicate-ids", ["run", *SCRIPTED, "--data", "{d}/dup.jsonl", "--out", "{out}"],
     ["{d}/dup.jsonl:4: problem id 't/0' appears twice (first at {d}/dup.jsonl:1)"]),
    ("data-duplicate-ids-json", ["run", *SCRIPTED, "--data", "{d}/dup.json", "--out", "{out}"],
     ["{d}/dup.json: record 2: problem id 't/0' appears twice"]),
    ("data-empty", ["run", *SCRIPTED, "--data", "{d}/empty.jsonl", "--out", "{out}"],
     ["{d}/empty.jsonl: no records found"]),
    ("data-garbage-line", ["run", *SCRIPTED, "--data", "{d}/garbage.jsonl", "--out", "{out}"],
     ["{d}/garbage.jsonl:6: not valid JSON"]),
    ("data-blank-id", ["run", *SCRIPTED, "--data", "{d}/blank_id.jsonl", "--out", "{out}"],
     ["{d}/blank_id.jsonl:4: problem id", "is empty; expected a non-empty id"]),
    ("data-csv", ["run", *SCRIPTED, "--data", "{d}/tasks.csv", "--out", "{out}"],
     ["{d}/tasks.csv: a CSV file is not a task data format; expected a .jsonl"]),
    ("data-yaml", ["run", *SCRIPTED, "--data", "{d}/tasks.yaml", "--out", "{out}"],
     ["{d}/tasks.yaml: a YAML file is not a task data format"]),
    ("data-field-twice", ["run", *SCRIPTED, "--data", "{d}/field_twice.jsonl", "--out", "{out}"],
     ["{d}/field_twice.jsonl:4: not valid JSON: key 'prompt' appears twice"]),
    ("data-line-not-an-object", ["run", *SCRIPTED, "--data", "{d}/array_line.jsonl", "--out", "{out}"],
     ["{d}/array_line.jsonl:4: expected a JSON object per line, got a list"]),
    ("data-json-a-dict", ["run", *SCRIPTED, "--data", "{d}/dict.json", "--out", "{out}"],
     ["{d}/dict.json: expected a JSON list of records, got an object"]),
    ("data-json-numbers", ["run", *SCRIPTED, "--data", "{d}/numbers.json", "--out", "{out}"],
     ["{d}/numbers.json: record 1: expected a JSON object, got a number"]),
    ("data-mbpp-tests-a-string", ["run", "--task", "mbpp", *SCRIPTED, "--data", "{d}/mbpp_bad.jsonl",
                                  "--out", "{out}"],
     ["{d}/mbpp_bad.jsonl:1: field 'test_list': expected a list of strings, got a string"]),
    ("data-parquet-not-parquet", ["run", *SCRIPTED, "--data", "{d}/bad.parquet", "--out", "{out}"],
     ["{d}/bad.parquet: not a readable Parquet file"]),
    ("data-code-contests-field-type", ["run", "--task", "code-contests", *SCRIPTED, "--data", "{d}/cc_bad.jsonl",
                                       "--out", "{out}"],
     ["{d}/cc_bad.jsonl:1: field 'description': expected a string, got a number 5"]),
    ("data-code-contests-tests-numbers", ["run", "--task", "code-contests", *SCRIPTED, "--data",
                                          "{d}/cc_tests_numbers.jsonl", "--out", "{out}"],
     ["{d}/cc_tests_numbers.jsonl:1: field 'public_tests': field 'input': expected a list of strings"]),
    ("data-gsm8k-field-type", ["run", "--task", "gsm8k", *SCRIPTED, "--task-option", "shots=0", "--data",
                               "{d}/gsm8k_bad.jsonl", "--out", "{out}"],
     ["{d}/gsm8k_bad.jsonl:1: field 'question' must be a non-empty string, got int"]),
    # config files
    ("config-missing", ["run", "--config", "{d}/nope.yaml", "--out", "{out}"],
     ["{d}/nope.yaml: config file not found; expected a YAML, TOML or JSON config file"]),
    ("config-a-directory", ["run", "--config", "{d}/config_dir", "--out", "{out}"],
     ["{d}/config_dir: is a directory; expected a YAML, TOML or JSON config file"]),
    ("config-not-utf8", ["run", "--config", "{d}/latin1.yaml", "--out", "{out}"],
     ["{d}/latin1.yaml:2: not UTF-8 text", "0xe9"]),
    ("config-not-yaml", ["run", "--config", "{d}/garbage.yaml", "--out", "{out}"],
     ["{d}/garbage.yaml:3: not valid YAML: expected the node content", "(column 1)"]),
    ("config-not-toml", ["run", "--config", "{d}/bad.toml", "--out", "{out}"], ["{d}/bad.toml:2: not valid TOML: Invalid value (column 5)"]),
    ("config-not-json", ["run", "--config", "{d}/bad.json", "--out", "{out}"],
     ["{d}/bad.json:1: not valid JSON: Expecting property name", "(column 2)"]),
    ("config-a-list", ["run", "--config", "{d}/list.yaml", "--out", "{out}"],
     ["{d}/list.yaml: expected a mapping of config fields", "got a list"]),
    ("config-a-scalar", ["run", "--config", "{d}/scalar.yaml", "--out", "{out}"],
     ["{d}/scalar.yaml: expected a mapping of config fields", "got a str"]),
    ("config-unknown-field", ["run", "--config", "{d}/typo.yaml", "--out", "{out}"],
     ["{d}/typo.yaml: field 'temprature': unknown field", "did you mean 'temperature'"]),
    ("config-field-wrong-type", ["run", "--config", "{d}/n_text.toml", "--out", "{out}"],
     ["{d}/n_text.toml: field 'n': expected an integer >= 1", "got 'lots'"]),
    ("config-key-twice-yaml", ["run", "--config", "{d}/n_twice.yaml", "--out", "{out}"],
     ["{d}/n_twice.yaml:4: not valid YAML: key 'n' appears twice in one mapping (first on line 2)"]),
    ("config-key-twice-json", ["run", "--config", "{d}/n_twice.json", "--out", "{out}"],
     ["{d}/n_twice.json: not valid JSON: key 'n' appears twice"]),
    ("config-temperature-boolean", ["run", "--config", "{d}/temp_bool.yaml", "--out", "{out}"],
     ["{d}/temp_bool.yaml: field 'temperature': expected a number >= 0 and <= 5, got True"]),
    ("config-seed-boolean", ["run", "--config", "{d}/seed_bool.json", "--out", "{out}"],
     ["{d}/seed_bool.json: field 'seed': expected an integer, got False"]),
    ("config-budget-infinite", ["run", "--config", "{d}/budget_inf.yaml", "--out", "{out}"],
     ["{d}/budget_inf.yaml: field 'budget': tokens=inf; expected a finite number > 0"]),
    ("config-option-wrong-type", ["run", "--config", "{d}/vopt.yaml", "--out", "{out}"],
     ["{d}/vopt.yaml: field 'verifier_options.timeout_s': expected a number > 0, got 'abc'"]),
    # the run directory
    ("out-is-a-file", ["run", *SCRIPTED, "--out", "{d}/a_file"], ["--out {d}/a_file: exists and is not a directory"]),
    ("out-under-a-file", ["run", *SCRIPTED, "--out", "{d}/a_file/run"],
     ["--out {d}/a_file/run: cannot create it: {d}/a_file is not a directory"]),
    ("out-under-read-only", ["run", *SCRIPTED, "--out", "{d}/read_only/run"],
     ["--out {d}/read_only/run: cannot create it: {d}/read_only is not writable"]),
]
NEEDS_NON_ROOT = {"out-under-read-only"}


def _params(cases: list[tuple[str, list[str], list[str]]]) -> list:
    skip = pytest.mark.skipif(ROOT, reason="permissions do not stop root")
    return [pytest.param(args, named, id=name, marks=[skip] if name in NEEDS_NON_ROOT else [])
            for name, args, named in cases]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad_input")
    _write_files(d)
    return d


def one_error_line(proc) -> str:
    """The one `error:` line of a refused command (exit 2, no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(("args", "named"), _params(CASES))
def test_a_fresh_start_is_refused_with_one_line(files: Path, tmp_path: Path, args: list[str], named: list[str]):
    out = tmp_path / "run"
    proc = monkeys(*[a.format(d=files, out=out) for a in args], cwd=tmp_path)
    line = one_error_line(proc)
    for part in named:
        assert part.format(d=files, out=out) in line, line
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing created where the command ran"


# -- an existing run: refused the same way, and every file of the run byte-identical -----------------------

EXISTING: list[tuple[str, list[str], list[str]]] = [
    ("bad-verifier-option", ["--verifier-option", "timeout_s=abc"], ["--verifier-option timeout_s", "'abc'"]),
    ("verifier-limit-zero", ["--verifier-option", "max_processes=0"], ["--verifier-option max_processes"]),
    ("other-sampler-option", ["--sampler-option", "pick=index"], ["sampler_options.pick='seed', not 'index'"]),
    ("other-verifier-option", ["--verifier-option", "memory_mb=512"],
     ["verifier_options.memory_mb=1024, not 512"]),
    ("other-task-option", ["--task-option", "prompt_style=completion"], ["task_options.prompt_style='chat'"]),
    ("other-seed", ["--seed", "7"], ["seed=0, not 7"]),
    ("other-data", ["--data", "{d}/good.jsonl"], ["data=None"]),
    ("unknown-scorer", ["--scorer", "vibes"], ["unknown scorer 'vibes'"]),
    ("n-not-a-number", ["-n", "many"], ["-n/--n: expected an integer, got 'many'"]),
    ("unknown-flag", ["--resume"], ["No such option: --resume"]),
    ("bad-config-file", ["--config", "{d}/latin1.yaml"], ["{d}/latin1.yaml:2: not UTF-8"]),
    ("truncated-data", ["--data", "{d}/trunc.jsonl.gz"], ["trunc.jsonl.gz"]),
]


def _digest(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def existing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("existing") / "run"
    proc = monkeys("run", *SCRIPTED, "--out", str(out), "--no-report")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize(("extra", "named"), _params(EXISTING))
def test_an_existing_run_is_left_byte_identical(files: Path, existing: Path, extra: list[str], named: list[str]):
    before = _digest(existing)
    proc = monkeys("run", *SCRIPTED, "--out", str(existing), *[a.format(d=files) for a in extra])
    line = one_error_line(proc)
    for part in named:
        assert part.format(d=files) in line, line
    assert _digest(existing) == before


@pytest.mark.skipif(ROOT, reason="permissions do not stop root")
def test_a_read_only_run_directory(existing: Path):
    before = _digest(existing)
    existing.chmod(0o555)
    try:
        line = one_error_line(monkeys("run", *SCRIPTED, "-n", "4", "--out", str(existing)))
    finally:
        existing.chmod(0o755)
    assert f"--out {existing}: the run directory is not writable" in line
    assert _digest(existing) == before
