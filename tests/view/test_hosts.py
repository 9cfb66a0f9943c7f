"""`_hosts`: which Host headers a server bound to loopback answers (the DNS-rebinding defence)."""

from __future__ import annotations

from monkeys._hosts import host_allowed, loopback_hosts


def test_loopback_binds_answer_loopback_names_only() -> None:
    allowed = loopback_hosts("127.0.0.1")
    assert allowed is not None
    for header in ("127.0.0.1", "127.0.0.1:8765", "localhost:1", "[::1]:8765", "[::1]", "LocalHost"):
        assert host_allowed(header, allowed), header
    for header in (None, "", "evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost:80:81",
                   "localhost:x", "[::1]x", "[::1]:8765@evil", "localhost@evil.example", "127.0.0.2"):
        assert not host_allowed(header, allowed), header


def test_an_address_the_user_exposes_answers_any_name() -> None:
    assert loopback_hosts("0.0.0.0") is None and loopback_hosts("192.168.1.5") is None
    assert host_allowed("anything.example", None)
    assert loopback_hosts("::1") is not None and loopback_hosts("127.0.0.5") == loopback_hosts("127.0.0.5")
    assert host_allowed("127.0.0.5:9", loopback_hosts("127.0.0.5"))
