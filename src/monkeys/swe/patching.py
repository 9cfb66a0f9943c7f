"""Unified diffs as `swe-tests` sees them: recognised, pulled out of an answer, parsed for the files and
lines they touch, and normalised so that identical patches are verified once.

Parsing here is for looking, never for applying: `git apply` (then GNU `patch`) applies, in
`worktree.Worktree.apply`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

# What one patch may be: its text (a diff this long is no fix; reading it took the grader minutes), and
# what its binary hunks and copies write (a 120 kB binary literal inflates to 100 MB) plus what the files
# it changed hold once applied (the guard reads them whole).
MAX_PATCH_CHARS = 2_000_000
MAX_WRITTEN_BYTES = 16 << 20
MAX_PATH_BYTES = 3072  # one path in the checkout; longer ones overran PATH_MAX (4,096) with the checkout's folder
_BINARY_SIZE = re.compile(r"^(?:literal|delta) (\d+)$", re.M)
_COPY_FROM = re.compile(r"^copy from (.+)$", re.M)
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_OPENER = re.compile(r"```[\w+-]*[ \t]*")  # a whole line: ```diff
_CLOSER = re.compile(r"```[ \t]*")


def looks_like_diff(text: str) -> bool:
    """A unified diff: a file header pair (`--- ` then `+++ `) followed by a hunk header."""
    lines = text.splitlines()
    for i in range(len(lines) - 2):
        if lines[i].startswith("--- ") and lines[i + 1].startswith("+++ ") and _HUNK.match(lines[i + 2]):
            return True
    return False


def extract_diff(text: str) -> str | None:
    """The diff in a model answer: the fenced blocks that are diffs, joined, or the whole text when it
    is one; None when there is none."""
    blocks = [block for block in _fenced_blocks(text) if looks_like_diff(block)]
    if blocks:
        return "".join(b if b.endswith("\n") else b + "\n" for b in blocks)
    if looks_like_diff(text):
        start = text.find("diff --git ")
        if start < 0:
            start = next(m.start() for m in re.finditer(r"^--- ", text, re.M))
        body = text[start:]
        return body if body.endswith("\n") else body + "\n"
    return None


def _fenced_blocks(text: str) -> list[str]:
    """The bodies of the ``` fenced blocks, each ending in a newline; an opening fence with no closing one
    after it starts none. Found line by line: a pattern with a lazy body backtracks quadratically over
    many opening fences without a closing one (20,000 took 19 s)."""
    lines, blocks, i = text.split("\n"), [], 0
    while i < len(lines) - 1:
        if _OPENER.fullmatch(lines[i]):
            close = next((k for k in range(i + 1, len(lines)) if _CLOSER.fullmatch(lines[k])), None)
            if close is None:
                break  # no closing fence after this one: none after any later one either
            blocks.append("".join(line + "\n" for line in lines[i + 1:close]))
            i = close + 1
        else:
            i += 1
    return blocks


@dataclass
class FileChange:
    """One file of a diff: `old`/`new` paths without the a/ b/ prefix, None for /dev/null."""

    old: str | None
    new: str | None
    added: list[str] = field(default_factory=list)  # added lines, without the leading '+'
    removed: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.new or self.old or ""


def _strip(name: str) -> str | None:
    name = name.split("\t", 1)[0].strip()
    if len(name) > 1 and name.startswith('"') and name.endswith('"'):
        name = _unquote(name[1:-1])
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(body: str) -> str:
    """A path as git C-quotes it (`"b/t\\303\\251st.py"`: octal bytes, \\t, \\", ...), as the file system names
    it (bytes that are not UTF-8 kept as surrogates, as the checkout's paths are read); the test patch's
    files must be known by their real names, to guard and to watch them."""
    out, i = bytearray(), 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            digits = body[i + 1:i + 4]
            if len(digits) == 3 and all(d in "01234567" for d in digits):
                out.append(int(digits, 8) & 0xFF)
                i += 4
                continue
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
        out += c.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")


def parse(diff: str) -> list[FileChange]:
    """The files a unified diff touches, with their added and removed lines."""
    files: list[FileChange] = []
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            files.append(FileChange(_strip(line[4:]), _strip(lines[i + 1][4:])))
            i += 2
            continue
        if files and _HUNK.match(line):
            i += 1
            while i < len(lines) and not lines[i].startswith(("@@", "diff --git ", "--- ")):
                body = lines[i]
                if body.startswith("+"):
                    files[-1].added.append(body[1:])
                elif body.startswith("-"):
                    files[-1].removed.append(body[1:])
                i += 1
            continue
        if line.startswith("diff --git "):  # a header-only change (mode, rename, binary) has no --- line
            m = re.match(r"diff --git (\S+) (\S+)", line)
            j = i + 1
            while j < len(lines) and not lines[j].startswith(("--- ", "diff --git ", "@@")):
                j += 1
            if m and (j >= len(lines) or not lines[j].startswith("--- ")):
                files.append(FileChange(_strip(m.group(1)), _strip(m.group(2))))
        i += 1
    return files


def binary_bytes(diff: str) -> int:
    """Bytes the diff's git binary hunks (`literal N`, `delta N`) write once inflated."""
    return sum(int(m.group(1)) for m in _BINARY_SIZE.finditer(diff))


def copy_sources(diff: str) -> list[str]:
    """The files a diff's `copy from` headers copy (whole, without their text in the diff)."""
    return [_strip(m.group(1)) or "" for m in _COPY_FROM.finditer(diff)]


def paths(diff: str) -> list[str]:
    """Every path a diff names (old and new), in order, without duplicates."""
    out: dict[str, None] = {}
    for f in parse(diff):
        for p in (f.old, f.new):
            if p:
                out[p] = None
    return list(out)


def normalise(diff: str) -> str:
    """The diff with what does not change its effect removed: trailing whitespace, blank lines, `index`
    and `diff --git` lines, hunk header line numbers, and text around the diff."""
    out = []
    for line in diff.splitlines():
        line = line.rstrip()
        if not line or line.startswith(("index ", "diff --git ")):
            continue
        if _HUNK.match(line):
            line = "@@"
        elif line.startswith(("--- ", "+++ ")):
            name = _strip(line[4:])
            line = line[:4] + (name or "/dev/null")
        out.append(line)
    return "\n".join(out) + "\n"


def patch_hash(diff: str) -> str:
    """A short hash of `normalise(diff)`: equal for patches that differ only as `normalise` ignores."""
    return hashlib.blake2b(normalise(diff).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
