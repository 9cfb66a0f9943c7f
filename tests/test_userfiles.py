"""`monkeys._userfiles`: the checks every user file goes through, on inputs too large or odd for the CLI
tests to build cheaply."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from monkeys.config import load_config_file
from monkeys.errors import ConfigError


def _nested(path: Path, depth: int, leaf: str) -> Path:
    path.write_text('{"sampler_options": {"x": ' + "[" * depth + leaf + "]" * depth + "}}")
    return path


def test_a_config_nested_as_deep_as_json_goes_with_a_lone_surrogate_is_one_error(tmp_path: Path):
    """The check that names a field holding a lone surrogate walks the document without recursing: at the
    deepest nesting the JSON parser still reads, a recursive walk raised RecursionError (a traceback)."""
    deepest = next(d for d in range(sys.getrecursionlimit(), 0, -1)  # what the parser still reads from here
                   if _parses(_nested(tmp_path / "probe.json", d, '"ok"')))
    with pytest.raises(ConfigError) as err:
        load_config_file(_nested(tmp_path / "deep.json", deepest, '"\\ud800"'))
    assert "field 'sampler_options.x[0][0]" in str(err.value) and "not valid Unicode text" in str(err.value)


def _parses(path: Path) -> bool:
    try:
        load_config_file(path)
    except ConfigError as exc:
        assert "nested too deeply" in str(exc), exc
        return False
    return True
