"""A real two-node Ray cluster on this machine (one CPU each), started once for every test here.

Ray takes ~10 s to start on 2 cores, so the cluster is shared; a test that removes the worker node gets a
fresh one back from `two_nodes` for the next test.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NODE = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
# A removed node is noticed after ~5 s, not Ray's default ~15-30 s (a check still waits 10 s for an answer,
# so a merely busy node is not taken for dead).
HEALTH = {"health_check_period_ms": 1000, "health_check_failure_threshold": 5}


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="monkeys[ray] is not installed")
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False,
                                                                 "_system_config": HEALTH})
    made.add_node(**NODE)
    made.wait_for_nodes()
    ray.init(address=made.address, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


@pytest.fixture
def two_nodes(cluster: Any) -> tuple[Any, Any]:
    """(cluster, its worker node), adding a worker back when an earlier test removed it."""
    import ray

    if not cluster.worker_nodes:
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
    assert sum(1 for n in ray.nodes() if n["Alive"]) == 2
    return cluster, next(iter(cluster.worker_nodes))


@pytest.fixture
def store_rows() -> Any:
    """The reader below (a fixture, not an import: several test folders have a `conftest` module)."""
    return read_store


def read_store(run_dir: Path) -> tuple[dict[tuple[str, int], tuple[int, str]], dict[tuple[str, int], tuple[str, str]]]:
    """(problem, index) -> (seed, text) of every sample, and -> (outcome, reason) of every verdict."""
    db = sqlite3.connect(f"file:{run_dir / 'monkeys.db'}?mode=ro", uri=True)
    try:
        samples = {(p, i): (seed, text) for p, i, seed, text in
                   db.execute("SELECT problem_id, sample_index, seed, text FROM samples")}
        verdicts = {(p, i): (o, r) for p, i, o, r in db.execute(
            "SELECT s.problem_id, s.sample_index, v.outcome, v.reason FROM verdicts v"
            " JOIN samples s USING (sample_id)")}
        return samples, verdicts
    finally:
        db.close()
