"""Checks on how each authoritative server carries DNSSEC answers: over TCP (RFC 7766), within
1232 bytes (DNS Flag Day 2020, RFC 9715), and with EDNS and the DO bit honoured (RFC 6891,
RFC 3225, RFC 4035 §3.1).

They read the ``nameservers`` evidence frame's transport columns (``tcp_answered``,
``tcp_error``, ``edns_opt``, ``do_rrsigs``, ``answer_bytes``, ``largest_bytes``,
``largest_question``), drawn by :mod:`toolkit.collect.evidence` from the probe plan: the apex
SOA asked once more over TCP alone at every zone server address, and every answer's size on
the wire. A run stored before those columns existed has them null, and every check here says
*indeterminate* for it, never pass.
"""

from __future__ import annotations

from collections.abc import Iterator

from toolkit.checks.base import Context, Result, collector
from toolkit.checks.evidence import SIGNED, Evidence, Row, each_zone, flag

CHECKS, check = collector()

MAX_UDP_ANSWER = 1232
"""Bytes an answer should fit in: the EDNS buffer size DNS Flag Day 2020 set as default (an
IPv6 minimum MTU of 1280 less 48 bytes of IPv6 and UDP headers), which RFC 9715 §3.2 takes up
to keep answers from being fragmented."""


def _who(r: Row) -> str:
    name = f" ({r['server_name']})" if r.get("server_name") else ""
    return f"{r['server']}{name}"


def _ref(r: Row, *columns: str) -> str:
    shown = " ".join(f"{c}={'-' if r.get(c) is None else r[c]}" for c in columns)
    return f"nameservers[{r['side']} {r['server']} {shown}]"


@check(
    id="auth_tcp_answers",
    title="Every authoritative server answers over TCP",
    severity="high",
    pillar="technical",
    description="Every address of every authoritative server of the zone that answers over UDP "
    "also answers the apex SOA over TCP, with authority.",
    risk="RFC 7766 §5 makes TCP mandatory for authoritative servers because it is the only way "
    "an answer larger than the resolver's UDP buffer gets through: the server truncates the UDP "
    "answer (TC=1) and the resolver must ask again over TCP. Signed answers are the large ones "
    "(a DNSKEY RRset during a key rollover, with RSA keys, easily passes 1232 bytes), so a "
    "server that refuses TCP leaves validating resolvers without the zone's keys: they fail "
    "over to another server if there is one, or answer SERVFAIL to every user of the zone. "
    "Resolvers behind a network that drops large or fragmented UDP answers rely on TCP for "
    "every DNSSEC answer.",
    remediation="Allow TCP port 53 to every authoritative address (firewalls, load balancers, "
    "anycast front ends, DDoS appliances) and have the server listen on it; RFC 9210 makes TCP "
    "support a requirement of DNS operation. Re-run the collection to confirm.",
    references=("RFC 7766 §5", "RFC 9210 §3", "RFC 1123 §6.1.3.2", "DNS Flag Day 2020"),
    message="{bad} of {total} authoritative server addresses answering over UDP did not answer "
    "over TCP: {who}.",
)
def auth_tcp_answers(ctx: Context) -> Iterator[Result]:
    yield from each_zone(ctx, [], (Evidence.unprobed,), _decide_tcp)


def _decide_tcp(ev: Evidence) -> Result:
    answering = ev.answering()
    asked = [r for r in answering if r.get("tcp_answered") is not None]
    if not asked:
        detail = "the run has no TCP probe of the zone's servers (collected before it existed)"
        return Result(ev.zone, "indeterminate", {"detail": detail}, "nameservers: tcp_answered")
    refs = "; ".join(_ref(r, "tcp_answered", "tcp_error") for r in ev.child())
    bad = [r for r in asked if not flag(r["tcp_answered"])]
    if bad:
        who = ", ".join(f"{_who(r)}: {r.get('tcp_error') or 'no answer'}" for r in bad)
        params = {"bad": len(bad), "total": len(answering), "who": who}
        return Result(ev.zone, "fail", params, refs)
    silent = [r for r in ev.child() if r not in asked]
    if silent:
        detail = (
            f"{len(asked)} address(es) answered over TCP; {len(silent)} did not answer over UDP "
            f"either, so their TCP service is not judged ({', '.join(map(_who, silent))}; see "
            "authoritative_servers_answer)"
        )
        return Result(ev.zone, "indeterminate", {"detail": detail}, refs)
    return Result(ev.zone, "pass", {"detail": f"all {len(asked)} answered over TCP"}, refs)


@check(
    id="dnssec_answers_fit_1232",
    title="DNSSEC answers fit in 1232 bytes",
    severity="low",
    pillar="technical",
    description=f"The zone's DNSKEY answer at every server, its DS answer at every parent "
    f"server, and the largest answer any probe got (all asked with DO) are at most "
    f"{MAX_UDP_ANSWER} bytes on the wire.",
    risk="An answer above 1232 bytes does not fit the UDP buffer most resolvers advertise since "
    "DNS Flag Day 2020: it comes back truncated and the resolver must retry over TCP (a "
    "second round trip, and an outage where TCP is blocked), or, from a resolver advertising "
    "a larger buffer, it is fragmented, and fragments are dropped by many firewalls and are "
    "a vector for cache-poisoning attacks (RFC 9715 §1). Resolvers behind such networks time "
    "out on the zone's keys. Low on its own; with a server that refuses TCP "
    "(auth_tcp_answers) the zone's keys become unreachable.",
    remediation="Shrink the answers: an ECDSA P-256 (13) or Ed25519 (15) key instead of RSA, "
    "one signing algorithm, no more keys published than the rollover needs, a single "
    "CSK instead of KSK+ZSK, and keep the server's EDNS buffer at 1232 bytes. Make sure TCP "
    "is served for what remains large.",
    references=("RFC 9715 §3.2", "DNS Flag Day 2020", "RFC 6781 §3.4", "RFC 8624 §3.1"),
    message="{count} answer(s) exceed {limit} bytes with DO: {what}.",
)
def dnssec_answers_fit_1232(ctx: Context) -> Iterator[Result]:
    yield from each_zone(ctx, ["dnskeys"], SIGNED, _decide_size)


def _decide_size(ev: Evidence) -> Result:
    seen: list[tuple[Row, str, int]] = []  # (row, what, bytes)
    for r in ev.rows("nameservers"):
        asked = "DS at the parent" if r["side"] == "parent" else "DNSKEY"
        if r.get("answer_bytes") is not None:
            seen.append((r, asked, int(r["answer_bytes"])))
        if r.get("largest_bytes") is not None:
            seen.append((r, str(r.get("largest_question") or "?"), int(r["largest_bytes"])))
    if not seen:
        detail = "the run records no answer size (collected before sizes were recorded)"
        return Result(ev.zone, "indeterminate", {"detail": detail}, "nameservers: answer_bytes")
    refs = "; ".join(_ref(r, "answer_bytes", "largest_bytes") for r in ev.rows("nameservers"))
    over: dict[tuple[str, str], int] = {}
    for r, what, size in seen:
        if size > MAX_UDP_ANSWER:
            key = (what, str(r["server"]))
            over[key] = max(size, over.get(key, 0))
    if over:
        what = "; ".join(f"{q} from {s}: {n} bytes" for (q, s), n in sorted(over.items()))
        params = {"count": len(over), "limit": MAX_UDP_ANSWER, "what": what}
        return Result(ev.zone, "fail", params, refs)
    largest = max(size for _, _, size in seen)
    detail = f"largest answer {largest} bytes (limit {MAX_UDP_ANSWER})"
    return Result(ev.zone, "pass", {"detail": detail}, refs)


@check(
    id="edns_do_handled",
    title="EDNS and the DO bit are handled by every server",
    severity="high",
    pillar="technical",
    description="Every address of every authoritative server of the zone answers a query with "
    "EDNS and the DO bit with an OPT record (not FORMERR), and, in a signed zone, with the "
    "RRSIGs of the apex SOA and DNSKEY answers.",
    risk="A server (or a middlebox in front of it) that answers FORMERR to EDNS, strips the OPT "
    "record or drops RRSIGs when DO is set hands validating resolvers answers they cannot "
    "validate: since DNS Flag Day 2019 resolvers no longer work around EDNS-intolerant "
    "servers, and an answer without its RRSIGs from a signed zone is bogus (RFC 4035 §5). "
    "Users whose resolver picks that server get SERVFAIL, intermittently and hard to trace.",
    remediation="Find what sits in front of the server (firewall 'DNS inspection', load "
    "balancer, old software) and let EDNS(0) and the DO bit through, or upgrade the server; "
    "RFC 6891 §7 asks for an OPT record in every answer to a query with one, RFC 3225 §3 for "
    "the DNSSEC records when DO is set. Re-run the collection to confirm.",
    references=("RFC 6891 §6.1.1, §7", "RFC 3225 §3", "RFC 4035 §3.1", "DNS Flag Day 2019"),
    message="{bad} of {total} authoritative server addresses mishandle EDNS or DO: {who}.",
)
def edns_do_handled(ctx: Context) -> Iterator[Result]:
    yield from each_zone(ctx, ["dnskeys"], (), _decide_edns)


def _decide_edns(ev: Evidence) -> Result:
    child = ev.child()
    judged = [r for r in child if r.get("edns_opt") is not None]
    if not judged:
        detail = "no server's answer to a query with EDNS was recorded (none answered, or the "
        detail += "run was collected before EDNS handling was)"
        return Result(ev.zone, "indeterminate", {"detail": detail}, "nameservers: edns_opt")
    refs = "; ".join(_ref(r, "rcode", "edns_opt", "do_rrsigs") for r in child)
    sign_seen = any(flag(r.get("do_rrsigs")) for r in child)
    faults: list[str] = []
    for r in judged:
        if not flag(r["edns_opt"]):
            if r.get("rcode") == "FORMERR":
                faults.append(f"{_who(r)}: FORMERR to a query with EDNS")
            else:
                faults.append(f"{_who(r)}: answer without an OPT record (EDNS stripped)")
        elif r.get("do_rrsigs") is False and sign_seen:
            faults.append(f"{_who(r)}: no RRSIG in its apex answers though DO was set")
    if faults:
        params = {"bad": len(faults), "total": len(child), "who": "; ".join(faults)}
        return Result(ev.zone, "fail", params, refs)
    if ev.signed and not sign_seen:
        detail = (
            "the zone publishes DNSKEYs but no server returned an RRSIG with DO: a server "
            "dropping them cannot be told from a zone without signatures (see the signature "
            "checks)"
        )
        return Result(ev.zone, "indeterminate", {"detail": detail}, refs)
    unjudged = len(child) - len(judged)
    detail = f"{len(judged)} server address(es) answered EDNS with OPT"
    if sign_seen:
        detail += " and returned RRSIGs with DO"
    if unjudged:
        detail += f"; {unjudged} gave no answer to judge (see authoritative_servers_answer)"
        return Result(ev.zone, "indeterminate", {"detail": detail}, refs)
    return Result(ev.zone, "pass", {"detail": detail}, refs)
