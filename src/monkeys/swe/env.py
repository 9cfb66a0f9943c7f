"""One Python environment per (repository, version), built once and reused by every patch.

An environment is a virtual environment under the cache folder, built in a checkout of the instance's
`environment_setup_commit` (else `base_commit`) by a list of shell commands run with the environment
active (`python` and `pip` are its own). The commands come from, first to last that applies:

1. the verifier's `install` option (the same commands for every repository);
2. the SWE-bench harness's per-version specs (`swebench.harness.constants.MAP_REPO_VERSION_TO_SPECS`,
   swebench 2-4) when `swebench` is installed and knows the repository: its `packages` (a package list,
   or `requirements.txt` fetched by the harness's `get_requirements`; `environment.yml` needs conda:
   use the docker backend), `pip_packages`, the `pre_install` lines that are not system package
   installs, and `install`;
3. `python -m pip install -e .` and `python -m pip install pytest`.

Building runs the repository's own setup code at a commit the dataset names (trusted as the dataset is),
on the host, with the package index reachable; it never runs a sample's code. A finished build writes
`ready.json` (the interpreter and the paths it reads); a failed one raises `EnvBuildError` with the tail of
`build.log`, and the verifier reports it as an `error` (never the sample's fault). Builds of one key are
serialised across threads and processes (a lock file).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monkeys.swe.worktree import GitError, Worktree, git_dir

DEFAULT_INSTALL = ("python -m pip install -e .", "python -m pip install pytest")
_READY = "ready.json"


class EnvBuildError(Exception):
    """The environment of an instance could not be built (the message ends with the log's tail)."""


@dataclass(frozen=True)
class EnvSpec:
    """How to build an environment: the base interpreter, the commands, whether the base interpreter's
    site-packages are visible, and where the commands came from ("option", "swebench", "default")."""

    python: str
    install: tuple[str, ...]
    system_site_packages: bool = False
    source: str = "default"

    def key(self, instance: dict[str, Any]) -> str:
        digest = hashlib.blake2b(json.dumps([self.python, self.install, self.system_site_packages]).encode(),
                                 digest_size=6).hexdigest()
        repo = str(instance.get("repo", "repo")).replace("/", "__")
        version = str(instance.get("version") or "0")
        return f"{repo}-{version}-{digest}"


@dataclass(frozen=True)
class Env:
    """A built environment: its interpreter and every path that interpreter reads (for the sandbox)."""

    key: str
    path: Path
    python: Path
    readable: tuple[str, ...]
    version: str = ""  # the interpreter's Python version
    recipe: str = ""  # where the build commands came from: "option", "swebench" or "default"


def harness_specs(instance: dict[str, Any]) -> dict[str, Any] | None:
    """The harness's specs for (repo, version), or None (swebench not installed, or repo unknown to it)."""
    try:
        from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS  # type: ignore[import-not-found]
    except ImportError:
        return None
    specs = MAP_REPO_VERSION_TO_SPECS.get(instance.get("repo"), {}).get(str(instance.get("version")))
    return dict(specs) if specs else None


def _interpreter(version: str | None, fallback: str) -> str:
    """`pythonX.Y` from PATH when the specs name a version that is installed here, else `fallback`."""
    if version:
        found = shutil.which(f"python{version}")
        if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:  # not a dead shim
            return found
    return fallback


def spec_for(instance: dict[str, Any], python: str | None = None, install: tuple[str, ...] | None = None,
             system_site_packages: bool = False) -> EnvSpec:
    """The build recipe for `instance` (see the module docstring for the order)."""
    base = python or sys.executable
    if install is not None:
        return EnvSpec(base, tuple(install), system_site_packages, "option")
    specs = harness_specs(instance)
    if specs is None:
        return EnvSpec(base, DEFAULT_INSTALL, system_site_packages, "default")
    commands: list[str] = []
    packages = specs.get("packages", "")
    if packages == "environment.yml":
        commands.append("echo 'this version installs with conda (environment.yml): use backend=docker' >&2; "
                        "exit 1")
    elif packages == "requirements.txt":
        commands.append(f"{shlex.quote(sys.executable)} -m monkeys.swe.env requirements "
                        "> \"$MONKEYS_BUILD/requirements.txt\" && "
                        "python -m pip install -r \"$MONKEYS_BUILD/requirements.txt\"")
    elif packages:
        commands.append(f"python -m pip install {packages}")
    if specs.get("pip_packages"):
        commands.append("python -m pip install " + " ".join(specs["pip_packages"]))
    commands += [c for c in specs.get("pre_install", []) if not c.lstrip().startswith(("apt", "sudo apt"))]
    if specs.get("install"):
        commands.append(specs["install"])
    if str(specs.get("test_cmd", "pytest")).startswith("pytest") and not any("pytest" in c for c in commands):
        commands.append("python -m pip install pytest")
    return EnvSpec(_interpreter(specs.get("python"), base if python else sys.executable), tuple(commands),
                   system_site_packages, "swebench")


class EnvManager:
    """Builds environments under `root` on first use and hands out the built ones. Thread-safe."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._locks: dict[str, threading.Lock] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, instance: dict[str, Any], repo_dir: str, spec: EnvSpec) -> Env:
        """The built environment for `instance` (building it now if needed). Raises `EnvBuildError`."""
        key = spec.key(instance)
        with self._lock:
            if key in self._failed:
                raise EnvBuildError(self._failed[key])
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            path = self.root / key
            ready = path / _READY
            if not ready.exists():
                path.mkdir(parents=True, exist_ok=True)
                with open(path / "build.lock", "w") as lock_file:
                    fcntl.flock(lock_file, fcntl.LOCK_EX)  # another process may be building it
                    if not ready.exists():
                        try:
                            self._build(instance, repo_dir, spec, path)
                        except EnvBuildError as exc:
                            with self._lock:
                                self._failed[key] = str(exc)
                            raise
            data = json.loads(ready.read_text())
            return Env(key, path, Path(data["python"]), tuple(data["readable"]), data.get("version", ""),
                       data.get("recipe", ""))

    def _build(self, instance: dict[str, Any], repo_dir: str, spec: EnvSpec, path: Path) -> None:
        venv = path / "venv"
        log_path = path / "build.log"
        shutil.rmtree(venv, ignore_errors=True)
        with open(log_path, "w") as log:
            log.write(f"# recipe from {spec.source}: {json.dumps(list(spec.install))}\n")
            log.flush()
            argv = [spec.python, "-m", "venv", *(["--system-site-packages"] if spec.system_site_packages else []),
                    *([] if any("pip" in c for c in spec.install) else ["--without-pip"]), str(venv)]
            try:
                created = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT).returncode == 0
            except OSError as exc:
                raise EnvBuildError(f"cannot run {spec.python}: {exc.strerror}") from None
            if not created:
                raise EnvBuildError(f"creating the virtual environment failed: {_tail(log_path)}")
            commit = instance.get("environment_setup_commit") or instance["base_commit"]
            try:
                source = Worktree(git_dir(repo_dir), commit, path / "src")
                source.create()
            except GitError as exc:
                raise EnvBuildError(f"checking out {commit[:12]} failed: {exc}") from None
            env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
                   "MONKEYS_BUILD": str(path), "MONKEYS_INSTANCE": json.dumps(instance), "PIP_NO_INPUT": "1"}
            env.pop("PYTHONHOME", None)
            for command in spec.install:
                log.write(f"$ {command}\n")
                log.flush()
                done = subprocess.run(["bash", "-c", command], cwd=source.path, env=env, stdout=log,
                                      stderr=subprocess.STDOUT)
                if done.returncode != 0:
                    raise EnvBuildError(f"`{command}` failed (exit {done.returncode}): {_tail(log_path)}")
        python = venv / "bin" / "python"
        probe = subprocess.run([str(python), "-c", "import json, sys; print(json.dumps([sys.prefix, "
                                "sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sys.path, "
                                "sys.version.split()[0]]))"],
                               capture_output=True, text=True, cwd="/")
        if probe.returncode != 0:
            raise EnvBuildError(f"the environment's python does not start: {probe.stderr.strip()[-300:]}")
        *paths, version = json.loads(probe.stdout)
        readable = [p for p in dict.fromkeys(paths) if p and os.path.exists(p)]
        readable.append(str(path))  # the venv, and the source checkout an editable install points at
        (path / _READY).write_text(json.dumps({"python": str(python), "readable": readable, "version": version,
                                               "recipe": spec.source}))


def _tail(log_path: Path, lines: int = 6) -> str:
    text = log_path.read_text(errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-lines:])[-600:]


def _requirements() -> None:
    """`python -m monkeys.swe.env requirements`: the harness's requirements for $MONKEYS_INSTANCE."""
    from swebench.harness.test_spec.python import get_requirements  # type: ignore[import-not-found]

    print(get_requirements(json.loads(os.environ["MONKEYS_INSTANCE"])))


if __name__ == "__main__" and sys.argv[1:] == ["requirements"]:
    _requirements()
