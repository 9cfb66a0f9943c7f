"""A model's answer to a SWE-bench issue, turned into a clean unified diff against the real files.

Models write patches badly: hunk headers with wrong line numbers and counts, blank context lines without
their leading space, diffs inside ``` fences among prose, or no diff at all but SEARCH/REPLACE blocks (the
agentless/aider format: a `### path` line, then `<<<<<<< SEARCH`, the old lines, `=======`, the new lines,
`>>>>>>> REPLACE`). `to_patch` reads either, finds each hunk or SEARCH text in the real file by its
content (exactly; then ignoring trailing whitespace; then ignoring indentation, re-indenting the new lines
by the same amount; for diffs, then with up to two lines of outer context dropped, as `patch`'s fuzz),
applies the edits in memory and writes the diff again with `difflib`, so the verifier applies a patch
whose every line and count is right. What cannot be placed is a `ValueError` naming the file and the
hunk or block, which the verifier reports as the sample's reason.

Nothing here runs the model's text: it is only compared and copied.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from monkeys.swe.instances import git

__all__ = ["to_patch"]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HUNK = re.compile(r"^@@\s*(?:-(\d+)(?:,(\d+))?\s*\+(\d+)(?:,(\d+))?)?.*?(?:@@|$)")
_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\b.*$")
_PATHLIKE = re.compile(r"^[\w.\-/+@]+\.[\w]+$|^[\w.\-+@]+(/[\w.\-+@]+)+$")
_DIFF_START = re.compile(r"^(diff --git |--- |\+\+\+ |@@ )", re.M)
MAX_FUZZ = 2


def to_patch(text: str, repo_dir: Path, *, commit: str | None = None) -> str:
    """A unified diff (git style, `a/`/`b/` paths) of the edits `text` makes to the files of `repo_dir`.

    `text` is a unified diff (fenced or not, headers and counts need not be right) or SEARCH/REPLACE
    blocks. The files are read from `repo_dir`'s working tree, or with `commit` from that commit
    (`git show`, no checkout needed). Raises `ValueError` saying which file and hunk/block did not match,
    or that the text holds no edit at all.
    """
    files = _Files(Path(repo_dir), commit)
    if any(_SEARCH.match(line) for line in text.splitlines()):
        _apply_blocks(_parse_blocks(text), files)
    else:
        patches = _parse_diff(_diff_text(text))
        if not patches:
            raise ValueError("no unified diff and no SEARCH/REPLACE block found in the answer")
        for patch in patches:
            _apply_file_patch(patch, files)
    out = files.diff()
    if not out:
        raise ValueError("the edits change nothing")
    return out


# -- the files being edited --------------------------------------------------------------------------


@dataclass
class _Text:
    """A file as lines without their ends; `newline_at_end` says whether the last one had one."""

    lines: list[str]
    newline_at_end: bool = True

    @classmethod
    def parse(cls, text: str) -> _Text:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            return cls(lines[:-1], True)
        return cls(lines, not text)

    def render(self) -> str:
        if not self.lines:
            return ""
        return "\n".join(self.lines) + ("\n" if self.newline_at_end else "")


@dataclass
class _Files:
    """The original and edited text of every file touched, read from the work tree or a commit."""

    repo: Path
    commit: str | None
    original: dict[str, str | None] = field(default_factory=dict)  # None: the file does not exist
    edited: dict[str, _Text | None] = field(default_factory=dict)  # None: deleted

    def read(self, path: str) -> _Text | None:
        """The current (possibly already edited) text of `path`, None when it does not exist."""
        if path not in self.original:
            self.original[path] = self._read_original(path)
            old = self.original[path]
            self.edited[path] = None if old is None else _Text.parse(old)
        return self.edited[path]

    def _read_original(self, path: str) -> str | None:
        if self.commit is not None:
            done = git(self.repo, "show", f"{self.commit}:{path}", check=False)
            return done.stdout.decode("utf-8", errors="surrogateescape") if done.returncode == 0 else None
        target = self.repo / path
        if not target.is_file():
            return None
        return target.read_bytes().decode("utf-8", errors="surrogateescape")

    def exists(self, path: str) -> bool:
        return self.read(path) is not None

    def write(self, path: str, text: _Text | None) -> None:
        self.read(path)
        self.edited[path] = text

    def diff(self) -> str:
        parts = []
        for path, old in self.original.items():
            new = self.edited[path]
            new_text = None if new is None else new.render()
            if old == new_text or (old is None and new is None):
                continue
            parts.append(_file_diff(path, old, new_text))
        return "".join(parts)


def _file_diff(path: str, old: str | None, new: str | None) -> str:
    """One file's git-style diff: `new file mode` / `deleted file mode` headers, `\\ No newline` markers."""
    head = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        head.append("new file mode 100644\n")
    elif new is None:
        head.append("deleted file mode 100644\n")
    old_lines = (old or "").splitlines(keepends=True)
    new_lines = (new or "").splitlines(keepends=True)
    body = difflib.unified_diff(old_lines, new_lines, "/dev/null" if old is None else f"a/{path}",
                                "/dev/null" if new is None else f"b/{path}", n=3)
    out = head
    for line in body:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _clean_path(raw: str, files: _Files, where: str) -> str:
    """A repository-relative path from a diff header or block line: quotes, timestamps and `a/`/`b/`
    prefixes removed. Raises `ValueError` for a path outside the repository."""
    path = raw.strip().split("\t")[0].strip().strip('"').strip("'").strip("`").strip()
    if path.startswith("./"):
        path = path[2:]
    if path[:2] in ("a/", "b/") and not (files.exists(path) and not files.exists(path[2:])):
        path = path[2:]
    parts = PurePosixPath(path).parts
    if not path or path.startswith("/") or ".." in parts or (parts and parts[0] == ".git"):
        raise ValueError(f"{where}: path {raw.strip()!r} is outside the repository")
    return str(PurePosixPath(path))


# -- finding old lines in a file ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    """Where old lines were found, and how to re-indent new lines (`drop` prefix → `add` prefix)."""

    start: int
    drop: str = ""
    add: str = ""

    def indent(self, line: str) -> str:
        if not line.strip() or (not self.drop and not self.add):
            return line
        if line.startswith(self.drop):
            return self.add + line[len(self.drop):]
        return line


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip())]


def _find(lines: list[str], old: list[str], hint: int | None, cursor: int) -> _Match | None:
    """The best place of `old` in `lines`: exact, then trailing-whitespace-blind, then indentation-blind
    (the same indentation change on every non-blank line); among several places, the first at or after
    `cursor` (where the previous edit ended), nearest to `hint` (the header's line number)."""
    n = len(old)
    norms: tuple[Callable[[str], str], ...] = (_same, _rstrip, _strip)
    for level, norm in enumerate(norms):
        want = [norm(s) for s in old]
        have = [norm(s) for s in lines]
        found = [i for i in range(len(lines) - n + 1) if have[i:i + n] == want]
        shifts = {i: _shifts(lines[i:i + n], old) for i in found} if level == 2 else {}
        found = [i for i in found if level < 2 or len(shifts[i]) <= 1]
        if not found:
            continue
        after = [i for i in found if i >= cursor] or found
        target = hint if hint is not None else cursor
        start = min(after, key=lambda i: (abs(i - target), i))
        drop, add = next(iter(shifts.get(start) or {("", "")}))
        return _Match(start, drop, add)
    return None


def _same(line: str) -> str:
    return line


def _rstrip(line: str) -> str:
    return line.rstrip()


def _strip(line: str) -> str:
    return line.strip()


def _shifts(found: list[str], old: list[str]) -> set[tuple[str, str]]:
    """The changes of leading whitespace (model's extra prefix, file's extra prefix) from each non-blank
    line of `old` to the file's: one when the model only moved the whole block."""
    out = set()
    for f, o in zip(found, old, strict=True):
        if not o.strip():
            continue
        fi, oi = _indent(f), _indent(o)
        common = 0
        while common < min(len(fi), len(oi)) and fi[-1 - common] == oi[-1 - common]:
            common += 1
        out.add((oi[:len(oi) - common], fi[:len(fi) - common]))
    return out


def _snippet(lines: list[str]) -> str:
    first = next((s.strip() for s in lines if s.strip()), "")
    return first if len(first) <= 60 else first[:57] + "..."


# -- unified diffs -----------------------------------------------------------------------------------


@dataclass
class _Hunk:
    old_start: int | None
    lines: list[tuple[str, str]] = field(default_factory=list)  # (' ' | '-' | '+', text)
    no_newline_old: bool = False
    no_newline_new: bool = False


@dataclass
class _FilePatch:
    old_path: str | None  # None: /dev/null (a new file)
    new_path: str | None  # None: /dev/null (a deleted file)
    hunks: list[_Hunk] = field(default_factory=list)


def _diff_text(text: str) -> str:
    """The diff part of an answer: the fenced blocks that hold a diff when there are such, else all of it."""
    blocks: list[str] = []
    current: list[str] = []
    inside = False
    for line in text.splitlines():
        if _FENCE.match(line):
            if inside:
                blocks.append("\n".join(current))
                current = []
            inside = not inside
            continue
        if inside:
            current.append(line)
    if inside and current:  # an unclosed fence (the answer was cut off)
        blocks.append("\n".join(current))
    diffs = [b for b in blocks if _DIFF_START.search(b)]
    return "\n".join(diffs) if diffs else text


def _header_path(line: str) -> str | None:
    raw = line[4:].split("\t")[0].strip()
    return None if raw in ("/dev/null", "dev/null") else raw


def _parse_diff(text: str) -> list[_FilePatch]:
    """File patches of a unified diff, read by content: hunk counts are ignored (a hunk ends at the next
    hunk, file header or a line that is no diff line), an empty line inside a hunk is an empty context
    line, and empty lines closing a hunk are dropped."""
    lines = text.replace("\r\n", "\n").split("\n")
    patches: list[_FilePatch] = []
    current: _FilePatch | None = None
    hunk: _Hunk | None = None
    git_paths: tuple[str, str] | None = None

    def close_hunk() -> None:
        nonlocal hunk
        if hunk is not None and current is not None:
            while hunk.lines and hunk.lines[-1] == (" ", ""):
                hunk.lines.pop()
            if any(op != " " for op, _ in hunk.lines):
                current.hunks.append(hunk)
        hunk = None

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.startswith("--- ") and nxt.startswith("+++ "):
            close_hunk()
            current = _FilePatch(_header_path(line), _header_path(nxt))
            if git_paths and current.old_path is None and current.new_path is None:
                current = _FilePatch(*git_paths)
            patches.append(current)
            git_paths = None
            i += 2
            continue
        if line.startswith("diff --git "):
            close_hunk()
            current = None
            m = re.match(r"diff --git (\S+) (\S+)", line)
            git_paths = (m.group(1), m.group(2)) if m else None
        elif line.startswith("@@"):
            close_hunk()
            if current is None and git_paths is not None:  # `diff --git` without ---/+++ lines
                current = _FilePatch(*git_paths)
                patches.append(current)
            if current is not None:
                m = _HUNK.match(line)
                start = int(m.group(1)) if m and m.group(1) else None
                hunk = _Hunk(start)
        elif hunk is not None:
            if line.startswith("\\"):
                if hunk.lines and hunk.lines[-1][0] in " -":
                    hunk.no_newline_old = True
                if hunk.lines and hunk.lines[-1][0] in " +":
                    hunk.no_newline_new = True
            elif line == "":
                hunk.lines.append((" ", ""))
            elif line[0] in " -+":
                hunk.lines.append((line[0], line[1:]))
            else:
                close_hunk()
        i += 1
    close_hunk()
    return [p for p in patches if p.hunks or (p.new_path is None and p.old_path is not None)]


def _apply_file_patch(patch: _FilePatch, files: _Files) -> None:
    old_raw, new_raw = patch.old_path, patch.new_path
    where = f"diff of {new_raw or old_raw}"
    old_path = _clean_path(old_raw, files, where) if old_raw is not None else None
    new_path = _clean_path(new_raw, files, where) if new_raw is not None else None
    path = new_path or old_path
    assert path is not None  # a file patch has at least one path (the parser keeps no other)
    if new_path is None:  # deletion
        assert old_path is not None
        if not files.exists(old_path):
            raise ValueError(f"{old_path}: the diff deletes it, but there is no such file")
        files.write(old_path, None)
        return
    if old_path is not None and old_path != new_path and files.exists(old_path) and not files.exists(new_path):
        files.write(new_path, files.read(old_path))  # a rename: edit the moved text
        files.write(old_path, None)
    current = files.read(path)
    adds_only = all(op == "+" for h in patch.hunks for op, _ in h.lines)
    if current is None:
        if not adds_only:
            raise ValueError(f"{path}: no such file in the repository (the diff edits lines of it)")
        body = [t for h in patch.hunks for _, t in h.lines]
        files.write(path, _Text(body, not (patch.hunks and patch.hunks[-1].no_newline_new)))
        return
    if old_path is None and current.lines and adds_only:
        raise ValueError(f"{path}: the diff creates this file, but it already exists")
    text = _Text(list(current.lines), current.newline_at_end)
    cursor, shift = 0, 0
    for n, hunk in enumerate(patch.hunks, 1):
        cursor, delta = _apply_hunk(text, hunk, cursor, shift, f"{path}: hunk {n}")
        shift += delta
    files.write(path, text)


def _apply_hunk(text: _Text, hunk: _Hunk, cursor: int, shift: int, where: str) -> tuple[int, int]:
    """Apply `hunk` to `text` in place; returns where it ended and how many lines it added."""
    ops = list(hunk.lines)
    hint = None if hunk.old_start is None else max(hunk.old_start - 1 + shift, 0)
    if all(op == "+" for op, _ in ops):  # no old line to find: "-a,0" adds after line a
        at = len(text.lines) if hunk.old_start is None else min(max(hunk.old_start + shift, 0), len(text.lines))
        new = [t for _, t in ops]
        text.lines[at:at] = new
        return at + len(new), len(new)
    match = None
    old = [t for op, t in ops if op != "+"]
    for fuzz in range(MAX_FUZZ + 1):
        trimmed = _trim_context(ops, fuzz)
        if trimmed is None:
            break
        lead, body = trimmed
        match = _find(text.lines, [t for op, t in body if op != "+"], None if hint is None else hint + lead,
                      cursor)
        if match is not None:
            ops = body
            break
    if match is None:
        raise ValueError(f"{where} does not match the file (it looks for {_snippet(old)!r})")
    out, j = [], match.start
    for op, t in ops:
        if op == " ":
            out.append(text.lines[j])
            j += 1
        elif op == "-":
            j += 1
        else:
            out.append(match.indent(t))
    reaches_end = j == len(text.lines)
    text.lines[match.start:j] = out
    if reaches_end and hunk.no_newline_new:
        text.newline_at_end = False
    elif reaches_end and hunk.no_newline_old:
        text.newline_at_end = True
    return match.start + len(out), len(out) - (j - match.start)


def _trim_context(ops: list[tuple[str, str]], fuzz: int) -> tuple[int, list[tuple[str, str]]] | None:
    """`ops` without up to `fuzz` context lines at each end, and how many went from the start; None when
    that drops nothing more than `fuzz - 1` did or leaves no old line to find."""
    def ends(f: int) -> tuple[int, int]:
        lead = 0
        while lead < f and lead < len(ops) and ops[lead][0] == " ":
            lead += 1
        tail = 0
        while tail < f and tail < len(ops) - lead and ops[len(ops) - 1 - tail][0] == " ":
            tail += 1
        return lead, tail

    lead, tail = ends(fuzz)
    if fuzz and (lead, tail) == ends(fuzz - 1):
        return None
    body = ops[lead:len(ops) - tail]
    if not any(op != "+" for op, _ in body):
        return None
    return lead, body


# -- SEARCH/REPLACE blocks ----------------------------------------------------------------------------


@dataclass
class _Block:
    number: int
    path: str
    search: list[str]
    replace: list[str]


def _path_line(line: str) -> str | None:
    """The file a block belongs to, from a line like `### pkg/mod.py`, `pkg/mod.py:` or `` `pkg/mod.py` ``."""
    stripped = line.strip().lstrip("#").strip().strip("*`'\"").rstrip(":").strip("*`'\"").strip()
    for prefix in ("File:", "file:", "Path:", "path:", "filename:"):
        if stripped.startswith(prefix):
            stripped = stripped[len(prefix):].strip().strip("`")
    return stripped if _PATHLIKE.match(stripped) else None


def _parse_blocks(text: str) -> list[_Block]:
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[_Block] = []
    last_path: str | None = None
    since = 0  # first line after the previous block
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        number = len(blocks) + 1
        path = None
        for back in range(i - 1, since - 1, -1):  # the nearest path-like line since the previous block
            path = _path_line(_FENCE.sub("", lines[back]))
            if path:
                break
        path = path or last_path
        if path is None:
            raise ValueError(f"SEARCH/REPLACE block {number}: no file path before it")
        search: list[str] = []
        replace: list[str] = []
        j = i + 1
        while j < len(lines) and not _DIVIDER.match(lines[j]):
            if _SEARCH.match(lines[j]) or _REPLACE.match(lines[j]):
                break
            search.append(lines[j])
            j += 1
        if j >= len(lines) or not _DIVIDER.match(lines[j]):
            raise ValueError(f"SEARCH/REPLACE block {number} ({path}): no ======= line after its SEARCH part")
        j += 1
        while j < len(lines) and not _REPLACE.match(lines[j]):
            if _SEARCH.match(lines[j]):
                break
            replace.append(lines[j])
            j += 1
        if j >= len(lines) or not _REPLACE.match(lines[j]):
            raise ValueError(f"SEARCH/REPLACE block {number} ({path}): no >>>>>>> REPLACE line to end it")
        blocks.append(_Block(number, path, search, replace))
        last_path = path
        since = i = j + 1
    return blocks


def _apply_blocks(blocks: list[_Block], files: _Files) -> None:
    cursors: dict[str, int] = {}
    for block in blocks:
        where = f"SEARCH/REPLACE block {block.number} ({block.path})"
        path = _clean_path(block.path, files, where)
        current = files.read(path)
        search = block.search
        if not any(s.strip() for s in search):  # empty SEARCH: a new file, or text added at its end
            if current is None:
                files.write(path, _Text(list(block.replace), True))
            else:
                files.write(path, _Text(current.lines + list(block.replace), True))
            continue
        if current is None:
            raise ValueError(f"{where}: no such file in the repository")
        text = _Text(list(current.lines), current.newline_at_end)
        replace = list(block.replace)
        match = _find(text.lines, search, None, cursors.get(path, 0))
        if match is None:  # blank lines the model put around the SEARCH text: go, with as many around REPLACE
            lead, tail = _blank_ends(search)
            if lead or tail:
                search = search[lead:len(search) - tail]
                match = _find(text.lines, search, None, cursors.get(path, 0))
                r_lead, r_tail = _blank_ends(replace)
                replace = replace[min(lead, r_lead):len(replace) - min(tail, r_tail)]
        if match is None:
            raise ValueError(f"{where}: the SEARCH text does not match the file (it looks for "
                             f"{_snippet(search)!r})")
        new = [match.indent(t) for t in replace]
        text.lines[match.start:match.start + len(search)] = new
        cursors[path] = match.start + len(new)
        files.write(path, text)


def _blank_ends(lines: list[str]) -> tuple[int, int]:
    """How many blank lines `lines` starts and ends with (all of them count as leading when all are blank)."""
    lead = 0
    while lead < len(lines) and not lines[lead].strip():
        lead += 1
    tail = 0
    while tail < len(lines) - lead and not lines[len(lines) - 1 - tail].strip():
        tail += 1
    return lead, tail
