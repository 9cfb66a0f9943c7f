"""The `docker` backend of `swe-tests`: the official SWE-bench harness (swebench 3-4), used as is.

Each patch goes through `swebench.harness.run_evaluation.run_instance` (the instance image, the harness's
apply fallbacks, its eval script, log parser and grading); this module only turns its report into the
verdict fields the `local` backend gives. Images come from the harness: `namespace="swebench"` pulls the
prebuilt instance images, `namespace=None` builds them (`build_env_images` first).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from monkeys.core import Outcome
from monkeys.extras import MissingExtra, require


def docker_usable() -> str | None:
    """Why the docker backend cannot run here, or None when it can: a Docker engine answers (through the
    `docker` package, else the `docker` command) and the `docker` and `swebench` packages are installed."""
    engine = None
    try:
        import docker  # type: ignore[import-not-found,import-untyped,unused-ignore]

        docker.from_env().ping()
    except ImportError:
        cli = shutil.which("docker")
        if cli is None:
            engine = "no Docker (no `docker` command)"
        elif subprocess.run([cli, "info"], capture_output=True, timeout=30).returncode != 0:
            engine = "no Docker engine answers (`docker info` fails)"
    except Exception as exc:
        engine = f"no Docker engine answers: {str(exc).splitlines()[0][:200]}"
    try:
        require("swe-docker", "docker", "swebench", what="swe-tests backend=docker")
        packages = None
    except MissingExtra as exc:
        packages = str(exc)
    reasons = [r for r in (engine, packages) if r]
    return "; ".join(reasons) if reasons else None


def run(instance: dict[str, Any], diff: str, *, model: str, run_id: str, timeout_s: float,
        namespace: str | None) -> tuple[Outcome, str, dict[str, Any]]:
    """(outcome, reason, details) for `diff` on `instance`, from the harness's own report and logs."""
    import docker  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from swebench.harness import constants as c  # type: ignore[import-not-found]
    from swebench.harness.docker_build import build_env_images  # type: ignore[import-not-found]
    from swebench.harness.run_evaluation import run_instance  # type: ignore[import-not-found]
    from swebench.harness.test_spec.test_spec import make_test_spec  # type: ignore[import-not-found]

    if instance.get("version") not in c.MAP_REPO_VERSION_TO_SPECS.get(instance.get("repo"), {}):
        return Outcome.ERROR, (f"environment build failed: the swebench harness has no specs for "
                               f"{instance.get('repo')} {instance.get('version')} (use backend=local)"), {}
    client = docker.from_env()
    spec = make_test_spec(instance, namespace=namespace)
    if namespace is None:
        build_env_images(client, [spec], False, 1)
    instance_id = instance["instance_id"]
    pred = {c.KEY_INSTANCE_ID: instance_id, c.KEY_MODEL: model, c.KEY_PREDICTION: diff}
    result = run_instance(spec, pred, False, False, client, run_id, int(timeout_s))
    log_dir = Path(c.RUN_EVALUATION_LOG_DIR) / run_id / model.replace("/", "__") / instance_id
    details: dict[str, Any] = {"backend": "docker", "log_dir": str(log_dir)}
    report_path = log_dir / c.LOG_REPORT
    if not result.get("completed") or not report_path.exists():
        text = _read(log_dir / c.LOG_INSTANCE)
        if c.APPLY_PATCH_FAIL in text:
            tail = text.split(c.APPLY_PATCH_FAIL, 1)[1].strip().splitlines()
            return Outcome.FAIL, "patch does not apply: " + " ".join(tail[:3])[:300], details
        if "Timeout error" in _read(log_dir / c.LOG_TEST_OUTPUT) or "timed out" in text:
            return Outcome.TIMEOUT, f"tests ran past the time limit ({timeout_s:g} s)", details
        return Outcome.ERROR, "environment build failed (harness): " + " | ".join(text.strip().splitlines()[-3:])[
            :400], details
    report = json.loads(report_path.read_text())[instance_id]
    status = report.get("tests_status", {})
    f2p = status.get("FAIL_TO_PASS", {}).get("failure", [])
    p2p = status.get("PASS_TO_PASS", {}).get("failure", [])
    details.update(f2p_failed=f2p, p2p_failed=p2p, apply="harness")
    if report.get("resolved"):
        return Outcome.PASS, "resolved", details
    if f2p:
        return Outcome.FAIL, f"FAIL_TO_PASS still failing: {', '.join(f2p[:3])}", details
    return Outcome.FAIL, f"PASS_TO_PASS broke: {', '.join(p2p[:3])}", details


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
