"""`to_patch`: model answers (diffs good and bad, SEARCH/REPLACE blocks) to diffs `git apply` takes.

Each test builds a small real git repository, turns an answer into a patch, applies it with `git apply`
to a fresh clone and compares the files with what the answer meant.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from monkeys.swe.edits import to_patch

CALC = '''"""A calculator."""


def add(a, b):
    return a - b


def mul(a, b):
    return a * b


class Stack:
    def __init__(self):
        self.items = []

    def push(self, x):
        self.items.append(x)

    def pop(self):
        return self.items.pop(0)
'''

UTIL = "def shout(s):\n    return s.upper()\n"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "pkg" / "util.py").write_text(UTIL)
    _git(tmp_path, "init", "-q", str(root))
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    return root


def applied(repo: Path, patch: str, tmp_path: Path) -> Path:
    """A fresh clone of `repo` with `patch` applied by `git apply` (fails the test if git refuses it)."""
    clone = tmp_path / f"clone{len(list(tmp_path.iterdir()))}"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    done = subprocess.run(["git", "-C", str(clone), "apply", "-"], input=patch, text=True, capture_output=True)
    assert done.returncode == 0, f"git apply refused the patch: {done.stderr}\n{patch}"
    return clone


FIXED = CALC.replace("return a - b", "return a + b")


def test_a_good_diff_comes_back_applicable(repo: Path, tmp_path: Path) -> None:
    answer = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -4,3 +4,3 @@\n \n def add(a, b):\n-    return a - b\n"
              "+    return a + b\n")
    out = applied(repo, to_patch(answer, repo), tmp_path)
    assert (out / "pkg" / "calc.py").read_text() == FIXED


def test_wrong_hunk_numbers_and_counts_and_blank_context(repo: Path, tmp_path: Path) -> None:
    # line numbers far off, counts wrong, the blank context line without its space
    answer = ("--- pkg/calc.py\n+++ pkg/calc.py\n@@ -40,7 +41,9 @@ def something\n def add(a, b):\n"
              "-    return a - b\n+    return a + b\n\n\n def mul(a, b):\n")
    patch = to_patch(answer, repo)
    assert "@@ -40" not in patch
    assert (applied(repo, patch, tmp_path) / "pkg" / "calc.py").read_text() == FIXED


def test_fenced_diff_among_prose(repo: Path, tmp_path: Path) -> None:
    answer = ("The bug is in `add`: it subtracts.\n\n- it should add\n\n```diff\ndiff --git a/pkg/calc.py "
              "b/pkg/calc.py\nindex 000..111 100644\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -5 +5 @@\n"
              "-    return a - b\n+    return a + b\n```\n\nThat fixes it.\n")
    assert (applied(repo, to_patch(answer, repo), tmp_path) / "pkg" / "calc.py").read_text() == FIXED


def test_diff_indented_by_the_model_is_reindented(repo: Path, tmp_path: Path) -> None:
    answer = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -17,2 +17,2 @@\n"
              " def pop(self):\n-    return self.items.pop(0)\n+    return self.items.pop()\n")
    out = applied(repo, to_patch(answer, repo), tmp_path)
    assert "        return self.items.pop()\n" in (out / "pkg" / "calc.py").read_text()


def test_diff_with_wrong_context_says_which_hunk(repo: Path) -> None:
    answer = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,1 +1,1 @@\n-def add(x, y):\n+def add(a, b):\n"
              "@@ -8 +8 @@\n def mul(a, b):\n-    return a ** b\n+    return a * b * 1\n")
    with pytest.raises(ValueError, match=r"pkg/calc.py: hunk 1 does not match the file .*def add\(x, y\)"):
        to_patch(answer, repo)


def test_fuzz_drops_a_wrong_outer_context_line(repo: Path, tmp_path: Path) -> None:
    answer = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -3,4 +3,4 @@\n # made-up comment\n def add(a, b):\n"
              "-    return a - b\n+    return a + b\n")
    assert (applied(repo, to_patch(answer, repo), tmp_path) / "pkg" / "calc.py").read_text() == FIXED


def test_several_files_and_a_new_one(repo: Path, tmp_path: Path) -> None:
    answer = ("--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -5 +5 @@\n-    return a - b\n+    return a + b\n"
              "--- a/pkg/util.py\n+++ b/pkg/util.py\n@@ -1,2 +1,2 @@\n def shout(s):\n-    return s.upper()\n"
              "+    return s.upper() + '!'\n"
              "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+def hello():\n+    return 'hi'\n")
    patch = to_patch(answer, repo)
    assert "new file mode 100644" in patch
    out = applied(repo, patch, tmp_path)
    assert (out / "pkg" / "calc.py").read_text() == FIXED
    assert (out / "pkg" / "util.py").read_text() == "def shout(s):\n    return s.upper() + '!'\n"
    assert (out / "pkg" / "new.py").read_text() == "def hello():\n    return 'hi'\n"


def test_editing_a_missing_file_is_named(repo: Path) -> None:
    answer = "--- a/pkg/nope.py\n+++ b/pkg/nope.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    with pytest.raises(ValueError, match=r"pkg/nope.py: no such file"):
        to_patch(answer, repo)


def test_paths_outside_the_repository_are_refused(repo: Path) -> None:
    answer = "--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-root\n+toor\n"
    with pytest.raises(ValueError, match="outside the repository"):
        to_patch(answer, repo)


def test_no_edit_at_all(repo: Path) -> None:
    with pytest.raises(ValueError, match="no unified diff and no SEARCH/REPLACE block"):
        to_patch("I think the bug is in add().", repo)


SR = '''Here is the fix.

```python
### pkg/calc.py
<<<<<<< SEARCH
def add(a, b):
    return a - b
=======
def add(a, b):
    return a + b
>>>>>>> REPLACE
```
'''


def test_search_replace_exact(repo: Path, tmp_path: Path) -> None:
    patch = to_patch(SR, repo)
    assert patch.startswith("diff --git a/pkg/calc.py b/pkg/calc.py\n")
    assert (applied(repo, patch, tmp_path) / "pkg" / "calc.py").read_text() == FIXED


def test_search_replace_tolerates_whitespace(repo: Path, tmp_path: Path) -> None:
    # aider's layout (path line, then the fence), trailing spaces and the method body dedented by the model
    answer = ("pkg/calc.py\n```python\n<<<<<<< SEARCH\ndef pop(self):   \n    return self.items.pop(0)\n"
              "=======\ndef pop(self):\n    \"\"\"Last in, first out.\"\"\"\n    return self.items.pop()\n"
              ">>>>>>> REPLACE\n```\n")
    text = (applied(repo, to_patch(answer, repo), tmp_path) / "pkg" / "calc.py").read_text()
    assert '    def pop(self):\n        """Last in, first out."""\n        return self.items.pop()\n' in text


def test_search_replace_with_blank_lines_around(repo: Path, tmp_path: Path) -> None:
    answer = "### pkg/calc.py\n<<<<<<< SEARCH\n\ndef add(a, b):\n    return a - b\n\n\n\n=======\n\ndef add(a, b):\n" \
             "    return a + b\n\n\n\n>>>>>>> REPLACE\n"
    assert (applied(repo, to_patch(answer, repo), tmp_path) / "pkg" / "calc.py").read_text() == FIXED


def test_search_replace_without_a_match_names_the_block(repo: Path) -> None:
    answer = SR + "\n### pkg/util.py\n<<<<<<< SEARCH\ndef whisper(s):\n=======\ndef whisper(t):\n>>>>>>> REPLACE\n"
    with pytest.raises(ValueError, match=r"SEARCH/REPLACE block 2 \(pkg/util.py\): the SEARCH text does not "
                                         r"match the file \(it looks for 'def whisper\(s\):'\)"):
        to_patch(answer, repo)


def test_search_replace_several_files_and_a_new_file(repo: Path, tmp_path: Path) -> None:
    answer = (SR + "\n### pkg/util.py\n<<<<<<< SEARCH\n    return s.upper()\n=======\n    return s.upper() + '!'\n"
              ">>>>>>> REPLACE\n\n### pkg/calc.py\n<<<<<<< SEARCH\n    return a * b\n=======\n    return b * a\n"
              ">>>>>>> REPLACE\n\n### pkg/extra.py\n<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n")
    out = applied(repo, to_patch(answer, repo), tmp_path)
    assert (out / "pkg" / "calc.py").read_text() == FIXED.replace("return a * b", "return b * a")
    assert (out / "pkg" / "util.py").read_text() == "def shout(s):\n    return s.upper() + '!'\n"
    assert (out / "pkg" / "extra.py").read_text() == "X = 1\n"


def test_search_replace_malformed_block(repo: Path) -> None:
    with pytest.raises(ValueError, match=r"block 1 \(pkg/calc.py\): no >>>>>>> REPLACE"):
        to_patch("### pkg/calc.py\n<<<<<<< SEARCH\nx\n=======\ny\n", repo)
    with pytest.raises(ValueError, match="block 1: no file path before it"):
        to_patch("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", repo)


def test_reads_a_commit_without_checkout(repo: Path, tmp_path: Path) -> None:
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / "pkg" / "calc.py").write_text("# the work tree moved on\n")
    patch = to_patch(SR, repo, commit=base)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "--", "."], check=True)
    assert (applied(repo, patch, tmp_path) / "pkg" / "calc.py").read_text() == FIXED


def test_no_newline_at_end_of_file(repo: Path, tmp_path: Path) -> None:
    (repo / "pkg" / "tail.py").write_text("A = 1\nB = 2")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tail")
    answer = "### pkg/tail.py\n<<<<<<< SEARCH\nB = 2\n=======\nB = 3\n>>>>>>> REPLACE\n"
    assert (applied(repo, to_patch(answer, repo), tmp_path) / "pkg" / "tail.py").read_text() == "A = 1\nB = 3"
