"""The tests of a function-assert problem, rewritten so the sandbox's harness sees every value they judge.

The harness flags a value of the program's making that can agree with anything (a class overriding
`__eq__`, `__bool__`, `__sub__`, ...), but it used to see only what the program's plain functions
return. A value reaches an assert by other routes too: an entry point that is a `functools.partial`, a
class, a bound method, an `lru_cache` wrapper or a callable object; a generator whose items the tests
`list()`; arithmetic on a returned object (`abs(candidate(x) - 2) < 1e-6` compares a float the
object's `__sub__` chose). So every expression an `assert` evaluates is passed through
`__monkeys_seen__` (the harness's check, returning the value unchanged), whatever produced it.

Helpers the prompt gives (HumanEval's `poly`, `encode_cyclic`) are bound in the tests' own namespace from
the prompt, so a program that redefines them (`encode_cyclic` as the identity, `poly` returning 0) does
not change what the tests check with.

Builtins the tests call (`abs`, `sorted`) are bound from `builtins` at the tests' start, so a program's
global of the same name (`def abs(x): return 0`) is not what they call; the entry point keeps its own
(MBPP's `sum` is a task). Replacing the builtin itself is the harness's `replaced builtins.abs` flag.

Trusted text only (the dataset's tests and prompt); the program is never parsed here.
"""

from __future__ import annotations

import ast
import builtins
from typing import cast

SEEN = "__monkeys_seen__"


def prompt_helpers(prompt_code: str, entry: str | None) -> str:
    """The prompt's top-level statements but the entry point's own definition, as source ("" if none or
    the prompt does not parse)."""
    try:
        tree = ast.parse(prompt_code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    kept = [node for node in tree.body
            if not (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == entry)]
    if not any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for node in kept):
        return ""
    return "\n\n".join(ast.get_source_segment(prompt_code, node, padded=True) or ast.unparse(node) for node in kept)


def builtins_preamble(tests: str, entry: str | None, solution: str | None = None) -> str:
    """`NAME = __monkeys_builtins__["NAME"]` for every builtin name the tests read that is not the problem's own: the
    entry point, or (MBPP, which names none) what the reference solution defines at top level; then the reference
    solution's own imports of the names the tests read (MBPP/596's tests call `sys.getsizeof` and import no
    `sys`: the program's global `sys`, any object of its making, was what they called). "" when neither is
    known: then the program's names are the tests' (as in the paper's harness)."""
    modules: list[ast.stmt] = []
    if entry:
        own = {entry}
    elif solution:
        try:
            body = ast.parse(solution).body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return ""
        own = {name for node in body for name in _bound(node)}
        modules = [node for node in body if isinstance(node, ast.Import)
                   or (isinstance(node, ast.ImportFrom) and not node.level)]
    else:
        return ""
    try:
        tree = ast.parse(tests)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    names = sorted(n for n in used & set(vars(builtins)) if n not in own and not n.startswith("_"))
    # read from the harness's snapshot of the builtins, taken before any program ran (`__monkeys_builtins__`, a
    # plain dict): an import is answered from `sys.modules`, where a program can put a module of its own, and
    # an attribute of the builtins module goes through its class, which a program can swap
    preamble = "".join(f"{n} = __monkeys_builtins__[{n!r}]\n" for n in names)
    # the tests' own import (through the snapshot's `__import__`); a module a program replaced in `sys.modules`
    # or patched is then the harness's flag, as for any module the tests import
    return preamble + "".join(ast.unparse(node) + "\n" for node in modules if used & set(_bound(node)))


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else \
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]


def watch_asserts(tests: str) -> str:
    """`tests` with every value an `assert` reads wrapped in `__monkeys_seen__(...)`; `tests` unchanged when
    it has no assert or does not parse (the sandbox then reports the tests' own error)."""
    try:
        tree = ast.parse(tests)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return tests
    changed = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            node.test = _Wrap().wrap(node.test)
            changed = True
    if not changed:
        return tests
    text = ast.unparse(ast.fix_missing_locations(tree))
    try:
        compile(text, "tests.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return tests
    return text + "\n"


class _Wrap(ast.NodeTransformer):
    """Wraps each value-producing expression (children first); leaves what cannot hold a value alone."""

    def wrap(self, node: ast.expr) -> ast.expr:
        return cast(ast.expr, self.visit(node))

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.Call):
            node.args = [self.wrap(a) for a in node.args]
            for kw in node.keywords:
                kw.value = self.wrap(kw.value)
            if not isinstance(node.func, ast.Name):  # `candidate(...)` itself is a name, not a value to judge
                node.func = cast(ast.expr, self.generic_visit(node.func))
            return _seen(node)
        if isinstance(node, ast.JoinedStr):  # its parts must stay FormattedValue/Constant nodes
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    part.value = self.wrap(part.value)
            return node
        if isinstance(node, (ast.Lambda, ast.Constant, ast.Slice, ast.Starred)) or \
                getattr(node, "ctx", ast.Load()).__class__ is not ast.Load:
            return self.generic_visit(node)
        node = self.generic_visit(node)
        return _seen(node) if isinstance(node, ast.expr) else node


def _seen(node: ast.expr) -> ast.expr:
    call = ast.Call(func=ast.Name(id=SEEN, ctx=ast.Load()), args=[node], keywords=[])
    return ast.copy_location(call, node)
