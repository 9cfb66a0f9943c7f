"""`monkeys run --ray local|ADDRESS`: verification (and in-process sampling) on the actors of a Ray cluster.

`attach` is what the pipeline calls: it connects to Ray (`local` starts an instance on this machine, an
address joins a cluster) and returns stand-ins for the sampler and verifier with the same protocols.
The driver process keeps everything else (the problems, the schedule, the store writer, the report), so a
run's store, resume and report are exactly as on one machine; killing the driver is resumed as ever.

- Verification: one actor per node (or per N cores), each building the verifier from (name, options) so it
  runs programs in a sandbox pool on its own node, fed in batches (`RayVerifier`).
- Sampling: in-process engines (the embedded `local` model) get one actor per model replica (`RaySampler`);
  server backends are returned unchanged: their HTTP requests already spread over the servers.
- Faults: work lost with an actor or node is sent again elsewhere and a replacement actor is started when
  the cluster has room; the driver stores each sample and verdict once.
"""

from __future__ import annotations

from typing import Any

from monkeys.config import RunConfig
from monkeys.core import Sampler, Verifier
from monkeys.distributed._cluster import acquire, alive_nodes, release
from monkeys.distributed._sample import RaySampler
from monkeys.distributed._verify import RayVerifier

__all__ = ["IN_PROCESS_SAMPLERS", "RaySampler", "RayVerifier", "acquire", "alive_nodes", "attach", "release"]

# Samplers that run the model inside the process (fanned out as replicas); any other stays in the driver.
IN_PROCESS_SAMPLERS = frozenset({"local"})


def _sampler_options(config: RunConfig) -> dict[str, Any]:
    """The options the pipeline built the sampler with (`build_sampler`), for a replica to build it again."""
    options = dict(config.sampler_options)
    if config.model is not None:
        options["model"] = config.model
    if config.base_url is not None:
        options["base_url"] = config.base_url
    return options


def in_process(config: RunConfig, sampler: Sampler) -> bool:
    """Is `sampler` an in-process engine built from the config (not a stand-in for a complete run)?"""
    if config.sampler not in IN_PROCESS_SAMPLERS and not getattr(sampler, "in_process", False):
        return False
    from monkeys.registry import get_plugin

    factory = get_plugin("sampler", config.sampler).factory
    return not isinstance(factory, type) or isinstance(sampler, factory)


def attach(config: RunConfig, vname: str, sampler: Sampler, verifier: Verifier, *,
           replicas: int | None = None, cores_per_actor: int | None = None) -> tuple[Sampler, Verifier]:
    """(sampler, verifier) for a run on the Ray cluster `config.ray`; the caller closes both, and the
    originals it passed in (which this leaves open). `replicas`: model replicas of an in-process sampler
    (default one per node); `cores_per_actor`: one verification actor per that many cores of a node
    (default one per node, running as many samples at once as the node has cores)."""
    address = config.ray or "local"
    acquire(address)  # held while the stand-ins are built: a failure between them does not restart Ray
    try:
        remote_verifier = RayVerifier(vname, dict(config.verifier_options), address,
                                      cores_per_actor=cores_per_actor)
        try:
            if in_process(config, sampler):
                threads = config.sampler_options.get("threads", 1)
                new_sampler: Sampler = RaySampler(
                    config.sampler, _sampler_options(config), address, model_name=sampler.model_name,
                    redraw_whole_batch=sampler.redraw_whole_batch, replicas=replicas,
                    cpus_per_replica=float(threads or 1))
            else:
                new_sampler = sampler
        except BaseException:
            remote_verifier.close()
            raise
    finally:
        release()
    return new_sampler, remote_verifier
