"""`--ray` on a real two-node local Ray cluster: actors verify as the local verifier does, inside the same
sandbox; a run that loses its worker node mid-run, and one whose driver dies, end with the very store a
single-machine run makes (same samples per (problem, index), same verdicts)."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from monkeys import distributed, pipeline
from monkeys.config import RunConfig
from monkeys.core import Outcome, Problem, Prompt, Sample, Verdict
from monkeys.distributed import RaySampler, RayVerifier
from monkeys.errors import ConfigError
from monkeys.registry import create, verifier_revision
from monkeys.tasks.code_contests import CodeContests

ROOT = Path(__file__).parents[2]
SOLVED = {"1342C": "CODEFORCES/1342_C. Yet Another Counting Problem", "1238B": "CODEFORCES/1238_B. Kill 'Em All",
          "1000A": "CODEFORCES/1000_A. Codehorses T-shirts", "12B": "CODEFORCES/12_B. Correct Solution?"}


def programs() -> list[str]:
    """The four reference solutions, a mutant of each, and a crash: passes, wrong answers, runtime errors."""
    out = []
    for name in SOLVED:
        code = (ROOT / f"tests/cases/code_contests/{name}.py").read_text()
        out += [code, code.replace("+", "-", 1) if "+" in code else code + "\nprint(0)\n"]
    return [*out, "print(1 // 0)\n"]


def _status(value: str) -> str:
    return value.split(" ", 1)[0].rstrip(":,")


class _Events(pipeline._NoProgress):
    """Acts from the k-th verdict the driver stores: `actions[k]()` (remove a node, kill the driver); an
    action that returns False is not done yet and is tried again at the next verdict."""

    def __init__(self, actions: dict[int, Any]) -> None:
        self.actions, self.count = dict(actions), 0

    def verified(self, problem_id: str, verdict: Verdict, newly_solved: bool) -> None:
        self.count += 1
        for k in sorted(k for k in self.actions if k <= self.count):
            if self.actions[k]() is not False:
                del self.actions[k]


class _DriverDied(Exception):
    pass


def _die() -> None:
    raise _DriverDied


def _capture(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """Every (sampler, verifier) pair `attach` hands the pipeline, for the test to inspect afterwards."""
    seen: list[tuple[Any, Any]] = []
    real = distributed.attach

    def attach(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        pair = real(*args, **kwargs)
        seen.append(pair)
        return pair

    monkeypatch.setattr(distributed, "attach", attach)
    return seen


def test_actors_verify_in_the_same_sandbox_as_the_local_verifier(two_nodes: tuple[Any, Any],
                                                                  shared_data: Path) -> None:
    """Also: an actor killed with batches in flight loses none of them, and is replaced on its (live) node."""
    import ray

    cluster, _ = two_nodes
    problems = {p.problem_id: p for p in CodeContests(
        data=str(shared_data / "code_contests/code_contests_sample.jsonl")).load_problems()}
    pairs = [(problems[pid], text) for pid in SOLVED.values() for text in programs()[:4] + programs()[-1:]]
    local = create("verifier", "code-tests")
    remote = RayVerifier("code-tests", {}, cluster.address, replace_after_s=0)
    try:
        assert len({node for node, _ in remote.actors}) == 2  # one actor on each node
        mine, theirs = local.protections(), remote.protections()
        assert {k: _status(v) for k, v in theirs.items()} == {k: _status(v) for k, v in mine.items()}
        assert _status(theirs["seccomp"]) == _status(theirs["landlock"]) == "active"

        def one(verifier: Any, i: int) -> tuple[str, str]:
            problem, text = pairs[i]
            verdict = verifier.verify(problem, Sample(problem.problem_id, i, 0, text))
            return verdict.outcome.value, verdict.reason

        with ThreadPoolExecutor(remote.workers) as pool:
            futures = [pool.submit(one, remote, i) for i in range(len(pairs))]
            wait(futures, return_when=FIRST_COMPLETED)
            ray.kill(remote._actors[0].handle, no_restart=True)  # its batches in flight are sent again
            theirs_verdicts = [f.result() for f in futures]
        assert theirs_verdicts == [one(local, i) for i in range(len(pairs))]
        assert {outcome for outcome, _ in theirs_verdicts} == {"pass", "fail"}
        assert remote.requeued > 0
        deadline = time.monotonic() + 120
        while len(remote.actors) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert remote.replaced >= 1 and len({node for node, _ in remote.actors}) == 2
    finally:
        remote.close()
        local.close()


def test_samples_an_actor_sandbox_failed_on_are_verified_by_another_actor(two_nodes: tuple[Any, Any],
                                                                           shared_data: Path) -> None:
    """An actor being killed can answer its last batch with SandboxError ("cannot start a sandbox worker: peer
    closed the channel", seen once in CI when `ray.kill` raced a batch): that is no verdict. Those samples go
    to another actor, the rest of the batch keeps its verdicts, and the broken actor is dropped."""
    from concurrent.futures import Future

    from monkeys.distributed._verify import _Item
    from monkeys.errors import SandboxError

    cluster, _ = two_nodes
    problem = next(p for p in CodeContests(data=str(shared_data / "code_contests/code_contests_sample.jsonl"))
                   .load_problems() if p.problem_id == SOLVED["1000A"])
    local = create("verifier", "code-tests")
    remote = RayVerifier("code-tests", {}, cluster.address, replace_after_s=0)
    try:
        kept, broken = (_Item(problem, Sample(problem.problem_id, i, 0, text))
                        for i, text in enumerate(programs()[4:6]))
        actor = remote._actors[0]
        with remote._cond:
            actor.in_flight += 1  # as the dispatcher counts a batch it sends
        answered: Future[Any] = Future()
        answered.set_result(([Verdict(Outcome.FAIL, "its own verdict"), SandboxError("cannot start a sandbox worker")],
                             0.1))
        remote._done(actor, [kept, broken], answered)
        assert kept.future.result(timeout=1).reason == "its own verdict"
        again = broken.future.result(timeout=120)  # verified by the other actor
        mine = local.verify(problem, broken.sample)
        assert (again.outcome, again.reason) == (mine.outcome, mine.reason)
        assert remote.requeued == 1 and not actor.alive and broken.tries == 1
    finally:
        remote.close()
        local.close()


def test_a_node_with_another_revision_of_the_verifier_refuses_to_verify(two_nodes: tuple[Any, Any]) -> None:
    """A node whose monkeys judges by other rules (here: the driver is one revision behind the installed
    verifier, as after upgrading only the workers) gives no verdict: the run stops at start-up, saying so."""
    cluster, _ = two_nodes
    installed = verifier_revision("math-answer")
    assert installed is not None
    with pytest.raises(ConfigError, match=rf"has revision {installed.number} of verifier 'math-answer'; the driver"
                                          rf" has revision {installed.number - 1}.*same monkeys version"):
        RayVerifier("math-answer", {}, cluster.address, revision=installed.number - 1)
    same = RayVerifier("math-answer", {}, cluster.address)  # the installed revision: starts and verifies
    try:
        problem = Problem("p", Prompt(text="q"), {"answer": "18", "task": "gsm8k"})
        assert same.verify(problem, Sample("p", 0, 0, "#### 18")).outcome.value == "pass"
    finally:
        same.close()


def _contest_config(shared_data: Path, out: Path, ray: str | None) -> RunConfig:
    fenced = [f"```python\n{p}```" for p in programs()]
    return RunConfig(task="code-contests", data=str(shared_data / "code_contests/code_contests_sample.jsonl"),
                     problems=",".join(SOLVED.values()), sampler="scripted", sampler_options={"responses": fenced},
                     n=10, batch_size=5, out=out, ray=ray)


def test_run_loses_its_worker_node_or_its_driver_and_stores_what_one_machine_does(
        two_nodes: tuple[Any, Any], shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        store_rows: Any) -> None:
    cluster, worker = two_nodes
    pipeline.run(_contest_config(shared_data, tmp_path / "one", None))
    expected = store_rows(tmp_path / "one")
    assert len(expected[1]) == 40
    attached = _capture(monkeypatch)

    # The worker node goes down as its actor is handed a batch (the dispatcher has taken it off the queue):
    # the batch runs again on the head node and the run finishes. Done inside the dispatcher, since on this
    # small workload every batch may be verified before the driver counts its first verdict.
    send, killed = RayVerifier._send, []

    def send_then_lose_the_worker(self: RayVerifier, actor: Any, items: list[Any]) -> None:
        if not killed and actor.node.node_id == worker.node_id:
            killed.append(len(items))
            cluster.remove_node(worker, allow_graceful=False)
        send(self, actor, items)

    monkeypatch.setattr(RayVerifier, "_send", send_then_lose_the_worker)
    summary = pipeline.run(_contest_config(shared_data, tmp_path / "node", cluster.address))
    monkeypatch.setattr(RayVerifier, "_send", send)
    assert killed
    assert summary.samples_verified == 40 and attached[0][1].requeued > 0
    assert store_rows(tmp_path / "node") == expected

    # The driver dies midway; run again, it resumes from the store (on the one node left).
    config = _contest_config(shared_data, tmp_path / "driver", cluster.address)
    with pytest.raises(_DriverDied):
        pipeline.run(config, _Events({8: _die}))
    done_before = len(store_rows(tmp_path / "driver")[1])
    assert 8 <= done_before < 40
    summary = pipeline.run(config)
    assert summary.resumed and summary.samples_verified == 40 - done_before
    assert store_rows(tmp_path / "driver") == expected


@pytest.mark.slow
def test_embedded_model_run_losing_a_node_stores_what_one_machine_does(
        two_nodes: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_rows: Any) -> None:
    """The issue's check: the embedded model (a replica on each node) and code-tests, a node lost mid-run."""
    cluster, worker = two_nodes
    common = dict(task="humaneval", problems="HumanEval/28,HumanEval/29", sampler="local", n=4, batch_size=2,
                  max_tokens=16)
    pipeline.run(RunConfig(**common, out=tmp_path / "one"))
    attached = _capture(monkeypatch)
    kill_node = lambda: cluster.remove_node(worker, allow_graceful=False)  # noqa: E731
    summary = pipeline.run(RunConfig(**common, out=tmp_path / "ray", ray=cluster.address), _Events({1: kill_node}))
    sampler, verifier = attached[0]
    assert isinstance(sampler, RaySampler) and isinstance(verifier, RayVerifier)
    assert summary.samples_drawn == summary.samples_verified == 8
    assert sampler.retried > 0  # calls sent to the lost node's replica were drawn again on the head node's
    assert store_rows(tmp_path / "ray") == store_rows(tmp_path / "one")


def test_cli_ray_local_starts_ray_runs_and_exits(tmp_path: Path, store_rows: Any) -> None:
    """`monkeys run --ray local` as a user runs it: its own Ray instance, the run, a clean exit."""
    import json
    import sqlite3
    import subprocess
    import sys

    pytest.importorskip("ray", reason="monkeys[ray] is not installed")
    responses = ["```python\ndef has_close_elements(numbers, threshold):\n    return False\n```", "no code"]
    out = tmp_path / "run"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "monkeys"), "run", "--task", "humaneval", "--problems", "HumanEval/0",
         "--sampler", "scripted", "--sampler-option", f"responses={json.dumps(responses)}", "-n", "4",
         "--ray", "local", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    samples, verdicts = store_rows(out)
    assert len(samples) == len(verdicts) == 4
    db = sqlite3.connect(out / "monkeys.db")
    try:
        protections = json.loads(db.execute("SELECT value FROM meta WHERE key = 'protections'").fetchone()[0])
    finally:
        db.close()
    assert protections["seccomp"].startswith("active")  # recorded from the actor's sandbox
