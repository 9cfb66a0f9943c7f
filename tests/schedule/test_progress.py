"""The live throughput numbers on the plain (non-terminal) log line: samples/s, tokens/s, backlog, retries,
endpoints up, adaptive round and spend, as the pipeline reports them."""

from __future__ import annotations

import io

from rich.console import Console

from monkeys.cli.run_cmd import RichProgress
from monkeys.core import Completion
from monkeys.pipeline import LiveStats


def test_plain_log_line_carries_the_live_numbers():
    out = io.StringIO()
    display = RichProgress(Console(file=out, force_terminal=False, width=400))
    display.start(total_samples=64, already=0, problems=4, solved=0)
    display.sampled([Completion(i, 0, "x", 3, 10, "stop", 0.0) for i in range(8)])
    display.last_line = -1e9  # a line is due (one every 15 s)
    display.status(LiveStats(planned=40, backlog=5, spend="8 samples, 104 tokens, $0.0100 of $1.00", retries=3,
                             endpoints=(2, 3), rounds=2))
    display.stop()
    line = next(x for x in out.getvalue().splitlines() if x.startswith("sampled 8/40"))
    assert "verified 0/40" in line and "solved 0/4" in line  # the planned total replaced n × problems
    for part in ("samples/s", "tok/s", "backlog 5", "endpoints 2/3 up", "3 retries", "round 2",
                 "spent 8 samples, 104 tokens, $0.0100 of $1.00"):
        assert part in line, part
