"""SWE-bench: repository-level problems (`tasks.swe_bench`) and their parts.

`instances` reads the SWE-bench records and finds each one's git repository, `retrieval` picks the files a
prompt shows (BM25 over the repository at the instance's `base_commit`), `edits` turns a model's answer
(a unified diff or SEARCH/REPLACE blocks) into a clean diff against the real files.

The verifier `swe-tests` (`verifiers.swe_tests`) uses `worktree` (checkouts at `base_commit`, reset between
patches), `env` (one environment per repository and version), `patching` (diffs), `guard` (changes that
could forge a pass), `grading` (test command, log parsing, the harness's grading) and `docker` (the
official harness).
"""
