"""Joining (or starting) the Ray cluster a run fans out to, and what the driver needs to know about its nodes.

One connection per driver process, counted: the verifier and the sampler stand-ins each hold it, and the
last `release()` shuts Ray down only when this process started it (`--ray local`) or joined it here; a
driver that was already connected (a test, a notebook) keeps its connection.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from monkeys.errors import ConfigError, InputWarning
from monkeys.extras import require

# Small on purpose: problems and batches of samples are a few MB at most; Ray's default takes 30% of RAM.
OBJECT_STORE_BYTES = 256 * 2**20

# What a lost actor, worker process or node looks like to the driver: its work is retried elsewhere.
_LOST = ("RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "LocalRayletDiedError")

_lock = threading.Lock()
_users = 0
_owned = False  # this process called ray.init, so the last user shuts Ray down


def ray_module() -> Any:
    """`ray`, imported on first use; a missing extra is one line naming `monkeys[ray]`."""
    require("ray", "ray", what="--ray")
    import ray

    return ray


def acquire(address: str) -> None:
    """Connect this process to Ray: `local` starts an instance on this machine (every core, no dashboard,
    a small object store), anything else joins the cluster at that address (`auto`, `HOST:6379`,
    `ray://HOST:10001`). Already connected: the connection is reused, whatever `address` says."""
    global _users, _owned
    ray = ray_module()
    with _lock:
        if _users == 0 and not ray.is_initialized():
            quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
            try:
                if address == "local":  # Ray's start-up warnings (token auth for a local instance) are noise here
                    quiet["logging_level"] = logging.ERROR
                    ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False,
                             object_store_memory=OBJECT_STORE_BYTES, **quiet)
                    _warn_without_token(ray)
                else:
                    ray.init(address=address, **quiet)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                hint = ("" if address == "local" or os.environ.get("RAY_AUTH_MODE") else
                        "; if the cluster uses token authentication (`ray start` does from Ray 2.59), set"
                        " RAY_AUTH_MODE=token and give this machine its token (`ray get-auth-token` on the head,"
                        " into RAY_AUTH_TOKEN or ~/.ray/auth_token)")
                raise ConfigError(f"--ray {address}: cannot join the Ray cluster: {' '.join(str(exc).split())}"
                                  f"{hint}") from None
            _owned = True
        _users += 1


def _warn_without_token(ray: Any) -> None:
    """A local instance's daemons listen on every network interface, and Ray runs whatever code a client
    sends: without token authentication anyone who reaches this machine can run code as the user while the
    run lasts. Ray 2.60 turns tokens on for a local instance unless RAY_AUTH_MODE says otherwise (an older
    Ray may have none), and its own warning is among those silenced above, so it is said here."""
    import warnings

    mode = os.environ.get("RAY_AUTH_MODE")
    if (mode or "").lower() == "token":
        return
    why = f"RAY_AUTH_MODE={mode}" if mode is not None else f"Ray {getattr(ray, '__version__', '?')} has none"
    warnings.warn(InputWarning(
        f"--ray local: this Ray instance runs without token authentication ({why}) and listens on every network"
        " interface: anyone who can reach this machine can run code as you until the run ends (set"
        " RAY_AUTH_MODE=token, or leave it unset with a Ray that turns tokens on, as 2.60 does)"), stacklevel=3)


def release() -> None:
    """Drop one user; the last one shuts Ray down when this process started or joined it."""
    global _users, _owned
    with _lock:
        _users = max(0, _users - 1)
        if _users == 0 and _owned:
            _owned = False
            ray_module().shutdown()


def is_lost(exc: BaseException) -> bool:
    """A failure of where the work ran (actor, worker, node), not of the work: retry it elsewhere."""
    ray = ray_module()
    kinds = tuple(kind for kind in (getattr(ray.exceptions, name, None) for name in _LOST) if kind is not None)
    return isinstance(exc, kinds)


@dataclass(frozen=True)
class Node:
    node_id: str
    cpus: int
    address: str


def alive_nodes() -> list[Node]:
    """The cluster's live nodes that have CPUs, in a stable order (the head's first as Ray lists them)."""
    out = []
    for node in ray_module().nodes():
        cpus = int(node.get("Resources", {}).get("CPU", 0))
        if node.get("Alive") and cpus > 0:
            out.append(Node(node["NodeID"], cpus, node.get("NodeManagerAddress", "?")))
    return out


def on_node(node_id: str) -> Any:
    """A scheduling strategy that places an actor on that node and nowhere else."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
