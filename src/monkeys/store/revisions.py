"""Which revision of each verifier made a run's verdicts.

A verifier's rules change between releases: math-answer began failing hedged answers ("18 or 19"), the
sandbox behind code-tests began hiding installed packages, where a program could read the answers. A run
resumed by a newer monkeys would otherwise keep the old verdicts beside new ones and count samples by two
rules, one of which let forged answers pass. So each verdict key's revision is recorded in meta
"verifier_revisions" ({key: revision}) when its first verdicts are stored; a resume or a second
verification with another revision is refused until `monkeys verify RUN --reverify` replaces the verdicts.

A verifier opts in with a class attribute `revision: int` (and, optionally, `revision_notes: {revision:
"what changed"}` for the refusal to name); one without is not tracked. Verdicts stored before monkeys
recorded revisions count as revision 1.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monkeys.errors import ConfigError, StoreError
from monkeys.store.db import store_path
from monkeys.store.migrations import is_compact
from monkeys.store.read import checker_id, read_meta
from monkeys.store.writer import write_meta

META_KEY = "verifier_revisions"
UNRECORDED = 1  # what verdicts stored before revisions were recorded are taken to be


@dataclass(frozen=True)
class Revision:
    """A verifier's current revision and what changed at each one (for messages)."""

    number: int
    notes: dict[int, str]

    def changes_since(self, old: int) -> str:
        said = [f"revision {r}: {self.notes[r]}" for r in sorted(self.notes) if old < r <= self.number]
        return "; ".join(said)


def revision_of(factory: Any) -> Revision | None:
    """The revision a verifier factory (class or function) declares; None when it declares none."""
    number = getattr(factory, "revision", None)
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        return None
    notes = getattr(factory, "revision_notes", None) or {}
    return Revision(number, {int(k): str(v) for k, v in dict(notes).items()})


def _recorded(db: sqlite3.Connection, run_dir: Path) -> dict[str, int]:
    stored = read_meta(db, META_KEY) or {}
    if not isinstance(stored, dict) or not all(isinstance(v, int) for v in stored.values()):
        raise StoreError(f"{store_path(run_dir)}: meta {META_KEY!r} is not a JSON object of revision numbers"
                         " (the store was edited)")
    return {str(k): int(v) for k, v in stored.items()}


def _has_verdicts(db: sqlite3.Connection, key: str) -> bool:
    if not is_compact(db):
        return db.execute("SELECT 1 FROM verdicts WHERE verifier = ? LIMIT 1", (key,)).fetchone() is not None
    vid = checker_id(db, "verifier", key)
    if not vid:
        return False
    # verdict keys are sample_id << 8 | checker id: scan for the low byte (stops at the first hit)
    return db.execute("SELECT 1 FROM verdict_rows WHERE (key & 255) = ? LIMIT 1", (vid,)).fetchone() is not None


def stored_revision(db: sqlite3.Connection, run_dir: Path, key: str) -> int | None:
    """The revision that made the verdicts stored under `key`; None when there are none."""
    recorded = _recorded(db, run_dir).get(key)
    if recorded is not None:
        return recorded
    return UNRECORDED if _has_verdicts(db, key) else None


def check(db: sqlite3.Connection, run_dir: Path, key: str, current: Revision | None, *, reverify: str) -> None:
    """Refuse (`ConfigError`) to add verdicts under `key` beside ones an other revision made.

    `reverify` is the command that replaces them, for the message."""
    if current is None:
        return
    old = stored_revision(db, run_dir, key)
    if old is None or old == current.number:
        return
    when = " (stored before monkeys recorded verifier revisions)" if _recorded(db, run_dir).get(key) is None else ""
    changed = current.changes_since(old) if old < current.number else ""
    raise ConfigError(
        f"{run_dir}: its {key!r} verdicts were made by revision {old} of the verifier{when}; this monkeys has"
        f" revision {current.number}{' (' + changed + ')' if changed else ''}. Adding verdicts by other rules"
        f" would count samples two ways: re-check every stored sample with `{reverify}` (its verdicts are"
        " replaced, the samples kept), then go on")


def record(db: sqlite3.Connection, run_dir: Path, key: str, current: Revision | None) -> None:
    """Note that `key`'s verdicts are made by `current` (nothing for an untracked verifier)."""
    if current is None:
        return
    recorded = _recorded(db, run_dir)
    if recorded.get(key) != current.number:
        write_meta(db, META_KEY, {**recorded, key: current.number})


PENDING_KEY = "reverify_pending"  # meta: {key: revision (0: untracked)} of each re-check begun and not finished


def _pending(db: sqlite3.Connection) -> dict[str, int]:
    stored = read_meta(db, PENDING_KEY) or {}
    return {str(k): v for k, v in stored.items() if isinstance(v, int)} if isinstance(stored, dict) else {}


def reverify_pending(db: sqlite3.Connection, key: str, current: Revision | None) -> bool:
    """Was a re-check of `key` by `current` begun (its old verdicts dropped) and not finished? Then the same
    `--reverify` command goes on from the verdicts it already made instead of dropping them again."""
    return _pending(db).get(key) == (current.number if current is not None else 0)


def finish_reverify(db: sqlite3.Connection, key: str) -> None:
    """The re-check of `key` verified every sample: a later `--reverify` starts afresh."""
    pending = _pending(db)
    if pending.pop(key, None) is not None:
        write_meta(db, PENDING_KEY, pending)


def drop_verdicts(db: sqlite3.Connection, run_dir: Path, key: str, current: Revision | None, *,
                  main: bool) -> int:
    """Delete every verdict stored under `key` and record `current` as its revision, in one transaction
    (a kill leaves either the old verdicts or none): the normal resume then verifies every sample again.
    The re-check is noted as pending (`reverify_pending`) until `finish_reverify`. For the run's own
    verifier, stops "solved" go too (they rested on the old verdicts; a resumed `--until-solved` run
    decides again). Returns how many verdicts were deleted."""
    with db:
        if is_compact(db):
            vid = checker_id(db, "verifier", key)
            deleted = db.execute("DELETE FROM verdict_rows WHERE (key & 255) = ?", (vid,)).rowcount if vid else 0
        else:
            deleted = db.execute("DELETE FROM verdicts WHERE verifier = ?", (key,)).rowcount
        if main and db.execute("SELECT 1 FROM sqlite_master WHERE name = 'problem_stops'").fetchone():
            db.execute("DELETE FROM problem_stops WHERE reason = 'solved'")
        recorded = _recorded(db, run_dir)
        if current is not None:
            recorded[key] = current.number
        else:
            recorded.pop(key, None)
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_KEY, json.dumps(recorded, sort_keys=True)))
        pending = {**_pending(db), key: current.number if current is not None else 0}
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (PENDING_KEY, json.dumps(pending, sort_keys=True)))
    return int(deleted)


def stale(db: sqlite3.Connection, run_dir: Path, key: str, current: Revision | None) -> tuple[int, int] | None:
    """(stored, current) revision of `key`'s verdicts when they differ; None when they agree or either is
    unknown."""
    old = stored_revision(db, run_dir, key) if current is not None else None
    return (old, current.number) if current is not None and old is not None and old != current.number else None
