"""What the harness runs once a program has run reads no name the program can replace (an eighth audit round).

A builtin looked up by name is the program's to replace: `all` inside the hook's own frame check ran the program's
code where every event passed; `object` in the tests' wrapper handed the program that wrapper, and through its
closure the check and its flags; `len` in the patched-class check hid an added dunder. And the uncaught exception
is printed by the harness's own formatter, with the guard still on, running none of the program's code.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from pathlib import Path

from monkeys.sandbox import _harness, get_sandbox

HARNESS = Path(_harness.__file__).read_text(encoding="utf-8")
COMPREHENSIONS = ("listcomp", "dictcomp", "setcomp", "genexpr")


def _builtin_reads(table: symtable.SymbolTable, path: tuple[str, ...], out: dict[str, list[str]]) -> None:
    for child in table.get_children():
        here = (*path, child.get_name())
        if child.get_type() == "function":
            names = sorted(s.get_name() for s in child.get_symbols()
                           if s.is_global() and s.is_referenced() and s.get_name() in vars(builtins))
            if names:
                out[".".join(here)] = names
        _builtin_reads(child, here, out)


def test_no_closure_of_the_runner_reads_a_builtin_by_name() -> None:
    found: dict[str, list[str]] = {}
    _builtin_reads(symtable.symtable(HARNESS, "_harness.py", "exec"), (), found)
    # the runner's own comprehensions run once, in the template, before any program
    at_runtime = {k: v for k, v in found.items() if k.startswith("make_runner.")
                  and not all(part in COMPREHENSIONS for part in k.split(".")[1:])}
    assert at_runtime == {}


def test_the_visible_helpers_read_no_builtin_by_name() -> None:
    """`watch`, `seen`, `relay`, `entry` and `importer` run once the program ran (exit() and quit() are the
    program's own calls)."""
    found: dict[str, list[str]] = {}
    _builtin_reads(symtable.symtable(_harness._VISIBLE, "<sandbox>", "exec"), (), found)
    assert {k: v for k, v in found.items() if not k.startswith("Quitter")} == {}
    visible = {node.name for node in ast.parse(_harness._VISIBLE).body}
    assert visible == {"Quitter", "seen", "watch", "relay", "entry", "importer"}


TESTS = "def check(candidate):\n    assert candidate() == 1\n\ncheck(f)\n"


def test_the_uncaught_exception_is_printed_as_python_prints_it() -> None:
    sandbox = get_sandbox()
    chained = sandbox.run("def f():\n    try:\n        int('x')\n    except ValueError as e:\n"
                          "        raise KeyError('k') from e\n", tests=TESTS)
    assert chained.ending == "exception" and chained.detail == "KeyError"
    text = chained.stderr.decode()
    assert text.startswith("Traceback (most recent call last):\n"), text
    assert "ValueError: invalid literal for int() with base 10: 'x'\n" in text
    assert "\nThe above exception was the direct cause of the following exception:\n\n" in text
    assert '  File "main.py", line 5, in f\n' in text and text.endswith("KeyError: 'k'\n"), text

    syntax = sandbox.run("def f():\n    x = (1,\n      2 3)\n", tests=TESTS)
    assert syntax.detail == "SyntaxError" and syntax.stderr.decode().endswith(
        '  File "main.py", line 3\n    2 3)\n    ^^^\n'
        "SyntaxError: invalid syntax. Perhaps you forgot a comma?\n"), syntax

    recursion = sandbox.run("def f():\n    return f()\n", tests=TESTS)
    text = recursion.stderr.decode()
    assert recursion.detail == "RecursionError" and "  [Previous line repeated " in text and \
        text.endswith("RecursionError: maximum recursion depth exceeded\n"), text[-500:]

    # a library's frames show their lines; an exception of the program's shows its builtin base's message, and
    # one holding an object of the program's does not call that object's __str__
    library = sandbox.run("import json\n\nclass E(Exception):\n    def __str__(self):\n        return 'mine'\n\n"
                          "def f():\n    try:\n        json.loads('{')\n    except ValueError:\n"
                          "        raise E(object())\n", tests=TESTS)
    text = library.stderr.decode()
    assert "json/decoder.py" in text and "    obj, end = self.scan_once(s, idx)\n" in text, text
    assert "\nDuring handling of the above exception, another exception occurred:\n\n" in text
    assert text.endswith("E: <exception str() not shown: it holds an object of the program's>\n"), text

    exited = sandbox.run("import sys\nsys.exit('bye')\n")
    assert (exited.ending, exited.exit_code, exited.stderr) == ("exit", 1, b"bye\n")


def test_the_guard_stays_on_after_the_report() -> None:
    """After the report the program's code no longer runs with the guard off: its exception's `__str__` is not
    called (it found frames and the collector open there), and its thread still finds frames refused."""
    program = ("import os, sys, threading\n\nclass E(Exception):\n    def __str__(self):\n"
               "        os.write(1, b'__str__ called')\n        return 'x'\n\n"
               "def _spin():\n    while True:\n        try:\n            sys._getframe(0)\n"
               "        except ValueError:\n            continue\n        os.write(1, b'open')\n\n"
               "def f():\n    sys.setswitchinterval(1e-6)\n    threading.Thread(target=_spin, daemon=True).start()\n"
               "    raise E()\n")
    for _ in range(3):
        result = get_sandbox().run(program, tests=TESTS)
        assert result.ending == "exception" and result.stdout == b"", result
        assert result.stderr.decode().endswith("\nE\n"), result.stderr
