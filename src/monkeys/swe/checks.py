"""What `monkeys doctor` says about `swe-tests`: whether git, GNU patch, the command sandbox (backend
`local`) and Docker with the swebench harness (backend `docker`) are usable here."""

from __future__ import annotations

import shutil
import subprocess
import tempfile


def _version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def swe_tests_checks() -> dict[str, str]:
    """Check name -> "active: ..." or "unavailable: why" (the `doctor` table's convention)."""
    from monkeys.errors import SandboxError
    from monkeys.sandbox._command import CommandLimits, run_command, unavailable
    from monkeys.swe.docker import docker_usable

    rows: dict[str, str] = {}
    git = _version(["git", "--version"]) if shutil.which("git") else None
    rows["git (both backends)"] = f"active: {git}" if git else "unavailable: git not installed"
    patch = _version(["patch", "--version"]) if shutil.which("patch") else None
    rows["patch --fuzz (local fallback)"] = f"active: {patch}" if patch else \
        "unavailable: GNU patch not installed (only `git apply` is tried)"
    why = unavailable()
    if why is None:
        try:
            with tempfile.TemporaryDirectory(prefix="monkeys-doctor-") as work:
                result = run_command(["/bin/sh", "-c", "echo contained"], cwd=work, limits=CommandLimits(timeout_s=20))
            if result.stdout.strip() != b"contained":
                why = f"a test command did not run (exit {result.exit_code})"
        except SandboxError as exc:
            why = str(exc)
    rows["backend local (command sandbox)"] = f"unavailable: {why}" if why else \
        "active: tests run in unshare namespaces, no network, Landlock, rlimits"
    docker = docker_usable()
    rows["backend docker (swebench harness)"] = f"unavailable: {docker}" if docker else "active"
    return rows
