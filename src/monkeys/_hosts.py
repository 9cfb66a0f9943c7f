"""Which Host header a local server answers: the defence against DNS rebinding.

A web page the user visits can re-point its own name at 127.0.0.1 and then read, through the user's
browser, whatever a server listening there answers (the same-origin rule sees one origin). A server bound
to a loopback address therefore answers only requests that name a loopback host (`monkeys view`,
`monkeys serve`).
"""

from __future__ import annotations

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def loopback_hosts(bind_host: str) -> frozenset[str] | None:
    """The Host names a viewer bound to `bind_host` answers: for a loopback address only loopback names
    (DNS rebinding: a web page whose name the attacker re-points at 127.0.0.1 would otherwise read every
    sample through the user's browser); None (any) for an address the user chose to expose."""
    if bind_host in LOOPBACK_NAMES or bind_host.startswith("127."):
        return LOOPBACK_NAMES | {bind_host}
    return None


def host_allowed(header: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a request's Host header (`name`, `name:port`, `[v6]:port`) names an allowed host."""
    if allowed is None:
        return True
    if not header:
        return False
    value = header.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return False
    else:
        name, colon, port = value.partition(":")
        if colon and not port.isdigit():
            return False
    return name in allowed
