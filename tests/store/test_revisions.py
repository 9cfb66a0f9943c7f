"""What a verifier declares about its revision, and what the store keeps of it (`store.revisions`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monkeys.errors import ConfigError, StoreError
from monkeys.registry import verifier_revision as current
from monkeys.store import connect, write_meta
from monkeys.store.revisions import META_KEY, Revision, check, record, revision_of, stored_revision


class _Untracked:
    pass


class _Flag:
    revision = True  # not a number: not tracked


class _Third:
    revision = 3
    revision_notes = {2: "hedges fail", 3: "fractions are values"}


def test_only_a_positive_integer_revision_is_tracked() -> None:
    assert revision_of(_Untracked) is None
    assert revision_of(_Flag) is None
    third = revision_of(_Third)
    assert third == Revision(3, {2: "hedges fail", 3: "fractions are values"})
    assert third.changes_since(1) == "revision 2: hedges fail; revision 3: fractions are values"
    assert third.changes_since(2) == "revision 3: fractions are values"


def test_built_in_verifiers_declare_theirs_and_an_import_has_none() -> None:
    assert current("math-answer") is not None and current("code-tests") is not None
    assert current("imported") is None  # verdicts that came with the samples: no installed verifier


def test_record_check_and_an_edited_record(tmp_path: Path) -> None:
    db = connect(tmp_path, create=True)
    try:
        third = revision_of(_Third)
        assert stored_revision(db, tmp_path, "x") is None  # no verdicts, no record: anything may start
        check(db, tmp_path, "x", third, reverify="monkeys verify R --reverify")
        record(db, tmp_path, "x", third)
        record(db, tmp_path, "y", None)  # an untracked verifier leaves no record
        assert stored_revision(db, tmp_path, "x") == 3 and stored_revision(db, tmp_path, "y") is None
        with pytest.raises(ConfigError, match=r"revision 3 of the verifier; this monkeys has revision 4"):
            check(db, tmp_path, "x", Revision(4, {}), reverify="monkeys verify R --reverify")
        with pytest.raises(ConfigError, match=r"revision 3 .* has revision 2\. .*`monkeys verify R --reverify`"):
            check(db, tmp_path, "x", Revision(2, {}), reverify="monkeys verify R --reverify")  # a downgrade too
        write_meta(db, META_KEY, ["not", "an", "object"])
        with pytest.raises(StoreError, match="monkeys.db: meta 'verifier_revisions' is not a JSON object"):
            stored_revision(db, tmp_path, "x")
    finally:
        db.close()
