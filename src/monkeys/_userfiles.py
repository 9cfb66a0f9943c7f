"""Read the files a user hands monkeys (a config file, a pricing file, a task's data file) one way.

Each caller describes its file once (`UserFile`: what it is called, what it should hold, the error class it
raises) and every refusal is then one error of that class whose message is one line: the file, `:LINE`
where a line is known, what is wrong, and what was expected.

    run.yaml: is a directory; expected a YAML, TOML or JSON config file
    prices.json: pricing file not found; expected a pricing file (JSON, YAML or TOML)
    run.yaml:3: not valid YAML: mapping values are not allowed here (column 9)
    he.jsonl:4: not UTF-8 text (byte 0xe9 at column 12); expected UTF-8 JSON

A file is opened without blocking and checked on the open descriptor (`open_regular`), so a FIFO, socket
or device in place of the file is refused at once instead of waiting for a writer; a whole-document
reader (`read_document`) refuses a file larger than it could sensibly be (`MAX_DOCUMENT_BYTES`).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from monkeys.errors import MonkeysError

# Formats by suffix; any other suffix is read as the caller's default (and a parse error says so).
KINDS = {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML", ".json": "JSON"}
MAX_DOCUMENT_BYTES = 64 << 20  # a config or pricing file is kilobytes; this is something else entirely


@dataclass(frozen=True)
class UserFile:
    """How one kind of user file is named in messages: `what` ("config file"), `expected` (what it should
    be: "a YAML, TOML or JSON config file") and the error class its refusals raise."""

    what: str
    expected: str
    error: type[MonkeysError]

    def fail(self, path: Path | str, problem: str, line: int | None = None) -> MonkeysError:
        """`path[:LINE]: problem` as this file's error class."""
        return self.error(f"{path}{f':{line}' if line else ''}: {problem}")


def open_regular(path: Path, spec: UserFile) -> IO[bytes]:
    """`path` opened for reading in binary. Refused (one line of `spec.error`): missing, a directory, not a
    regular file (checked on the opened descriptor: opening does not block on a FIFO), unreadable."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise spec.fail(path, f"{spec.what} not found; expected {spec.expected}") from None
    except IsADirectoryError:
        raise spec.fail(path, f"is a directory; expected {spec.expected}") from None
    except OSError as exc:
        raise spec.fail(path, f"cannot read {spec.what}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        what = "is a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise spec.fail(path, f"{what}; expected {spec.expected}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def check_regular(path: Path, spec: UserFile) -> None:
    """Refuse `path` as `open_regular` would, for a reader that opens it by name itself (Parquet)."""
    open_regular(path, spec).close()


def read_bytes(path: Path, spec: UserFile, max_bytes: int | None = None) -> bytes:
    """The bytes of regular file `path` (see `open_regular`); with `max_bytes`, a larger file is refused."""
    with open_regular(path, spec) as fh:
        size = os.fstat(fh.fileno()).st_size
        if max_bytes is not None and size > max_bytes:
            raise spec.fail(path, f"{size:,} bytes, more than a {spec.what} may hold ({max_bytes:,}); expected "
                                  f"{spec.expected}")
        try:
            return fh.read() if max_bytes is None else fh.read(max_bytes + 1)
        except OSError as exc:
            raise spec.fail(path, f"cannot read {spec.what}: {exc.strerror or exc}") from None


def not_utf8(path: Path | str, data: bytes, exc: UnicodeDecodeError, spec: UserFile, kind: str,
             line: int | None = None) -> MonkeysError:
    """`path:LINE: not UTF-8 text (byte 0xff at column 3); expected UTF-8 KIND` for a decode error in `data`:
    a whole file (the line is counted; a BOM that `utf-8-sig` dropped is counted back in), or with `line`
    one line of it."""
    start = exc.start + len(data) - len(exc.object)  # `utf-8-sig` numbers the bytes after a BOM it dropped
    if line is None:
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    else:
        column = start + 1
    return spec.fail(path, f"not UTF-8 text (byte 0x{data[start]:02x} at column {column}); expected UTF-8 {kind}",
                     line)


def decode(path: Path | str, data: bytes, spec: UserFile, kind: str) -> str:
    """`data` as UTF-8 text, a leading BOM dropped; else the `not_utf8` error."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, data, exc, spec, kind) from None


_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


class DuplicateKey(ValueError):
    """A mapping names one key twice (`n: 2` ... `n: 50`): JSON and YAML readers keep the last silently."""

    def __init__(self, key: Any) -> None:
        super().__init__(f"key {key!r} appears twice in one mapping; expected each key once")
        self.key = key


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads(..., object_pairs_hook=unique_pairs)`: an object, refusing a key given twice."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


_YAML_LOADERS: dict[bool, Any] = {}


def unique_key_loader(fast: bool = False) -> Any:
    """PyYAML's safe loader refusing a mapping that names a key twice, at the second one's line. By default
    `yaml.safe_load`'s pure-Python one (config and pricing files are small, and its messages are the ones
    users see); with `fast` the C parser's where PyYAML has it (large generation files)."""
    if fast not in _YAML_LOADERS:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader) if fast else yaml.SafeLoader

        class UniqueKeyLoader(base):  # type: ignore[misc, valid-type]
            def construct_mapping(self, node: Any, deep: bool = False) -> Any:
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` may be overridden
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        first = seen.get(key)
                    except TypeError:  # an unhashable key: the base class says so
                        continue
                    seen[key] = key_node.start_mark.line + 1
                    if first is not None:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key!r} appears twice in one mapping (first on line {first});"
                            " expected each key once", key_node.start_mark)
                return super().construct_mapping(node, deep=deep)

        _YAML_LOADERS[fast] = UniqueKeyLoader
    return _YAML_LOADERS[fast]


def parse(path: Path | str, text: str, kind: str, spec: UserFile, *, hint: str = "", line: int | None = None,
          expected: str = "") -> Any:
    """The YAML, TOML or JSON document `text` (a whole file, or with `line` one line of it). Raises
    `path:LINE: not valid KIND{hint}: what (column C)[; expected EXPECTED]` as `spec.error`, and
    `path:LINE: field 'F': not valid Unicode text ...` for a string escaped into a lone surrogate."""
    import tomllib

    import yaml

    def bad(what: str, at: int | None = None, column: int | None = None) -> MonkeysError:
        where = line if line is not None else at
        col = f" (column {column})" if column else ""
        return spec.fail(path, f"not valid {kind}{hint}: {what}{col}{f'; expected {expected}' if expected else ''}",
                         where)

    try:
        if kind == "YAML":
            document = yaml.load(text, Loader=unique_key_loader())  # noqa: S506 - a safe loader
        elif kind == "TOML":
            document = tomllib.loads(text)  # refuses a key given twice itself
        else:
            document = json.loads(text, object_pairs_hook=unique_pairs)
    except DuplicateKey as exc:
        raise spec.fail(path, f"not valid {kind}{hint}: {exc}", line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "syntax error"
        raise bad(what, mark.line + 1 if mark else None, mark.column + 1 if mark else None) from None
    except json.JSONDecodeError as exc:
        raise bad(exc.msg, exc.lineno, exc.colno) from None
    except tomllib.TOMLDecodeError as exc:
        message = (str(exc).splitlines() or ["syntax error"])[0]
        at = _TOML_AT.search(message)
        if at:
            raise bad(message[:at.start()], int(at.group(1)), int(at.group(2))) from None
        raise bad(message) from None
    except RecursionError:
        raise spec.fail(path, f"{kind} nested too deeply; expected {spec.expected}", line) from None
    except (yaml.YAMLError, ValueError) as exc:
        raise bad((str(exc).splitlines() or [type(exc).__name__])[0]) from None
    check_unicode(document, text, path, spec, line)
    return document


def kind_of(path: Path, default: str) -> str:
    """The format a file is read as: by its suffix (`KINDS`), else `default`."""
    return KINDS.get(path.suffix.lower(), default)


def read_document(path: Path, spec: UserFile, *, default: str, max_bytes: int = MAX_DOCUMENT_BYTES
                  ) -> tuple[Any, str]:
    """(document, format) of a YAML/TOML/JSON file, the format by suffix (else `default`, and a parse error
    says it was read as that); None for a blank file. Refusals: see `read_bytes`, `decode`, `parse`."""
    path = Path(path)
    kind = kind_of(path, default)
    text = decode(path, read_bytes(path, spec, max_bytes), spec, kind)
    if not text.strip():
        return None, kind
    hint = "" if path.suffix.lower() in KINDS else (
        f" (read as {kind}: a YAML file is named .yaml, a TOML file .toml, a JSON file .json)")
    return parse(path, text, kind, spec, hint=hint), kind


def type_name(value: Any) -> str:
    """What a parsed value is, in JSON's words (`an object`, `a list`, `a string`, `a number`)."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


_SURROGATE = re.compile("[\ud800-\udfff]")
# The escapes that can spell a lone surrogate in JSON (`\ud800`) or YAML (`\ud800`, `\U0000d800`): a text
# without one parses to valid Unicode, so only a document holding one is searched.
SURROGATE_ESCAPE = re.compile(r"\\(?:u|U0000)[dD][89a-fA-F]")


def unicode_flaw(value: Any, where: str = "") -> tuple[str, str] | None:
    """(where, character) for the first string in `value` (a string or path, or dicts and lists of them, keys
    included) that is not valid Unicode text, else None. Such a string holds a lone surrogate: what a JSON
    or YAML escape such as `\\ud800` makes, and how Python carries a byte of a command-line argument or file
    name that is not UTF-8. It can be neither stored in the run store nor written as UTF-8, so it is refused
    where it comes in. `where` is a field path: `sampler_options.responses[0]`. (A loop, not recursion: a
    document nested as deep as its parser allows is walked too.)"""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str | Path):
            found = _SURROGATE.search(str(item))
            if found:
                return at, found.group()
        elif isinstance(item, dict):
            inner = [(f"{at}.{key}" if at else str(key), key, sub) for key, sub in item.items()]
            for path, key, sub in reversed(inner):  # first field first
                stack.append((sub, path))
                stack.append((key, path))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{at}[{i}]") for i, sub in reversed(list(enumerate(item))))
    return None


def not_unicode(char: str) -> str:
    """What is wrong with a string `unicode_flaw` found, in words."""
    return (f"not valid Unicode text ({ascii(char)[1:-1]}: a lone surrogate, from a \\u escape or a byte that is not"
            " UTF-8); expected UTF-8 text")


def check_unicode(document: Any, text: str, path: Path | str, spec: UserFile, line: int | None = None) -> None:
    """Refuse a parsed `document` holding a string that is not valid Unicode (see `unicode_flaw`), as one line
    naming the file, line and field. Only a `text` with a surrogate escape is searched."""
    if not SURROGATE_ESCAPE.search(text):
        return
    flaw = unicode_flaw(document)
    if flaw:
        field = f"field {flaw[0]!r}" if flaw[0] else "the value"
        raise spec.fail(path, f"{field}: {not_unicode(flaw[1])}", line)


def did_you_mean(name: str, known: Iterable[str], synonyms: dict[str, str] | None = None) -> str | None:
    """The known name `name` is probably a slip for: one that differs only in case, `-`/`_` or spaces, a
    `synonyms` entry (`completion` -> `text`), the closest by spelling (difflib), or the one whose first
    word is a near spelling of `name` (`completon` -> `completion_usd_per_mtok`); None if none is close."""
    key = _fold(name)
    folded = {_fold(k): str(k) for k in known}
    if key in folded:
        return folded[key]
    if synonyms and synonyms.get(key) in folded.values():
        return synonyms[key]
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.75)
    if close:
        return folded[close[0]]
    stems: dict[str, str] = {}
    for folded_name, original in folded.items():
        stems.setdefault(folded_name.split("_")[0], original)
    close = difflib.get_close_matches(key, [s for s in stems if s != key], n=1, cutoff=0.8)
    return stems[close[0]] if close else None


def _fold(name: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


# -- files monkeys writes where the user says (an export, an HTML report, a figure, CSV tables) ----------

_SQLITE_MAGIC = b"SQLite format 3\x00"
_STORE_COMPANIONS = ("monkeys.db-wal", "monkeys.db-shm", "monkeys.db-journal", "monkeys.lock")


def check_output(path: Path | str, what: str, error: type[MonkeysError], flag: str = "") -> Path:
    """Refuse, before any work, an output `path` that cannot take `what` ("the export") or whose writing
    would destroy something, as one line of `error` naming the path:

    - a directory, or something that is not a regular file (a device, a FIFO: the write replaces the file
      by name, so /dev/stdout or a named pipe would be swapped for a plain file);
    - a SQLite database (a run store: `monkeys export RUN RUN/monkeys.db` would overwrite the store with
      its own export) and the files beside a run store (`monkeys.db-wal`, `-shm`, `monkeys.lock`);
    - a path under a file, or a parent that cannot be created.

    Returns the path to write, with symlinks resolved: the write then replaces the file the link points to,
    never the link itself. `flag` (`--html`) starts the message when the path came from one."""
    given = f"{flag} {path}" if flag else str(path)
    target = Path(os.path.realpath(path))
    try:
        st = os.stat(path)  # through links: /dev/stdout is a pipe whose "real path" is pipe:[123]
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise error(f"{given}: cannot write {what} there: a part of the path is a file, not a directory") from None
    except OSError as exc:
        raise error(f"{given}: cannot write {what} there: {exc.strerror or exc}") from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise error(f"{given}: is a directory; expected a file name for {what}")
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{given}: not a regular file (a FIFO, socket or device); expected a file name for {what}"
                        " (it is written beside its final name and moved into place)")
        head = b""
        try:
            with open(target, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError:
            pass
        if head == _SQLITE_MAGIC:
            raise error(f"{given}: is a SQLite database (a run store?); refusing to overwrite it with {what}:"
                        " expected a new file name")
    if target.name in _STORE_COMPANIONS and (target.parent / "monkeys.db").exists():
        raise error(f"{given}: belongs to the run store in {target.parent}; refusing to overwrite it with {what}:"
                    " expected a file name outside the run's files")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise error(f"{given}: cannot write {what} there: {parent} is a file, not a directory")
    return target


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write(tmp)` into a hidden file beside `path` (mode 0600: outputs quote samples), then moved onto
    `path`: a reader sees the old file or the new one, never a part. `tmp` keeps the suffix of `path`
    (writers such as matplotlib choose the format by it). Raises `OSError` (and removes `tmp`)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial{path.suffix}")
    _remove_stale_partials(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600))
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _remove_stale_partials(path: Path) -> None:
    """Remove what a writer of `path` killed midway (kill -9: no clean-up ran) left beside it: the hidden
    partial files of processes that are gone. A live writer's partial file is left alone."""
    prefix, suffix = f".{path.name}.", f".partial{path.suffix}"
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            pid = entry.name[len(prefix):len(entry.name) - len(suffix)]
            if not (entry.name.startswith(prefix) and entry.name.endswith(suffix) and pid.isdigit()):
                continue
            try:
                os.kill(int(pid), 0)
                continue  # alive (or another user's: PermissionError below keeps it too)
            except ProcessLookupError:
                pass
            except (PermissionError, OverflowError, ValueError):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def write_output(path: Path | str, what: str, error: type[MonkeysError], write: Callable[[Path], object],
                 flag: str = "") -> Path:
    """Write `what` to `path` whole or not at all: `check_output`, then `write_atomically`. Any OS error (a
    full disk, a read-only file system, no permission) is one line of `error` naming `path`, and no partial
    file is left."""
    target = check_output(path, what, error, flag)
    try:
        write_atomically(target, write)
    except OSError as exc:
        raise error(f"{f'{flag} ' if flag else ''}{path}: cannot write {what}: {exc.strerror or exc}") from None
    return target
