"""SWE-bench instances and the git repositories they patch.

Records come from a local JSONL/JSON/Parquet file (always offline) or, online, the hub's
`princeton-nlp/SWE-bench_Lite`, `_Verified` or the full `SWE-bench`. The official files store
`FAIL_TO_PASS`/`PASS_TO_PASS` as JSON text (`'["test_a", "test_b"]'`); both that and a real list are
accepted and a record leaves here with lists. A bad record is one `DataError` naming file, row and field.

Repositories: `repos=DIR` holds one git repository per `owner__name` (`DIR/astropy__astropy`), a clone or a
bare mirror; without it a repository is cloned from GitHub into a cache folder once (online users), and an
offline failure names the folder it looked for.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from monkeys.errors import DataError
from monkeys.tasks._files import check_fields, check_unique_ids, load_hub, read_records

HUB = {"lite": "princeton-nlp/SWE-bench_Lite", "verified": "princeton-nlp/SWE-bench_Verified",
       "full": "princeton-nlp/SWE-bench"}
FIELDS: dict[str, Any] = {"instance_id": str, "repo": str, "base_commit": str, "problem_statement": str,
                          "patch": str, "test_patch": str, "FAIL_TO_PASS": list[str] | str,
                          "PASS_TO_PASS": list[str] | str}
OPTIONAL: dict[str, Any] = {"version": str | int | float | None, "environment_setup_commit": str | None,
                            "hints_text": str | None, "created_at": str | None}
TEST_LISTS = ("FAIL_TO_PASS", "PASS_TO_PASS")


def _test_list(value: Any, where: str, name: str) -> list[str]:
    """A list of test names from a list or its JSON text (the official files' form)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: field {name!r}: not a JSON list of test names ({exc.msg});"
                            " expected a list of strings or its JSON text") from None
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise DataError(f"{where}: field {name!r}: expected a list of test names (strings)")
    return list(value)


def normalise(record: dict[str, Any], where: str) -> dict[str, Any]:
    """A checked record with list-valued test fields and `version` as text (plain JSON values only)."""
    check_fields(record, where, FIELDS, OPTIONAL)
    out = {k: v for k, v in record.items() if _plain(v)}
    for name in TEST_LISTS:
        out[name] = _test_list(record[name], where, name)
    if not out["FAIL_TO_PASS"]:
        raise DataError(f"{where}: field 'FAIL_TO_PASS': empty; expected the tests the fix makes pass")
    if "/" not in record["repo"]:
        raise DataError(f"{where}: field 'repo': {record['repo']!r}; expected 'owner/name'")
    version = record.get("version")
    out["version"] = "" if version is None else str(version)
    return out


def _plain(value: Any) -> bool:
    """JSON-storable (Parquet may bring timestamps and the like; they are left out of the reference)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def load_instances(data: str | None = None, dataset: str = "lite", split: str = "test") -> list[dict[str, Any]]:
    """Checked records of a local file (`data`) or a hub dataset (`dataset`: lite, verified, full or a hub
    name), in file order. Raises `DataError` naming file, row and field."""
    if data:
        rows = read_records(data, FIELDS, OPTIONAL)
    else:
        name = HUB.get(dataset, dataset)
        rows = [(f"{name}[{split}] row {n}", r) for n, r in enumerate(load_hub(name, None, split), 1)]
    check_unique_ids((where, str(r.get("instance_id"))) for where, r in rows)
    return [normalise(r, where) for where, r in rows]


def default_cache() -> Path:
    """The SWE-bench cache folder: clones under `repos/` (when no `repos` folder is given), BM25 indexes
    under `bm25/`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "monkeys" / "swe"


def git(repo: Path, *args: str, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """`git -C repo ARGS` with captured output; a missing git binary is a `DataError`."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, input=input, check=False,
                              env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise DataError("git is not installed; SWE-bench repositories are read with git") from None
    if check and done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
        raise DataError(f"{repo}: git {args[0]}: {first}")
    return done


def _is_repo(path: Path) -> bool:
    return path.is_dir() and git(path, "rev-parse", "--git-dir", check=False).returncode == 0


def repo_dir(repo: str, base_commit: str, repos: str | Path | None = None, cache_dir: str | Path | None = None,
             *, clone: bool = True) -> Path:
    """The git repository of `repo` (`owner/name`) holding `base_commit`.

    With `repos`, it is `repos/owner__name` and must exist; else `cache_dir/owner__name` (default
    `default_cache()/repos`), cloned from GitHub on first use (when `clone`). Raises `DataError` with one
    line naming the folder or the commit.
    """
    folder = repo.replace("/", "__")
    if repos is not None:
        path = Path(repos).expanduser() / folder
        if not _is_repo(path):
            raise DataError(f"{path}: no git repository of {repo} here; expected one per owner__name under "
                            f"repos={repos}")
    else:
        path = (Path(cache_dir).expanduser() if cache_dir else default_cache() / "repos") / folder
        if not _is_repo(path):
            if not clone:
                raise DataError(f"{path}: no git repository of {repo}; pass --task-option repos=DIR")
            _clone(repo, path)
    if git(path, "cat-file", "-e", f"{base_commit}^{{commit}}", check=False).returncode != 0:
        if repos is None and clone:
            git(path, "fetch", "--quiet", "origin", base_commit, check=False)
        if git(path, "cat-file", "-e", f"{base_commit}^{{commit}}", check=False).returncode != 0:
            raise DataError(f"{path}: commit {base_commit} of {repo} is not in this repository; fetch it or "
                            "point repos= at a full clone")
    return path


def _clone(repo: str, path: Path) -> None:
    url = f"https://github.com/{repo}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".partial-{os.getpid()}")
    try:
        done = subprocess.run(["git", "clone", "--quiet", "--bare", url, str(tmp)], capture_output=True,
                              check=False, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except FileNotFoundError:
        raise DataError("git is not installed; SWE-bench repositories are read with git") from None
    if done.returncode != 0:
        first = (done.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
        raise DataError(f"{path}: no repository of {repo} and cloning {url} failed ({first}); offline, pass "
                        "--task-option repos=DIR with a git repository per owner__name")
    try:
        tmp.rename(path)
    except OSError:  # another process cloned it first
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
