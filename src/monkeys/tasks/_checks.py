"""Load-time checks of function-assert problems (HumanEval, MBPP): a problem whose tests cannot test anything
is bad data, refused with one `DataError` naming the record and field, never a verdict on the samples.

Without an `assert` every sample passes (MBPP `test_list: []`); a HumanEval `test` without a top-level
`check(candidate)` makes every sample fail (`check` is what the verifier calls); an `entry_point` the
reference solution does not define would charge each sample for the data's mistake.
"""

from __future__ import annotations

import ast

from monkeys.errors import DataError


def _parse(code: str, where: str, field: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as exc:
        raise DataError(f"{where}: field {field!r}: not valid Python (line {exc.lineno}: {exc.msg}); expected"
                        " the problem's test code") from None
    except (ValueError, RecursionError) as exc:  # a NUL byte, nesting too deep
        raise DataError(f"{where}: field {field!r}: not valid Python ({exc})") from None


def _asserts(tree: ast.AST) -> bool:
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def check_asserts(code: str, where: str, field: str) -> None:
    """`code` (MBPP's joined `test_list`) is Python with at least one `assert`."""
    if not code.strip():
        raise DataError(f"{where}: field {field!r}: no tests; expected at least one assert (with none, every"
                        " sample would pass)")
    if not _asserts(_parse(code, where, field)):
        raise DataError(f"{where}: field {field!r}: no assert statement; expected asserts that check a"
                        " sample's code (with none, every sample would pass)")


def check_function(code: str, where: str, field: str = "test") -> None:
    """`code` (HumanEval's `test`) defines `check(candidate)` at top level, and asserts something."""
    if not code.strip():
        raise DataError(f"{where}: field {field!r}: empty; expected a `def check(candidate)` with asserts")
    tree = _parse(code, where, field)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if not defs or not (defs[-1].args.args or defs[-1].args.posonlyargs or defs[-1].args.vararg):
        raise DataError(f"{where}: field {field!r}: defines no top-level `def check(candidate)`; expected the"
                        " function the verifier calls with the sample's entry point")
    if not _asserts(tree):
        raise DataError(f"{where}: field {field!r}: no assert statement; expected asserts that check a"
                        " sample's function (with none, every sample would pass)")


def check_entry_point(name: str, code: str, where: str, field: str) -> None:
    """The reference code (`prompt` + `canonical_solution`, or the prompt alone) binds `name` at top level."""
    if not name.isidentifier():
        raise DataError(f"{where}: field 'entry_point': {name!r} is not a Python name")
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return  # a prompt alone may not parse (a signature to continue); the verifier reads the samples
    bound = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    if name not in bound:
        raise DataError(f"{where}: field 'entry_point': {name!r} is not defined by the {field}; expected the"
                        " name of the function the tests check")
