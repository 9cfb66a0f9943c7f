"""The `swe-tests` verifier: a repository patch judged by the repository's own tests (SWE-bench).

The reference is ``{"kind": "swe-bench", "instance": {SWE-bench record}, "repo_dir": "<git repository>"}``.
The sample's text is a unified diff (bare or fenced); anything else goes through the task's
`monkeys.swe.edits.to_patch` (SEARCH/REPLACE blocks), which says why when it cannot make a diff.

Backend `local` (default), per sample:

1. a worktree of the instance at `base_commit` (reused: reset between patches, see `swe.worktree`), and
   the (repo, version) environment (built once, see `swe.env`);
2. the model patch: `git apply`, else `patch --fuzz=5` (`details["apply"]` says which), else FAIL
   "patch does not apply" naming the file and hunk;
3. the guard (`swe.guard`) over the files the worktree really changed and what they now hold (read from
   the checkout, so a binary hunk hides nothing): edits to tests, conftest.py, pytest configuration
   (`pytest.toml` too) or plug-ins, sitecustomize, .pth files, package metadata, git metadata, and a new
   module that would be imported instead of a standard, runner or installed one (a root `pytest.py`) are
   flagged (`details["guard"]`); `guard="fail"` (default) fails the sample, `guard="flag"` reverts those files,
   so they cannot take effect, and judges the rest;
4. the test patch, last (so it overwrites whatever the patch did to its files);
5. the harness's test command in the command sandbox (`monkeys.sandbox._command`: no network, only the
   worktree and a private /tmp writable, another uid, `timeout_s` for the whole run; the worktree is
   written through an overlay on a tmpfs of `disk_mb` MiB in the run's own mount namespace, so nothing
   the run writes reaches the host's disk, and a run that fills it fails) while the test patch's files,
   the folders on their way and the test folder are watched from outside (`swe.watch`: a run that
   rewrites, moves or adds to what pytest reads as the tests, or makes what would be imported in place
   of one of them, fails as "guard: the tests' run changed the tests: ...");
   pytest runs under `grading.LAUNCHER`: a recorder writes every report of pytest's own tallies after
   it returns, under a nonce, and only that record is parsed (harness parser when `swebench` is
   installed), then `os._exit` (no exit handler of the code under test runs);
6. graded as the harness grades: PASS only when every FAIL_TO_PASS and PASS_TO_PASS test is reported
   passing; a test missing from the record is failing. When the only failures are PASS_TO_PASS tests, the
   same command runs again on a checkout made anew: when that run passes every test, the ones that
   failed before are flaky (`details["flaky"]`), not counted as broken.

A patch too large to judge on the host (`patching.MAX_PATCH_CHARS`, `patching.MAX_WRITTEN_BYTES`) fails as
"patch too large: ..." before it is applied (binary hunks and copies) or before the guard reads it.

Reasons: "resolved", "empty patch", "no diff: ...", "patch too large: ...", "patch does not apply: ...", "guard: ...",
"test patch does not apply on top of the patch", "FAIL_TO_PASS still failing: ...", "PASS_TO_PASS broke:
...", TIMEOUT "tests ran past the time limit", ERROR "environment build failed: ..." (never the sample's
fault; the sandbox or git failing is an ERROR too). Identical patches (after `patching.normalise`) are
verified once per verifier (`details["cached"]`).

Backend `docker`: the official harness (`swe.docker`); the guard still applies to the patch's files.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from annotated_types import Ge, Gt

from monkeys.core import Outcome, Problem, Sample, Verdict
from monkeys.registry import SPEED_ONLY, check_options, register_verifier
from monkeys.swe import grading, guard, patching
from monkeys.swe.env import EnvBuildError, EnvManager, harness_specs, spec_for
from monkeys.swe.watch import TestFilesWatch, WatchError
from monkeys.swe.worktree import GitError, Worktree, WorktreePool

_Result = tuple[Outcome, str, dict[str, Any]]


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "monkeys" / "swe"


def _to_patch() -> Callable[..., str] | None:
    """The task's answer-to-diff converter, when that module is installed (imported on first use)."""
    try:
        module = importlib.import_module("monkeys.swe.edits")
    except ImportError:
        return None
    return getattr(module, "to_patch", None)


@register_verifier("swe-tests")
class SweTests:
    """SWE-bench: apply the patch at base_commit, run FAIL_TO_PASS and PASS_TO_PASS in the sandbox.

    `backend`: "local" (worktree + reused environment + the monkeys sandbox) or "docker" (the swebench
    harness, needs Docker). `guard`: "fail" (default) or "flag" (see the module docstring).
    `timeout_s`: wall clock of one test run. `python`, `install`, `system_site_packages`: how
    environments are built (see `monkeys.swe.env`). `fuzzy_apply`: fall back to `patch --fuzz=5`.
    `disk_mb`: what a test run may write in the checkout, in MiB, on a private overlay of its own (0: no cap,
    and the run writes the host's checkout, for kernels without overlayfs in a user namespace).
    `rerun_failures`: run PASS_TO_PASS failures once more to tell flaky tests. `use_harness`: the
    harness's test command and log parser when `swebench` is installed. `namespace`: docker images
    ("swebench" pulls prebuilt ones, null builds them). `cache_dir`: worktrees and environments.
    """

    revision: ClassVar[int] = 3  # a new one when what a verdict means changes (`store.revisions`)
    revision_notes: ClassVar[dict[int, str]] = {
        2: "a patch that rewrites the tests while they run, prints pytest-like result lines, tells the flaky re-run"
           " from the first, or writes too much fails; results come from pytest's own reports, not its text",
        3: "the flaky re-run must pass every test (a patch that chose per run between passing FAIL_TO_PASS and"
           " PASS_TO_PASS passed); a package or extension module made at run time beside a test module, or a"
           " helper of a test tree past the old watch cap, fails; a run filling the disk limit fails; a child"
           " that writes bytecode no longer fails a gold patch; a test tree too large to watch is an error"}

    def __init__(self, backend: Literal["local", "docker"] = "local", guard: Literal["fail", "flag"] = "fail",
                 timeout_s: Annotated[float, Gt(0)] = 1800.0, memory_mb: Annotated[int, Ge(256)] = 16384,
                 disk_mb: Annotated[int, Ge(0)] = 2048,
                 python: str | None = None, install: list[str] | None = None,
                 system_site_packages: bool = False, fuzzy_apply: bool = True, rerun_failures: bool = True,
                 use_harness: bool = True, namespace: str | None = "swebench",
                 cache_dir: Annotated[str | None, SPEED_ONLY] = None,
                 cache: Annotated[bool, SPEED_ONLY] = True) -> None:
        check_options("verifier", "swe-tests", {k: v for k, v in locals().items() if k != "self"})
        self.backend, self.guard, self.timeout_s, self.memory_mb = backend, guard, timeout_s, memory_mb
        self.disk_mb = disk_mb
        self.python, self.install, self.system_site_packages = python, install, system_site_packages
        self.fuzzy, self.rerun, self.use_harness, self.namespace = fuzzy_apply, rerun_failures, use_harness, namespace
        self.root = Path(cache_dir).expanduser() if cache_dir else default_cache()
        self.cache_enabled = cache
        self.worktrees = WorktreePool(self.root / "worktrees")
        self.envs = EnvManager(self.root / "envs")
        self._cache: dict[str, Future[Verdict]] = {}
        self._lock = threading.Lock()
        self._modules: dict[str, frozenset[str]] = {}  # environment -> what its interpreter imports
        self._settings = json.dumps([backend, guard, timeout_s, memory_mb, disk_mb, python, install,
                                     system_site_packages, fuzzy_apply, rerun_failures, use_harness, namespace])

    # -- the verifier protocol --------------------------------------------------------------------

    def verify(self, problem: Problem, sample: Sample) -> Verdict:
        verdict = self._verify_sample(problem, sample)
        # a path that is not UTF-8 (a patch may name one the way git quotes it, "b/\\377.py") or a lone
        # surrogate of the sample's text reaches reasons and details, which the run store cannot write
        return Verdict(verdict.outcome, _utf8(verdict.reason), _utf8(verdict.details), verdict.duration_s)

    def _verify_sample(self, problem: Problem, sample: Sample) -> Verdict:
        start = time.monotonic()
        ref = problem.reference
        instance, repo_dir = ref.get("instance"), ref.get("repo_dir")
        if ref.get("kind") != "swe-bench" or not isinstance(instance, dict) or not repo_dir:
            return Verdict(Outcome.ERROR, f"unusable reference for swe-tests: kind={ref.get('kind')!r}",
                           {"cached": False})
        if not sample.text.strip():
            return Verdict(Outcome.FAIL, "empty patch", {"cached": False}, time.monotonic() - start)
        if len(sample.text) > 2 * patching.MAX_PATCH_CHARS:
            return Verdict(Outcome.FAIL, f"patch too large: {len(sample.text):,} characters (at most "
                           f"{patching.MAX_PATCH_CHARS:,})", {"cached": False}, time.monotonic() - start)
        diff = patching.extract_diff(sample.text)
        converted = diff is None
        if diff is None:
            try:
                diff = self._convert(sample.text, instance, str(repo_dir))
            except ValueError as exc:
                return Verdict(Outcome.FAIL, f"no diff: {exc}", {"cached": False}, time.monotonic() - start)
            except (GitError, OSError) as exc:
                return Verdict(Outcome.ERROR, f"repository unusable: {exc}", {"cached": False})
        if len(diff) > patching.MAX_PATCH_CHARS:
            return Verdict(Outcome.FAIL, f"patch too large: {len(diff):,} characters (at most "
                           f"{patching.MAX_PATCH_CHARS:,})", {"cached": False}, time.monotonic() - start)
        key = self._key(instance, diff)
        how = {"converted": "edits.to_patch"} if converted else {}
        future, mine = self._claim(key)
        if not mine:
            hit = future.result()
            details = {k: v for k, v in hit.details.items() if k != "converted"}
            return Verdict(hit.outcome, hit.reason, {**details, **how, "cached": True}, time.monotonic() - start)
        try:
            outcome, reason, details = self._verify(instance, str(repo_dir), diff)
            details.update(how)
        except BaseException as exc:
            with self._lock:
                self._cache.pop(key, None)
            future.set_exception(exc)
            raise
        details.update(cached=False, patch_hash=key[:16])
        verdict = Verdict(outcome, reason, details, time.monotonic() - start)
        if outcome is Outcome.ERROR or not self.cache_enabled:  # an error may not last: verify it again
            with self._lock:
                self._cache.pop(key, None)
        future.set_result(verdict)
        return verdict

    def protections(self) -> dict[str, str]:
        """What contains the tests a patch runs (recorded in the run store)."""
        if self.backend == "docker":
            return {"backend": "docker (the swebench harness's instance containers)"}
        from monkeys.sandbox._command import unavailable

        why = unavailable()
        cap = f"checkout writes on a private overlay of {self.disk_mb} MiB" if self.disk_mb else "checkout writable"
        return {"backend": f"command sandbox: unshare pid/net/ipc/uts/mount namespaces, private /tmp, {cap}, "
                           "Landlock, rlimits, own uid" if why is None else f"unavailable: {why}"}

    def close(self) -> None:
        """Worktrees and environments stay in `cache_dir` for the next run; nothing to release."""

    # -- one patch ---------------------------------------------------------------------------------

    def _key(self, instance: dict[str, Any], diff: str) -> str:
        text = "\0".join([str(instance.get("instance_id")), str(instance.get("base_commit")),
                          hashlib.blake2b(str(instance.get("test_patch")).encode()).hexdigest(),
                          patching.normalise(diff), self._settings])
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()

    def _claim(self, key: str) -> tuple[Future[Verdict], bool]:
        """The future of `key`'s verdict and whether this caller computes it (the others wait)."""
        with self._lock:
            future = self._cache.get(key)
            if future is not None:
                return future, False
            future = self._cache[key] = Future()
            return future, True

    def _convert(self, text: str, instance: dict[str, Any], repo_dir: str) -> str:
        """A diff from a non-diff answer (SEARCH/REPLACE blocks) via the task's `to_patch`, against the files
        at `base_commit` (read from git; a checkout when that `to_patch` cannot read a commit)."""
        to_patch = _to_patch()
        if to_patch is None:
            raise ValueError("the answer is not a unified diff")
        try:
            return to_patch(text, Path(repo_dir), commit=instance["base_commit"])
        except TypeError:
            with self.worktrees.acquire(repo_dir, instance["base_commit"]) as tree:
                return to_patch(text, tree.path)

    def _verify(self, instance: dict[str, Any], repo_dir: str, diff: str) -> _Result:
        if self.backend == "docker":
            return self._verify_docker(instance, diff)
        try:
            with self.worktrees.acquire(repo_dir, instance["base_commit"]) as tree:
                if not diff.strip():
                    return Outcome.FAIL, "empty patch", {}
                return self._verify_local(instance, repo_dir, diff, tree)
        except GitError as exc:
            return Outcome.ERROR, f"repository unusable: {exc}", {}

    def _verify_local(self, instance: dict[str, Any], repo_dir: str, diff: str, tree: Worktree) -> _Result:
        details: dict[str, Any] = {"backend": "local"}
        written = patching.binary_bytes(diff) + tree.blob_sizes(patching.copy_sources(diff))
        if written > patching.MAX_WRITTEN_BYTES:  # before git inflates them onto the host's disk
            return Outcome.FAIL, _too_large(written, "its binary hunks and copies would write"), details
        applied = tree.apply(diff, fuzzy=self.fuzzy)
        if not applied.ok:
            details["apply_error"] = applied.error
            named = patching.paths(diff)
            where = "" if any(p in applied.error for p in named) else f" (patch of {', '.join(named[:3]) or 'no file'})"
            return Outcome.FAIL, f"patch does not apply: {applied.error}{where}", details
        details["apply"] = applied.method
        changed = tree.changed()
        details["changed"] = changed[:50]
        longest = max(changed, key=lambda p: len(os.fsencode(p)), default="")
        if len(os.fsencode(longest)) > patching.MAX_PATH_BYTES:  # the host's calls on it fail (ENAMETOOLONG)
            return Outcome.FAIL, (f"patch too large: a path of {len(os.fsencode(longest)):,} bytes (at most "
                                  f"{patching.MAX_PATH_BYTES:,}): {_short(longest)}"), details
        written = tree.sizes(changed)
        if written > patching.MAX_WRITTEN_BYTES:  # before the guard reads them whole
            return Outcome.FAIL, _too_large(written, "the files it changed hold"), details
        test_files = patching.paths(instance.get("test_patch") or "")
        try:
            env = self.envs.get(instance, repo_dir, spec_for(instance, self.python, tuple(self.install)
                                                             if self.install is not None else None,
                                                             self.system_site_packages))
        except EnvBuildError as exc:
            return Outcome.ERROR, f"environment build failed: {exc}", details
        # the guard reads what the checkout now holds, not the patch's text (binary hunks, fuzzy applies)
        flags = guard.check(changed, tree.added_lines(changed), test_files, str(instance.get("repo", "")))
        flags += guard.shadowing(tree.untracked(changed), tree.packages(), self._installed(env))
        if flags:
            details["guard"] = [f.to_dict() for f in flags]
            if self.guard == "fail":
                return Outcome.FAIL, "guard: " + "; ".join(f"{_short(f.path)} {f.why}" for f in flags[:3]), details
            tree.revert([f.path for f in flags])
            details["reverted"] = [f.path for f in flags]
        if instance.get("test_patch"):
            test_applied = tree.apply(instance["test_patch"], fuzzy=False)
            if not test_applied.ok:
                details["apply_error"] = test_applied.error
                return Outcome.FAIL, f"test patch does not apply on top of the patch: {test_applied.error}", details
        specs = harness_specs(instance) if self.use_harness else None
        details.update(env=env.key, env_python=env.version, env_recipe=env.recipe)
        command = grading.test_command(instance, specs)
        f2p, p2p = list(instance.get("FAIL_TO_PASS") or []), list(instance.get("PASS_TO_PASS") or [])
        try:
            status, run_details = self._run_tests(instance, tree, env, command.args, command.env, test_files)
        except WatchError as exc:
            return Outcome.ERROR, f"cannot watch the test files: {exc}", details
        details.update(run_details)
        if run_details.get("tampered"):
            return self._tampered(details, run_details["tampered"])
        if run_details.get("disk_full"):
            return Outcome.FAIL, self._disk_full(), details
        if status is None:
            return Outcome.TIMEOUT, f"tests ran past the time limit ({self.timeout_s:g} s)", details
        result = grading.grade(status, f2p, p2p)
        if result.missing:
            details["missing"] = list(result.missing[:50])
        if self.rerun and command.pytest and not result.f2p_failed and result.p2p_failed:
            # the same command on a fresh checkout: nothing the first run left, and nothing telling the code
            # under test that this is the re-run (a re-run of only the failed tests had other arguments)
            try:
                again, again_details = self._rerun(instance, tree, env, diff, flags, command, test_files)
            except WatchError as exc:
                return Outcome.ERROR, f"cannot watch the test files: {exc}", details
            if again_details.get("tampered"):
                return self._tampered(details, again_details["tampered"])
            if again_details.get("disk_full"):
                return Outcome.FAIL, self._disk_full(), details
            if again is not None:
                # the re-run alone must pass every test: a patch that passes FAIL_TO_PASS in one run and the
                # PASS_TO_PASS tests in another (a choice it makes per run) has no run that resolves the issue
                second = grading.grade(again, f2p, p2p)
                if second.resolved:
                    details["flaky"] = list(result.p2p_failed)
                    result = grading.Grade((), (), result.missing)
                else:
                    details["rerun_failed"] = [*second.f2p_failed, *second.p2p_failed][:50]
        details["f2p_failed"] = list(result.f2p_failed[:50])
        details["p2p_failed"] = list(result.p2p_failed[:50])
        if result.resolved:
            if flags:
                return Outcome.PASS, "resolved (flagged changes reverted)", details
            return Outcome.PASS, "resolved", details
        if result.f2p_failed:
            return Outcome.FAIL, "FAIL_TO_PASS still failing: " + _names(result.f2p_failed, result.missing), details
        return Outcome.FAIL, "PASS_TO_PASS broke: " + _names(result.p2p_failed, result.missing), details

    def _disk_full(self) -> str:
        from monkeys.sandbox._command import CommandLimits

        return (f"the tests' run filled the disk limit ({self.disk_mb:,} MiB or {CommandLimits.disk_inodes:,} files "
                "and folders written in the checkout)")

    @staticmethod
    def _tampered(details: dict[str, Any], found: list[str]) -> _Result:
        pairs = [f.split(": ", 1) for f in found[:20]]
        details["guard"] = [*details.get("guard", []),
                            *({"path": p[0], "why": "changed while the tests ran: " + p[-1]} for p in pairs)]
        return Outcome.FAIL, "guard: the tests' run changed the tests: " + "; ".join(found[:3]), details

    def _rerun(self, instance: dict[str, Any], tree: Worktree, env: Any, diff: str, flags: list[guard.Flag],
               command: grading.TestCommand, test_files: list[str]) -> tuple[dict[str, str] | None, dict[str, Any]]:
        """The tests run again as the first time, on a checkout made anew (None: it could not be remade)."""
        tree.reset()
        if not tree.apply(diff, fuzzy=self.fuzzy).ok:
            return None, {}
        if flags:  # guard=flag: reverted as before the first run
            tree.revert([f.path for f in flags])
        if instance.get("test_patch") and not tree.apply(instance["test_patch"], fuzzy=False).ok:
            return None, {}
        return self._run_tests(instance, tree, env, command.args, command.env, test_files)

    def _installed(self, env: Any) -> frozenset[str]:
        """Top-level module names the environment's interpreter can import (outside the checkout), once per
        environment: a patch may not add a module that would be imported in place of one of them."""
        key = str(env.key)
        with self._lock:
            known = self._modules.get(key)
        if known is not None:
            return known
        probe = ("import json, pkgutil, sys\n"
                 "print(json.dumps(sorted({m.name for m in pkgutil.iter_modules()} | set(sys.builtin_module_names))))")
        try:
            out = subprocess.run([str(env.python), "-I", "-c", probe], cwd="/", capture_output=True, text=True,
                                 timeout=60)
            names = frozenset(json.loads(out.stdout)) if out.returncode == 0 else frozenset()
        except (OSError, ValueError, subprocess.TimeoutExpired):
            names = frozenset()
        with self._lock:
            self._modules[key] = names
        return names

    def _run_tests(self, instance: dict[str, Any], tree: Worktree, env: Any, args: tuple[str, ...],
                   extra_env: dict[str, str], protected: list[str]) -> tuple[dict[str, str] | None, dict[str, Any]]:
        """(status map, details) of one test run; the map is None when the time limit ended it. While it
        runs the test files (`protected`) are watched: `details["tampered"]` says what was done to them."""
        from monkeys.sandbox._command import CommandLimits, run_command

        path = [str(env.python.parent), "/usr/local/bin", "/usr/bin", "/bin"]
        pythonpath = [str(tree.path)] + ([str(tree.path / "src")] if (tree.path / "src").is_dir()
                                         and not (tree.path / "src" / "__init__.py").exists() else [])
        run_env = {"PATH": ":".join(path), "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                   "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ":".join(pythonpath), "TMPDIR": "/tmp",
                   "VIRTUAL_ENV": str(env.path / "venv"), **extra_env}
        limits = CommandLimits(timeout_s=self.timeout_s, memory_mb=self.memory_mb, disk_mb=self.disk_mb or None)
        nonce = None
        if args[:2] == ("-m", "pytest"):  # pytest with the recorder, then os._exit (see `grading.LAUNCHER`)
            nonce = secrets.token_hex(16)
            nonce_file = tree.path / f".monkeys-run-{secrets.token_hex(6)}"
            fd = os.open(nonce_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(nonce)
            args = ("-c", grading.LAUNCHER, str(nonce_file), *args[2:])
        # the checkout is seen and written through an overlay in the run's own mount namespace (nothing reaches
        # the host's disk, and no more than `disk_mb`), so the watch starts there, before the command does
        watch = TestFilesWatch(tree.path, protected)
        try:
            watch.plant()
            result = run_command([str(env.python), *args], cwd=tree.path, writable=[tree.path],
                                 readable=list(env.readable), env=run_env, limits=limits, on_ready=watch.start)
        finally:
            tampered = watch.stop()
            tree.reset_owner()
            if nonce is not None:
                nonce_file.unlink(missing_ok=True)
        stdout = result.stdout.decode("utf-8", "replace")
        results = grading.results_block(stdout, nonce, result.exit_code, check_exit=True) if nonce else None
        if results is not None:
            stdout = stdout[:stdout.rfind(f"\n@@monkeys-results {nonce} ")]
        log = stdout + "\n" + result.stderr.decode("utf-8", "replace")
        details: dict[str, Any] = {"test_exit": result.exit_code, "test_wall_s": round(result.wall_s, 3),
                                   "log_tail": _tail(log)}
        if tampered:
            details["tampered"] = tampered
        if result.disk_full:
            details["disk_full"] = True
        if result.timed_out:
            return None, details
        if result.output_truncated:
            details["output_truncated"] = True
        if nonce is not None and results is None:  # killed, or ended by the code under test: no result stands
            details["parser"] = "none (the run recorded no results)"
            return {}, details
        status, parser = grading.parse_log(log, str(instance.get("repo", "")), self.use_harness, results)
        details["parser"] = parser
        return status, details

    def _verify_docker(self, instance: dict[str, Any], diff: str) -> _Result:
        from monkeys.swe import docker

        changes = patching.parse(diff)
        flags = guard.check(patching.paths(diff), changes,
                            patching.paths(instance.get("test_patch") or ""), str(instance.get("repo", "")))
        # without a checkout only the top folder is known to be no package: modules added there
        flags += guard.shadowing([c.path for c in changes if c.old is None and "/" not in c.path], [], ())
        details: dict[str, Any] = {"backend": "docker"}
        if flags:
            details["guard"] = [f.to_dict() for f in flags]
            if self.guard == "fail":
                return Outcome.FAIL, "guard: " + "; ".join(f"{f.path} {f.why}" for f in flags[:3]), details
        why = docker.docker_usable()
        if why is not None:
            return Outcome.ERROR, f"environment build failed: {why}", details
        model = "monkeys-" + patching.patch_hash(diff)
        outcome, reason, more = docker.run(instance, diff, model=model, run_id="monkeys-swe-tests",
                                           timeout_s=self.timeout_s, namespace=self.namespace)
        return outcome, reason, {**details, **more}


def _utf8(value: Any) -> Any:
    """`value` with every string made valid UTF-8 (undecodable bytes shown as \\xNN), in lists and dicts too."""
    if isinstance(value, str):
        if not any("\ud800" <= c <= "\udfff" for c in value):
            return value
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate no undecodable byte made
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list | tuple):
        return [_utf8(v) for v in value]
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    return value


def _short(path: str, n: int = 120) -> str:
    return path if len(path) <= n else path[:n - 3] + "..."


def _too_large(size: int, what: str) -> str:
    return f"patch too large: {what} {size:,} bytes (at most {patching.MAX_WRITTEN_BYTES:,})"


def _names(tests: tuple[str, ...], missing: tuple[str, ...]) -> str:
    shown = [f"{t} (not run)" if t in missing else t for t in tests[:3]]
    more = f" and {len(tests) - 3} more" if len(tests) > 3 else ""
    return ", ".join(shown) + more


def _tail(log: str, n: int = 12) -> str:
    return "\n".join(log.strip().splitlines()[-n:])[-2000:]
