"""SWE-bench (Jimenez et al. 2024): resolve a GitHub issue by patching its repository; the repository's own
tests decide (verifier `swe-tests`).

The prompt is agentless-style (Xia et al. 2024): the issue text, then the files most likely to need the
change, found by BM25 over the repository at `base_commit` (`monkeys.swe.retrieval`) and shown whole within
`context_tokens` (estimated at 4 characters a token), then how to answer: SEARCH/REPLACE blocks (the
default) or a unified diff. Either form is turned into a clean diff against the real files by
`monkeys.swe.edits.to_patch` when the sample is verified.

Instances come from a local JSONL/JSON/Parquet file (`data`) or the hub (`dataset`: lite, verified, full);
repositories from `repos=DIR` (one git repository per `owner__name`) or a clone in `cache_dir`. Every
selected instance needs its repository to build its prompt, so `instances=ID,ID` loads only those
(`--problems` selects after loading).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge

from monkeys.core import Problem, Prompt
from monkeys.errors import DataError
from monkeys.registry import SPEED_ONLY, register_task
from monkeys.swe.instances import default_cache, load_instances, repo_dir
from monkeys.swe.retrieval import ContextFile, retrieve

PROGRESS_EVERY_S = 10.0  # a line on stderr this often while prompts are built

SYSTEM = ("You are an expert software engineer. You fix issues in Python repositories with small, correct "
          "edits to the repository's source files.")

SEARCH_REPLACE = (
    "Please first localize the bug based on the issue statement, and then generate "
    "*SEARCH/REPLACE* edits to fix the issue.\n"
    "\n"
    "Every *SEARCH/REPLACE* edit must use this format:\n"
    "1. The file path\n"
    "2. The start of search block: <<<<<<< SEARCH\n"
    "3. A contiguous chunk of lines to search for in the existing source code\n"
    "4. The dividing line: =======\n"
    "5. The lines to replace into the source code\n"
    "6. The end of the replace block: >>>>>>> REPLACE\n"
    "\n"
    "Here is an example:\n"
    "\n"
    "```python\n"
    "### mathweb/flask/app.py\n"
    "<<<<<<< SEARCH\n"
    "from flask import Flask\n"
    "=======\n"
    "import math\n"
    "from flask import Flask\n"
    ">>>>>>> REPLACE\n"
    "```\n"
    "\n"
    "Please note that the *SEARCH/REPLACE* edit REQUIRES PROPER INDENTATION. If you would like "
    "to add the line '        print(x)', you must fully write that out, with all those spaces "
    "before the code!\n"
    "Wrap each *SEARCH/REPLACE* edit in a code block as shown in the example above. If you "
    "have multiple *SEARCH/REPLACE* edits, use a separate code block for each one. (A unified "
    "diff in a ```diff block is accepted too.)")

DIFF = (
    "Please first localize the bug based on the issue statement, and then write a patch that "
    "fixes the issue as a unified diff against the files above, in one ```diff code block, like this:\n"
    "\n"
    "```diff\n"
    "--- a/mathweb/flask/app.py\n"
    "+++ b/mathweb/flask/app.py\n"
    "@@ -1,3 +1,4 @@\n"
    "+import math\n"
    " from flask import Flask\n"
    "```\n"
    "\n"
    "Context lines must be copied exactly from the file, with their indentation. "
    "(*SEARCH/REPLACE* blocks are accepted too.)")


def swe_prompt(instance: dict[str, Any], files: list[ContextFile], edit_format: str) -> Prompt:
    """The agentless repair prompt: issue, retrieved files, answer format."""
    shown = []
    for f in files:
        note = f" (lines {f.lines[0]}-{f.lines[1]} only)" if f.lines else ""
        body = f.text if f.text.endswith("\n") or not f.text else f.text + "\n"
        shown.append(f"--- BEGIN FILE ---\n```\n### {f.path}{note}\n{body}```\n--- END FILE ---")
    context = ("Below are some code segments, each from a relevant file. One or more of these files may contain "
               "bugs.\n\n" + "\n\n".join(shown)) if shown else "(No file of the repository fits in the context.)"
    user = (f"We are currently solving the following issue within our repository ({instance['repo']}). Here is "
            f"the issue text:\n--- BEGIN ISSUE ---\n{instance['problem_statement'].strip()}\n--- END ISSUE ---\n\n"
            f"{context}\n\n{SEARCH_REPLACE if edit_format == 'search-replace' else DIFF}")
    return Prompt(text=f"{SYSTEM}\n\n{user}\n", messages=({"role": "system", "content": SYSTEM},
                                                          {"role": "user", "content": user}))


@register_task("swe-bench")
class SWEBench:
    """SWE-bench issues (Lite, Verified, full or a local file): patch the repository; its tests decide."""

    name: ClassVar[str] = "swe-bench"
    default_verifier: ClassVar[str] = "swe-tests"

    def __init__(self, data: str | None = None, dataset: str = "lite", split: str = "test",
                 repos: str | None = None, cache_dir: Annotated[str | None, SPEED_ONLY] = None,
                 instances: list[str] | str | None = None,
                 context_tokens: Annotated[int, Ge(0)] = 16_000, max_files: Annotated[int, Ge(1)] = 5,
                 edit_format: Literal["search-replace", "diff"] = "search-replace") -> None:
        self.data = data
        self.dataset = dataset
        self.split = split
        self.repos = repos
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache()
        if isinstance(instances, str):
            instances = [i.strip() for i in instances.split(",") if i.strip()]
        self.instances = list(dict.fromkeys(instances)) if instances else None
        self.context_tokens = context_tokens
        self.max_files = max_files
        self.edit_format = edit_format

    def load_problems(self) -> list[Problem]:
        records = load_instances(self.data, self.dataset, self.split)
        if self.instances is not None:
            by_id = {r["instance_id"]: r for r in records}
            missing = [i for i in self.instances if i not in by_id]
            if missing:
                where = self.data or self.dataset
                raise DataError(f"instances: {missing[0]!r} is not an instance of {where} ({len(records)} in all)")
            records = [by_id[i] for i in self.instances]
        problems = []
        started = last = time.monotonic()
        for n, r in enumerate(records):
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY_S:  # a first load indexes every repository at every commit
                last = now
                print(f"swe-bench: prompts of {n}/{len(records)} instances built ({now - started:.0f} s; BM25 "
                      f"indexes are cached in {self.cache_dir / 'bm25'})", file=sys.stderr, flush=True)
            repo = repo_dir(r["repo"], r["base_commit"], self.repos, self.cache_dir / "repos")
            files = retrieve(repo, r["base_commit"], r["problem_statement"], budget_tokens=self.context_tokens,
                             max_files=self.max_files, cache_dir=self.cache_dir / "bm25")
            problems.append(Problem(
                problem_id=r["instance_id"],
                prompt=swe_prompt(r, files, self.edit_format),
                reference={"kind": "swe-bench", "instance": r, "repo_dir": str(repo),
                           "context_files": [f.path for f in files]},
            ))
        return problems
