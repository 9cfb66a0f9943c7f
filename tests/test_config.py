import json
from pathlib import Path

import pytest

from monkeys.config import (
    REDACTED,
    build_config,
    check_resume,
    find_secrets,
    is_secret_name,
    load_config_file,
    parse_problem_selection,
    redact,
    stored_config,
)
from monkeys.errors import ConfigError


def test_defaults_are_the_paper_sampling_settings():
    cfg = build_config({})
    assert (cfg.temperature, cfg.top_p) == (0.6, 0.95)


def test_wrong_type_names_the_field_and_source():
    with pytest.raises(ConfigError, match=r"run.yaml: field 'n': .*integer.*'many'"):
        build_config({"n": "many"}, source="run.yaml")


def test_unknown_field_is_refused():
    with pytest.raises(ConfigError, match="field 'temprature'"):
        build_config({"temprature": 0.1})


@pytest.mark.parametrize("spec, expected", [("5", slice(0, 5)), ("2:7", slice(2, 7)), (":3", slice(None, 3)),
                                            ("a/1, b/2", ["a/1", "b/2"])])
def test_problem_selection(spec, expected):
    assert parse_problem_selection(spec) == expected


def test_bad_slice():
    with pytest.raises(ConfigError, match="problems"):
        build_config({"problems": "x:y"})


@pytest.mark.parametrize("name, text", [("c.yaml", "n: 3\ntask: mbpp\n"), ("c.toml", 'n = 3\ntask = "mbpp"\n'),
                                        ("c.json", '{"n": 3, "task": "mbpp"}')])
def test_config_files(tmp_path: Path, name, text):
    path = tmp_path / name
    path.write_text(text)
    cfg = build_config(load_config_file(path))
    assert (cfg.n, cfg.task) == (3, "mbpp")


def test_unreadable_and_malformed_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="missing.yaml: config file not found"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("n: [1,\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: not valid YAML: .* \(column 1\)"):
        load_config_file(bad)


def test_resume_refuses_a_changed_identity_but_allows_more_samples(tmp_path: Path):
    stored = build_config({"n": 4}).model_dump(mode="json")
    check_resume(stored, build_config({"n": 8, "concurrency": 4}), tmp_path)
    with pytest.raises(ConfigError, match="temperature=0.6, not 0.9"):
        check_resume(stored, build_config({"temperature": 0.9}), tmp_path)


def test_resume_may_change_the_servers_but_not_the_model(tmp_path: Path):
    base = {"sampler": "openai", "model": "m", "base_url": "http://a:8000/v1"}
    stored = stored_config(build_config(base))
    servers = ["http://a:8000/v1", "http://b:8000/v1"]
    history = check_resume(stored, build_config({**base, "base_url": servers}), tmp_path)
    assert history[-1]["changes"]["base_url"] == {"from": "http://a:8000/v1", "to": servers}
    with pytest.raises(ConfigError, match="model='m', not 'other'"):
        check_resume(stored, build_config({**base, "model": "other"}), tmp_path)


@pytest.mark.parametrize(("name", "secret"), [
    ("api_key", True), ("apiKey", True), ("X-API-Key", True), ("Authorization", True), ("hf_token", True),
    ("client_secret", True), ("db_password", True), ("Cookie", True), ("key", True),
    ("api_key_env", False), ("password_file", False), ("max_tokens", False), ("tokenizer", False),
    ("token_budget", False), ("keys", False), ("model", False),
])
def test_what_counts_as_a_secret(name, secret):
    assert is_secret_name(name) is secret


def test_redaction_reaches_nested_headers_lists_and_urls():
    given = {"sampler_options": {"api_key": "sk-1", "api_key_env": "MY_KEY", "api_key_missing": None,
                                 "extra_headers": {"Authorization": "Bearer sk-2", "Accept": "json"},
                                 "extra_body": {"note": "Bearer sk-3", "list": [{"token": "sk-4"}]}},
             "base_url": "http://bob:sk-5@host:8000/v1"}
    redacted = redact(given)
    assert "sk-" not in json.dumps(redacted)
    assert redacted["sampler_options"]["api_key_env"] == "MY_KEY"
    assert redacted["sampler_options"]["api_key_missing"] is None
    assert redacted["sampler_options"]["extra_headers"] == {"Authorization": REDACTED, "Accept": "json"}
    assert redacted["base_url"] == f"http://bob:{REDACTED}@host:8000/v1"
    assert redact(redacted) == redacted
    assert find_secrets(given) == [
        "sampler_options.api_key", "sampler_options.extra_headers.Authorization", "sampler_options.extra_body.note",
        "sampler_options.extra_body.list[0].token", "base_url"]


def test_resume_compares_redacted_configs_and_never_shows_a_secret(tmp_path: Path):
    new = build_config({"task_options": {"hf_token": "sk-new"}, "sampler_options": {"api_key": "sk-new"}})
    check_resume(stored_config(new), new, tmp_path)  # as stored by this version
    old = build_config({"task_options": {"hf_token": "sk-old"}}).model_dump(mode="json")
    check_resume(old, new, tmp_path)  # a store that kept the key in clear; a rotated key is no conflict
    changed = build_config({"task_options": {"hf_token": "sk-new", "split": "test"}})
    with pytest.raises(ConfigError, match="task_options") as err:
        check_resume(old, changed, tmp_path)
    assert "sk-" not in str(err.value)


def test_a_bad_option_field_does_not_echo_its_value():
    with pytest.raises(ConfigError) as err:
        build_config({"sampler_options": "api_key=sk-7"})
    assert "sampler_options" in str(err.value) and "sk-7" not in str(err.value)
