from pathlib import Path

import pytest

from monkeys.config import build_config, check_resume, load_config_file, parse_problem_selection
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
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("n: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid"):
        load_config_file(bad)


def test_resume_refuses_a_changed_identity_but_allows_more_samples(tmp_path: Path):
    stored = build_config({"n": 4}).model_dump(mode="json")
    check_resume(stored, build_config({"n": 8, "concurrency": 4}), tmp_path)
    with pytest.raises(ConfigError, match="temperature=0.6, not 0.9"):
        check_resume(stored, build_config({"temperature": 0.9}), tmp_path)
