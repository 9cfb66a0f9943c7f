"""The files a SWE-bench prompt shows: BM25 (the `bm25s` package) over the repository at `base_commit`.

Files are read straight from git objects (`git ls-tree` for the list, one `git cat-file --batch` for the
contents), so no checkout is made and a bare mirror works. Two indexes are scored together (each score
divided by its best, then summed): the files' path and text, split into words the way code is written
(`parse_fits_header` and `parseFitsHeader` both give `parse`, `fits`, `header`, and the whole name is kept
too), English stop words left out; and what each file defines (its path and the names after `def` and
`class`, dunders left out), searched with the issue's whole words, so a file defining a function the issue
names ranks high even when it is long and a shorter file says more of the issue's words (a name counts as
code when it has `_` or an inner capital, or is written `name(`, `.name` or in backquotes).

An index is built once per (repository, commit) and kept in memory and, with a cache folder, on disk
(`<cache>/<repo>/<commit>/`), so loading the task again (a resumed run, `monkeys verify`) reads it back.
Sizes are estimated at 4 characters per token (`estimate_tokens`), which is close for code in the usual
BPE tokenizers and needs no tokenizer.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monkeys.extras import require
from monkeys.swe.instances import git

SOURCE_SUFFIXES = (".py", ".pyx", ".pyi")
MAX_FILE_BYTES = 512_000  # larger files are generated or data; never shown
CHARS_PER_TOKEN = 4
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_tests?\.py$|(^|/)conftest\.py$")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_CODE_NAME = re.compile(r"[.`]?\b([A-Za-z_][A-Za-z0-9_]*)\b(?:\(|`)?")
_DEFINES = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.M)
_FORMAT = 2  # version of the on-disk index layout


def estimate_tokens(text: str) -> int:
    """Tokens of `text` at `CHARS_PER_TOKEN` characters each (rounded up)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def words(text: str) -> list[str]:
    """Lower-case search words of code or prose: each identifier whole and split at `_` and case changes."""
    out: list[str] = []
    for word in _WORD.findall(text):
        lower = word.lower()
        parts = [p.lower() for p in _PART.findall(word)]
        if len(lower) > 1:
            out.append(lower)
        if len(parts) > 1 or (parts and parts[0] != lower):
            out.extend(p for p in parts if len(p) > 1)
    return out


def is_test_path(path: str) -> bool:
    """Test files and folders (`tests/`, `test_*.py`, `*_test.py`, `conftest.py`): a fix does not edit them."""
    return bool(_TEST_PATH.search(path))


def list_files(repo: Path, commit: str, *, suffixes: tuple[str, ...] = SOURCE_SUFFIXES,
               include_tests: bool = False) -> list[tuple[str, str]]:
    """(path, blob id) of the source files at `commit`, sorted by path; large files and (by default)
    tests are left out."""
    raw = git(repo, "ls-tree", "-r", "-l", "-z", commit).stdout.decode("utf-8", errors="surrogateescape")
    out = []
    for entry in raw.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, kind, blob, size = meta.split()
        if kind != "blob" or mode == "120000" or not path.endswith(suffixes):
            continue
        if size == "-" or int(size) > MAX_FILE_BYTES or (not include_tests and is_test_path(path)):
            continue
        out.append((path, blob))
    return sorted(out)


def read_blobs(repo: Path, blobs: list[str]) -> list[str]:
    """The texts of `blobs` (UTF-8, undecodable bytes replaced), read in one `git cat-file --batch`."""
    if not blobs:
        return []
    data = git(repo, "cat-file", "--batch", input="".join(f"{b}\n" for b in blobs).encode()).stdout
    texts, pos = [], 0
    for _ in blobs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        if len(header) < 3 or header[1] == b"missing":
            texts.append("")
            pos = end + 1
            continue
        size = int(header[2])
        texts.append(data[end + 1:end + 1 + size].decode("utf-8", errors="replace"))
        pos = end + 1 + size + 1
    return texts


def read_file(repo: Path, commit: str, path: str) -> str | None:
    """The text of `path` at `commit` (`git show`), or None when it does not exist there."""
    done = git(repo, "show", f"{commit}:{path}", check=False)
    return done.stdout.decode("utf-8", errors="replace") if done.returncode == 0 else None


def defined_names(text: str) -> list[str]:
    """The names a Python file defines with `def` or `class` (any depth), lower-case, dunders left out."""
    return [n.lower() for n in _DEFINES.findall(text) if not (n.startswith("__") and n.endswith("__"))]


def code_names(text: str) -> list[str]:
    """The names prose uses as code, lower-case: with `_` or an inner capital (`partition_all`, `parseHeader`),
    or written as code (`` `name` ``, `name(`, `.name`)."""
    out = []
    for m in _CODE_NAME.finditer(text):
        name = m.group(1)
        if name.isdigit() or (name.startswith("__") and name.endswith("__")):
            continue
        quoted = m.group(0).endswith(("(", "`")) or m.group(0).startswith((".", "`"))
        if quoted or "_" in name.strip("_") or any(c.isupper() for c in name[1:]):
            out.append(name.lower())
    return out


@dataclass
class Index:
    """The BM25 indexes of one repository at one commit: `paths[i]` is document i of both."""

    paths: list[str]
    blobs: list[str]
    content: Any  # bm25s.BM25 over path and text
    defines: Any  # bm25s.BM25 over path and defined names

    def rank(self, query: str, top: int = 50) -> list[tuple[str, float]]:
        """(path, score) of the best-matching files, best first; files scoring 0 are left out."""
        if not self.paths:
            return []
        stop = _stop_words()
        scores = None
        for index, terms in ((self.content, [w for w in words(query) if w not in stop]),
                             (self.defines, code_names(query))):
            part = index.get_scores(terms)
            best = float(part.max()) if len(part) else 0.0
            if best > 0:
                scores = part / best if scores is None else scores + part / best
        if scores is None:
            return []
        order = sorted(range(len(self.paths)), key=lambda i: (-float(scores[i]), self.paths[i]))
        return [(self.paths[i], float(scores[i])) for i in order[:top] if scores[i] > 0]


_MEMORY: dict[tuple[str, str, bool], Index] = {}
_BLOBS: OrderedDict[str, tuple[list[str], list[str]]] = OrderedDict()  # blob id -> its terms (LRU)
_SPLITS: dict[str, tuple[str, ...]] = {}  # identifier -> its search words
MAX_CACHED_BLOBS = 5000
_LOCK = threading.RLock()


def _bm25() -> Any:
    require("swe", "bm25s", what="SWE-bench retrieval (BM25)")
    import bm25s  # type: ignore[import-untyped]

    return bm25s


def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN  # type: ignore[import-untyped]

    return frozenset(STOPWORDS_EN)


def _terms(text: str, stop: frozenset[str]) -> list[str]:
    """`words(text)` without stop words, in another order (BM25 counts, it does not read): each distinct
    identifier is split once per process."""
    out: list[str] = []
    for word, n in Counter(_WORD.findall(text)).items():
        split = _SPLITS.get(word)
        if split is None:
            split = tuple(w for w in words(word) if w not in stop)
            if len(_SPLITS) < 2_000_000:
                _SPLITS[word] = split
        for w in split:
            out.extend([w] * n)
    return out


def build_index(repo: Path, commit: str, *, include_tests: bool = False) -> Index:
    """Index every source file of `repo` at `commit`. The terms of each file are kept by blob id (up to
    `MAX_CACHED_BLOBS`), so another commit of the same repository reads and splits only what changed."""
    bm25s = _bm25()
    stop = _stop_words()
    files = list_files(repo, commit, include_tests=include_tests)
    with _LOCK:
        terms = {b: _BLOBS[b] for _, b in files if b in _BLOBS}
        for blob in terms:
            _BLOBS.move_to_end(blob)
    unknown = sorted({b for _, b in files} - terms.keys())
    for blob, text in zip(unknown, read_blobs(repo, unknown), strict=True):
        terms[blob] = (_terms(text, stop), defined_names(text))
    with _LOCK:
        for blob in unknown:
            _BLOBS[blob] = terms[blob]
        while len(_BLOBS) > MAX_CACHED_BLOBS:
            _BLOBS.popitem(last=False)
    content, defines = bm25s.BM25(), bm25s.BM25()
    if files:
        path_words = [words(path) for path, _ in files]
        content.index([[w for w in pw if w not in stop] + terms[b][0] for pw, (_, b) in zip(path_words, files,
                                                                                             strict=True)],
                      show_progress=False)
        defines.index([pw + terms[b][1] for pw, (_, b) in zip(path_words, files, strict=True)], show_progress=False)
    return Index([p for p, _ in files], [b for _, b in files], content, defines)


def get_index(repo: Path, commit: str, *, cache_dir: Path | None = None, include_tests: bool = False) -> Index:
    """The index of (`repo`, `commit`): from memory, else from `cache_dir`, else built (and saved there)."""
    repo = Path(repo).resolve()
    commit = git(repo, "rev-parse", f"{commit}^{{commit}}").stdout.decode().strip()
    key = (str(repo), commit, include_tests)
    with _LOCK:
        found = _MEMORY.get(key)
    if found is not None:
        return found
    where = None
    if cache_dir is not None:
        where = Path(cache_dir) / repo.name / (commit + ("-tests" if include_tests else ""))
        found = _load(where)
    if found is None:
        found = build_index(repo, commit, include_tests=include_tests)
        if where is not None:
            _save(found, where)
    with _LOCK:
        _MEMORY[key] = found
    return found


def _save(index: Index, where: Path) -> None:
    """Write the indexes, the file list last: a folder without it (a crash midway) is not read."""
    if not index.paths:
        return
    try:
        where.mkdir(parents=True, exist_ok=True)
        index.content.save(str(where / "content"), show_progress=False)
        index.defines.save(str(where / "defines"), show_progress=False)
        tmp = where / "files.json.tmp"
        tmp.write_text(json.dumps({"format": _FORMAT, "paths": index.paths, "blobs": index.blobs}))
        tmp.replace(where / "files.json")
    except OSError:  # a read-only cache only costs the rebuild next time
        pass


def _load(where: Path) -> Index | None:
    try:
        meta = json.loads((where / "files.json").read_text())
        if meta.get("format") != _FORMAT:
            return None
        bm25 = _bm25().BM25
        content = bm25.load(str(where / "content"), show_progress=False, verbosity=0)
        defines = bm25.load(str(where / "defines"), show_progress=False, verbosity=0)
    except (OSError, ValueError, KeyError):
        return None
    return Index(list(meta["paths"]), list(meta["blobs"]), content, defines)


@dataclass(frozen=True)
class ContextFile:
    """A file shown in a prompt: its path, its text and BM25 score; `lines` = (first, last) 1-based line
    numbers when only that part of the file is shown."""

    path: str
    text: str
    score: float
    lines: tuple[int, int] | None = None

    @property
    def truncated(self) -> bool:
        return self.lines is not None


def retrieve(repo: Path, commit: str, query: str, *, budget_tokens: int, max_files: int = 5,
             cache_dir: Path | None = None) -> list[ContextFile]:
    """The best-ranked files that fit in `budget_tokens` together, at most `max_files`, best first.

    Files are taken whole in rank order, skipping one that would overflow the budget, except the best
    one: when it is too large, its part richest in the query's words (at most half the budget) is shown.
    """
    if budget_tokens <= 0:  # no index is built (`monkeys verify` needs no prompt)
        return []
    index = get_index(repo, commit, cache_dir=cache_dir)
    ranked = index.rank(query, top=max(50, max_files * 10))
    if not ranked:
        return []
    blob_of = dict(zip(index.paths, index.blobs, strict=True))
    texts = dict(zip([p for p, _ in ranked], read_blobs(Path(repo), [blob_of[p] for p, _ in ranked]), strict=True))
    chosen: list[ContextFile] = []
    left = budget_tokens
    for rank, (path, score) in enumerate(ranked):
        overhead = estimate_tokens(path) + 16
        cost = estimate_tokens(texts[path]) + overhead
        if cost <= left:
            chosen.append(ContextFile(path, texts[path], score))
            left -= cost
        elif rank == 0:
            first, last, part = _window(texts[path], query, budget_tokens // 2 - overhead)
            if part:
                chosen.append(ContextFile(path, part, score, (first, last)))
                left -= estimate_tokens(part) + overhead
        if len(chosen) >= max_files:
            break
    return chosen


def _window(text: str, query: str, max_tokens: int) -> tuple[int, int, str]:
    """(first line, last line, text) of the run of whole lines within `max_tokens` that holds the most of
    the query's words (its code names count five times), moved back to start at the `def` or `class` it is
    in when that is at most 30 lines up."""
    stop = _stop_words()
    plain = {w for w in words(query) if w not in stop}
    code = set(code_names(query))
    lines = text.splitlines(keepends=True)
    cost = [estimate_tokens(line) for line in lines]
    hits = [sum((w in plain) + 5 * (w in code) for w in words(line)) for line in lines]
    best, best_at, best_end = -1, 0, 0
    end, tokens, found = 0, 0, 0
    for start in range(len(lines)):
        while end < len(lines) and tokens + cost[end] <= max_tokens:
            tokens += cost[end]
            found += hits[end]
            end += 1
        if end > start and found > best:
            best, best_at, best_end = found, start, end
        if end > start:
            tokens -= cost[start]
            found -= hits[start]
        else:
            end = start + 1
    if best_end <= best_at:
        return 0, 0, ""
    for up in range(best_at, max(best_at - 30, 0) - 1, -1):
        if _DEFINES.match(lines[up]):
            best_at = up
            while best_end > best_at + 1 and sum(cost[best_at:best_end]) > max_tokens:
                best_end -= 1
            break
    return best_at + 1, best_end, "".join(lines[best_at:best_end])
