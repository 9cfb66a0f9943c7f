"""Strip the top-level code that makes a correct function fail its asserts; parse only, never run.

For function-assert problems (HumanEval, MBPP) a sample's code is followed by the problem's tests. Model
outputs often add, after a correct function, top-level code that breaks that program: an example call,
`print(f(3))`, `input()` reads, an `if __name__ == "__main__":` block (`doctest.testmod()`,
`unittest.main()`, `sys.exit(main())`), the model's own (sometimes wrong) `assert` lines, `exit()`.
`sanitize` keeps the definitions and drops the rest, like evalplus's `sanitize` (simpler: no dependency
graph from the entry point).

Policy, applied to each top-level statement of the parsed program:

- kept: `import` / `from ... import`; `def`, `async def`, `class` (with their decorators); `global`,
  `nonlocal`, `pass`; a bare constant expression (docstrings, `...`); a call to `sys.setrecursionlimit(...)`
  or `sys.set_int_max_str_digits(...)` (also imported bare), which solutions need;
- kept: an assignment (`=`, annotated, augmented) unless it calls `input`, `print`, `exit`, `quit`,
  `open`, `sys.exit` or `os._exit`, or reads `sys.stdin` (any `.stdin` attribute or bare `stdin`); lambda
  bodies are not looked into, since they do not run at definition;
- kept: an `if`, `try` (also `try`/`except*`) or `with` statement only when its header expressions pass the
  assignment check and every statement inside is itself kept by these rules, so
  `try: import numpy as np` / `except ImportError: ...` stays; an `if __name__ == "__main__":` block (either
  quote, either operand order, `==` or `is`) is always removed;
- removed: everything else (expression statements such as calls and prints, `assert`, `for`/`while`
  loops, `raise`, `del`, `return`, `match`, `async with`/`async for`, top-level `await`), each recorded as
  one short description ("line 12: call print(...)", "line 20: if __name__ == '__main__' block");
- removed too: a kept simple statement that reads, at top level, a name that only a removed statement
  bound so far (it would raise NameError: `n = int(input())` removed takes `arr = [0] * n` with it);
- if `entry_point` is given and the program binds it at top level but no kept statement does (the
  function sits inside a `__main__` block, or a loop), the program is returned unchanged: sanitizing must
  never remove the function under test.

The result is the kept statements' own source text, in their original order: each run of consecutive kept
statements as its whole lines (so comments, blank lines and layout inside and between them stay), exact
column spans where kept and removed statements share a line, the pieces joined by the program's newline
(comments next to a removed statement go with it). When nothing is removed, or the code does not parse
(SyntaxError and friends: the sandbox then reports it as before), or it is over 200,000 characters, `code`
itself is returned, byte-identical, which keeps caches keyed by exact bytes stable. `ast.parse` is the only
thing done with the code.
"""

from __future__ import annotations

import ast
import builtins
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

MAX_CHARS = 200_000

_BANNED_CALLS = frozenset({"input", "print", "exit", "quit", "open", "sys.exit", "os._exit"})
_ALLOWED_CALLS = frozenset(
    {"sys.setrecursionlimit", "sys.set_int_max_str_digits", "setrecursionlimit", "set_int_max_str_digits"}
)
_BUILTINS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__spec__", "__loader__"}
# Python's own line ends: "\r\n", "\r" and "\n" (not str.splitlines' form feed, "\x1c", "\u2028", ...).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SIMPLE = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)
_REMOVED_KIND = {
    ast.Assert: "assert",
    ast.For: "for loop",
    ast.AsyncFor: "async for loop",
    ast.While: "while loop",
    ast.Raise: "raise",
    ast.Delete: "del",
    ast.Return: "return",
    ast.Break: "break",
    ast.Continue: "continue",
    ast.Match: "match statement",
    ast.AsyncWith: "async with block",
}


@dataclass(frozen=True)
class Sanitized:
    """The kept program (`code` itself when nothing was removed) and one line per removed statement."""

    code: str
    removed: tuple[str, ...] = ()


# CPython before 3.11.9/3.12.1 (gh-106905) keeps the AST converter's recursion depth in shared state: two
# threads building ASTs at once can fail with "SystemError: AST constructor recursion depth mismatch" (seen
# here on 3.11.7 with two verification threads). One lock for every `ast.parse` of the verifiers; parsing is
# GIL-bound anyway, so nothing runs slower.
_PARSE_LOCK = threading.Lock()


def parse(code: str) -> ast.Module:
    """`ast.parse`, one thread at a time (see `_PARSE_LOCK`)."""
    with _PARSE_LOCK:
        return ast.parse(code)


def sanitize(code: str, entry_point: str | None = None) -> Sanitized:
    """Drop the top-level statements that should not run before the tests (see the module docstring)."""
    if len(code) > MAX_CHARS:
        return Sanitized(code)
    try:
        body = parse(code).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Sanitized(code)
    try:
        reasons = _reasons(body)
    except RecursionError:  # the parser bounds nesting, so this is belt and braces
        return Sanitized(code)
    if not any(reasons):
        return Sanitized(code)
    if entry_point and _loses(body, reasons, entry_point):
        return Sanitized(code)
    return Sanitized(_kept_text(code, body, reasons), tuple(r for r in reasons if r))


def _reasons(body: list[ast.stmt]) -> list[str | None]:
    """Per top-level statement: why it is removed, or None when kept (including the NameError cascade)."""
    reasons: list[str | None] = []
    bound: set[str] = set()  # bound so far by kept statements
    lost: set[str] = set()  # bound so far by removed statements only
    for stmt in body:
        reason = _reject(stmt)
        if reason is None and isinstance(stmt, _SIMPLE):
            missing = sorted((_loads(stmt) & lost) - bound)
            if missing:
                reason = f"uses {missing[0]}, bound only by a removed statement"
        names = _binds(stmt)
        if reason is None:
            bound |= names
        else:
            lost |= names
            reason = f"line {stmt.lineno}: {reason}"
        reasons.append(reason)
    return reasons


def _reject(stmt: ast.stmt) -> str | None:
    """Why `stmt` is not kept by the policy, or None when it is (without line number)."""
    if isinstance(
        stmt,
        ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        | ast.Global | ast.Nonlocal | ast.Pass,
    ):
        return None
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        effect = _side_effect([stmt])
        return f"assignment that {effect}" if effect else None
    if isinstance(stmt, ast.Expr):
        return _reject_expression(stmt.value)
    if isinstance(stmt, ast.If):
        if _is_main_guard(stmt.test):
            return "if __name__ == '__main__' block"
        return _reject_block("if", [stmt.test], [stmt.body, stmt.orelse])
    if isinstance(stmt, ast.Try | ast.TryStar):
        handlers = [h.type for h in stmt.handlers if h.type is not None]
        bodies = [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
        return _reject_block("try", handlers, bodies)
    if isinstance(stmt, ast.With):
        headers: list[ast.AST] = [item.context_expr for item in stmt.items]
        headers += [item.optional_vars for item in stmt.items if item.optional_vars is not None]
        return _reject_block("with", headers, [stmt.body])
    kind = _REMOVED_KIND.get(type(stmt))
    return kind or type(stmt).__name__.lower()


def _reject_expression(value: ast.expr) -> str | None:
    if isinstance(value, ast.Constant):
        return None
    if isinstance(value, ast.Call):
        name = _dotted(value.func)
        if name in _ALLOWED_CALLS and _side_effect([*value.args, *value.keywords]) is None:
            return None
        return f"call {name}(...)" if name else "call"
    if isinstance(value, ast.Await):
        return "await"
    if isinstance(value, ast.Yield | ast.YieldFrom):
        return "yield"
    return "expression"


def _reject_block(kind: str, headers: Iterable[ast.AST], bodies: Iterable[list[ast.stmt]]) -> str | None:
    effect = _side_effect(headers)
    if effect:
        return f"{kind} block whose header {effect}"
    for inner in (stmt for body in bodies for stmt in body):
        reason = _reject(inner)
        if reason:
            return f"{kind} block (line {inner.lineno}: {reason})"
    return None


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq | ast.Is)):
        return False
    sides = (test.left, test.comparators[0])
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


def _side_effect(nodes: Iterable[ast.AST]) -> str | None:
    """What in `nodes` must not run before the tests: a banned call or a stdin read (lambda bodies skipped)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in _BANNED_CALLS:
                return f"calls {name}(...)"
        elif isinstance(node, ast.Attribute) and node.attr == "stdin":
            return "reads stdin"
        elif isinstance(node, ast.Name) and node.id == "stdin":
            return "reads stdin"
        stack.extend(ast.iter_child_nodes(node))
    return None


def _dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _walk_top(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """The nodes evaluated at top level: not inside def/class/lambda bodies (their name and header still)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                stack.extend(node.args.defaults)
                stack.extend(d for d in node.args.kw_defaults if d is not None)
            else:
                stack.extend(node.bases)
            continue
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _binds(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement may bind in the module namespace (an over-approximation is fine)."""
    names: set[str] = set()
    for node in _walk_top([stmt]):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _loads(stmt: ast.stmt) -> set[str]:
    """Names a simple statement reads at top level; names it binds itself (comprehension targets) excluded."""
    loads: set[str] = set()
    stores: set[str] = set()
    for node in _walk_top([stmt]):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else stores).add(node.id)
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        loads.add(stmt.target.id)
    return loads - (stores if _has_comprehension(stmt) else set()) - _BUILTINS


def _has_comprehension(stmt: ast.stmt) -> bool:
    return any(isinstance(node, _COMPREHENSIONS) or isinstance(node, ast.NamedExpr) for node in ast.walk(stmt))


def _loses(body: list[ast.stmt], reasons: list[str | None], name: str) -> bool:
    """Whether the program binds `name` at top level but none of the kept statements does."""
    kept = any(name in _binds(s) for s, r in zip(body, reasons, strict=True) if r is None)
    return not kept and any(name in _binds(s) for s in body)


def _kept_text(code: str, body: list[ast.stmt], reasons: list[str | None]) -> str:
    lines = _LINE.findall(code)
    newline = "\r\n" if "\r\n" in code else ("\r" if "\r" in code and "\n" not in code else "\n")
    pieces: list[str] = []
    run: tuple[int, int] | None = None  # lines of the current run of wholly kept statements
    for group in _line_groups(body, reasons):
        if all(reason is None for _, reason in group):
            last = group[-1][0].end_lineno or group[-1][0].lineno
            run = (run[0] if run else _first_line(group[0][0]), last)
            continue
        if run:
            pieces.append(_strip_newline("".join(lines[run[0] - 1 : run[1]])))
            run = None
        # several statements on shared lines, some removed: exact column spans of the kept ones
        pieces.extend(_segment(lines, stmt) for stmt, reason in group if reason is None)
    if run:
        pieces.append(_strip_newline("".join(lines[run[0] - 1 : run[1]])))
    text = newline.join(pieces)
    if text and code.endswith(("\n", "\r")):
        text += newline
    return text


def _line_groups(
    body: list[ast.stmt], reasons: list[str | None]
) -> Iterator[list[tuple[ast.stmt, str | None]]]:
    """Runs of consecutive statements that share source lines (`a = 1; print(a)`)."""
    group: list[tuple[ast.stmt, str | None]] = []
    for stmt, reason in zip(body, reasons, strict=True):
        if group and _first_line(stmt) > (group[-1][0].end_lineno or group[-1][0].lineno):
            yield group
            group = []
        group.append((stmt, reason))
    if group:
        yield group


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno, *(d.lineno for d in decorators)])


def _strip_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    """The statement's exact source span; ast column offsets count UTF-8 bytes."""
    first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
    end = stmt.end_col_offset if stmt.end_col_offset is not None else len(lines[last].encode())
    if first == last:
        return lines[first].encode()[stmt.col_offset : end].decode()
    head = lines[first].encode()[stmt.col_offset :].decode()
    tail = lines[last].encode()[:end].decode()
    return head + "".join(lines[first + 1 : last]) + tail
