"""A feature whose optional install is missing fails with one line naming the extra, never a traceback.

"Missing" is simulated by setting the module to None in `sys.modules` (what Python does for a module that
failed to import), in a subprocess running the real CLI, so nothing else in the test process changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monkeys.errors import MonkeysError, PluginError
from monkeys.extras import MissingExtra, missing, require


def test_require_names_the_missing_packages_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    require("local", "numpy", "json")  # present: nothing raised
    monkeypatch.setitem(sys.modules, "torch", None)
    assert missing("numpy", "torch", "no-such-package-xyz") == ["torch", "no-such-package-xyz"]
    with pytest.raises(MissingExtra) as err:
        require("local", "torch", "numpy", what="the embedded model")
    assert str(err.value) == "the embedded model needs torch: pip install 'monkeys[local]'"
    assert isinstance(err.value, PluginError) and isinstance(err.value, MonkeysError)  # the CLI's exit 2


def _cli(args: list[str], blocked: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = ("import sys\n"
            f"for name in {blocked!r}: sys.modules[name] = None\n"
            f"sys.argv = ['monkeys', *{args!r}]\n"
            "from monkeys.cli import main\n"
            "main()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_monkeys_run_without_torch_says_which_extra(tmp_path: Path) -> None:
    out = _cli(["run", "-n", "1", "--problems", "0:1", "--out", str(tmp_path / "run")], ["torch"], tmp_path)
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the embedded model needs torch: pip install 'monkeys[local]'"]
    assert "Traceback" not in out.stderr


def test_the_logprob_scorer_without_the_local_extra_says_which(tmp_path: Path) -> None:
    out = _cli(["run", "--sampler", "scripted", "-n", "1", "--problems", "0:1", "--scorer", "logprob",
                "--out", str(tmp_path / "run")], ["torch", "gguf", "tokenizers"], tmp_path)
    assert out.returncode == 2, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the embedded model needs torch, gguf, tokenizers: pip install 'monkeys[local]'"]
    assert "Traceback" not in out.stderr


def test_the_base_commands_import_no_model_library() -> None:
    """report, import, verify, export and view load without torch, transformers, gguf or tokenizers."""
    code = ("import sys\n"
            "import monkeys.cli, monkeys.cli.report_cmd, monkeys.cli.data_cmd, monkeys.cli.verify_cmd\n"
            "import monkeys.cli.view_cmd, monkeys.view.app, monkeys.report.html, monkeys.store.importer\n"
            "from monkeys.registry import list_plugins\n"
            "for kind in ('task', 'sampler', 'verifier', 'scorer'): list_plugins(kind)\n"
            "print(sorted(m for m in ('torch', 'transformers', 'gguf', 'tokenizers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
