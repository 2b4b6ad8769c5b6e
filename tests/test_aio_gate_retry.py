"""The asynchronous walk asks a lost gate probe once more, but only of a server that answers
other questions (a loss), never of one that has not answered at all (dead): unit tests with a
stand-in transport that times out the first apex SOA question to each address."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import dns.name
import dns.zone
from dns_fakes import respond

from toolkit.collect.aio_walk import AsyncWalker
from toolkit.collect.anchors import RootHints, TrustAnchor
from toolkit.collect.plan import plan_zone
from toolkit.collect.transport import Clock, Exchange, TransportConfig

ZONE = dns.zone.from_text(
    """\
$TTL 300
@ SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
@ NS ns2
ns1 A 192.0.2.1
ns2 A 192.0.2.2
""",
    origin="ex.test.",
)
SERVERS = [("ns1.ex.test.", "192.0.2.1"), ("ns2.ex.test.", "192.0.2.2")]


class LosesFirstSoa:
    """Answers from :data:`ZONE`, except that the first SOA question to each address times
    out; ``answered`` says whether the addresses have answered anything in the run."""

    def __init__(self, answered: bool) -> None:
        self.config = TransportConfig()
        self.answered = answered
        self.lost: set[str] = set()
        self.sent: list[tuple[str, str]] = []

    def has_answered(self, address: str) -> bool:
        return self.answered

    async def send(
        self, qname, qtype, server, *, clock, server_name=None, log=None, query=None, tcp_only=False
    ):
        self.sent.append((f"{qtype}/tcp" if tcp_only else qtype, server))
        response, error = respond(ZONE, dns.name.from_text(str(qname)), qtype), None
        if qtype == "SOA" and not tcp_only and server not in self.lost:
            self.lost.add(server)
            response, error = None, "timeout"
        transport = "tcp" if tcp_only else "udp"
        ex = Exchange(
            str(qname), qtype, server, server_name, transport, response, error, 1.0, False,
            clock.now(),
        )  # fmt: skip
        if log is not None:
            log(ex)
        return ex


def execute(answered: bool):
    transport = LosesFirstSoa(answered)
    logged: list[Exchange] = []
    walker = AsyncWalker(
        RootHints((), "none"),
        TrustAnchor(dns.name.root, None, None, "none"),
        clock=Clock(datetime(2026, 12, 6, tzinfo=UTC)),
        transport=transport,  # type: ignore[arg-type]
        log=logged.append,
    )
    plan = plan_zone(
        dns.name.from_text("ex.test."),
        parent=None,
        parent_servers=[],
        zone_servers=SERVERS,
        nx_label="_audit-0000000001",
    )
    results = asyncio.run(walker.execute(plan))
    return plan, results, transport.sent


def test_a_lost_gate_at_a_live_server_is_asked_again_and_the_server_fully_probed():
    plan, results, sent = execute(answered=True)
    assert [r.probe for r in results] == list(plan.probes)  # plan order kept
    assert all(r.exchange is not None and r.exchange.error is None for r in results)
    for _, address in SERVERS:  # the UDP SOA twice (lost, then answered), every other once
        asked = [q for q, a in sent if a == address]
        per_server = [p for p in plan.probes if p.server[1] == address]
        assert asked.count("SOA") == 2 and len(asked) == len(per_server) + 1


def test_a_silent_gate_at_a_server_that_never_answered_is_not_asked_again():
    plan, results, sent = execute(answered=False)
    assert sent == [("SOA", address) for _, address in SERVERS]  # the gates only, once each
    skipped = [r for r in results if not r.probe.gate]
    assert skipped and all(r.exchange is None for r in skipped)
