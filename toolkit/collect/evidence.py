"""Evidence rows for the audit checks, drawn from one zone's probe results. Pure.

:func:`zone_evidence_rows` turns a :class:`~toolkit.collect.walk.ZoneEvidence` (every probe of
the zone's plan and its exchange) into the rows of the evidence frames of
:mod:`toolkit.schemas`: ``nameservers`` (what each server answered), ``dnskeys`` (each key
each server publishes), ``signatures`` (each RRSIG's status, per server and RRset),
``ds_matches`` (which DS points at which key), ``cds`` (CDS/CDNSKEY and what they match) and
``denial`` (each denial-of-existence proof) and ``names`` (each listed name's answers and
their validation, :mod:`toolkit.collect.names`). Times come from the exchanges (``now`` of each
answer); nothing here does I/O or reads the clock.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.DNSKEY import DNSKEY

from toolkit.collect.denial import check_denial
from toolkit.collect.names import judge_name
from toolkit.collect.plan import Server
from toolkit.collect.sigstatus import (
    REVOKE,
    SEP,
    ZONE_KEY,
    SigStatus,
    _form,
    judge_signatures,
    key_tag,
    make_ds,
    name_text,
)
from toolkit.collect.transport import find_rrset
from toolkit.collect.validate import sig_time
from toolkit.collect.walk import ProbeResult, ZoneEvidence

VERIFIABLE_DIGESTS = (1, 2, 4)  # SHA-1, SHA-256, SHA-384
_EVIDENCE = ("nameservers", "dnskeys", "signatures", "ds_matches", "cds", "denial", "names")


def zone_text(name: dns.name.Name) -> str:
    """A zone name as the frames write it: no trailing dot, "." for the root (once per name
    object, see :func:`toolkit.collect.sigstatus.name_text`)."""
    return _form(name, _zone_text)


def _zone_text(name: dns.name.Name) -> str:
    return "." if name == dns.name.root else name.to_text(omit_final_dot=True)


def _authoritative(r: dns.message.Message | None) -> TypeGuard[dns.message.Message]:
    """Whether ``r`` is an authoritative NOERROR answer (then, to the type checker, not None)."""
    return r is not None and r.rcode() == dns.rcode.NOERROR and bool(r.flags & dns.flags.AA)


def key_bits(key: DNSKEY) -> int | None:
    """Size of a DNSKEY's public key in bits (RSA modulus; curve size; None when unknown)."""
    alg = int(key.algorithm)
    raw = key.key
    if alg in (1, 5, 7, 8, 10):
        if not raw:
            return None
        if raw[0] == 0:
            offset, exp_len = 3, int.from_bytes(raw[1:3], "big")
        else:
            offset, exp_len = 1, raw[0]
        modulus = raw[offset + exp_len :].lstrip(b"\0")
        return len(modulus) * 8 - (8 - modulus[0].bit_length()) if modulus else None
    return {13: 256, 14: 384, 15: 256, 16: 456, 12: 256}.get(alg)


def _key_text(k: DNSKEY) -> str:
    return f"{key_tag(k)}/{int(k.algorithm)}/{k.flags}"


def _ds_fields(rd: Any) -> tuple[int, int, int, bytes]:
    return (rd.key_tag, int(rd.algorithm), int(rd.digest_type), rd.digest)


def _digest_matches(zone: dns.name.Name, key: DNSKEY, ds: Any) -> bool | None:
    """Whether ``ds`` (a DS or CDS) is ``key``'s digest; None for a digest type not computed."""
    if int(ds.digest_type) not in VERIFIABLE_DIGESTS:
        return None
    if ds.key_tag != key_tag(key) or ds.algorithm != key.algorithm:
        return False
    made = make_ds(zone, key, ds.digest_type, policy=dns.dnssec.allow_all_policy)
    return _ds_fields(made) == _ds_fields(ds)


class _Rows:
    """Row lists of the evidence frames for one zone."""

    def __init__(self, ev: ZoneEvidence) -> None:
        self.ev = ev
        self.zone = zone_text(ev.name)
        self.out: dict[str, list[dict[str, Any]]] = {name: [] for name in _EVIDENCE}

    def sig_rows(
        self,
        side: str,
        result: ProbeResult,
        rrset: dns.rrset.RRset,
        sigs: dns.rrset.RRset | None,
        keys: dns.rrset.RRset | None,
        signer: dns.name.Name,
    ) -> list[SigStatus]:
        ex = result.exchange
        assert ex is not None
        statuses = judge_signatures(rrset, sigs, keys, signer, ex.queried_at)
        for st in statuses:
            sig = st.rrsig
            row: dict[str, Any] = {
                "zone": self.zone,
                "side": side,
                "server": ex.server,
                "server_name": ex.server_name,
                "owner": name_text(rrset.name),
                "covered_type": dns.rdatatype.to_text(rrset.rdtype),
                "key_tag": st.key_tag,
                "algorithm": st.algorithm,
                "rrset_ttl": rrset.ttl,
                "status": st.status,
                "detail": st.detail or None,
                "queried_at": ex.queried_at,
            }
            if sig is not None:
                expiration = sig_time(sig.expiration)
                row |= {
                    "signer": name_text(sig.signer),
                    "inception": sig_time(sig.inception),
                    "expiration": expiration,
                    "original_ttl": sig.original_ttl,
                    "rrsig_ttl": sigs.ttl if sigs is not None else None,
                    "days_left": round((expiration - ex.queried_at).total_seconds() / 86400, 3),
                }
            self.out["signatures"].append(row)
        return statuses


def zone_evidence_rows(
    ev: ZoneEvidence, parent: ZoneEvidence | None
) -> dict[str, list[dict[str, Any]]]:
    """Rows of the six evidence frames for zone ``ev`` (``parent``: its parent's evidence,
    whose keys sign the DS). A zone that is not a zone cut (no plan) gives no rows."""
    rows = _Rows(ev)
    if ev.plan is None:
        return rows.out
    parent_keys = _parent_keys(parent)
    for server in _servers(ev, "parent"):
        _parent_server(rows, server, parent_keys)
    child_keys: list[DNSKEY] = []
    signers: set[tuple[int, int]] = set()  # (key tag, algorithm) with a valid DNSKEY signature
    per_server = []
    for server in _servers(ev, "child"):
        keys, statuses = _child_server(rows, server)
        per_server.append((server, keys, statuses))
        for k in keys or []:
            if k not in child_keys:
                child_keys.append(k)
        signers |= {
            (s.key_tag, s.algorithm)
            for s in statuses.get("DNSKEY", [])
            if s.status in ("valid", "revoked_key")
            and s.key_tag is not None
            and s.algorithm is not None  # always set with a key tag: both come from the RRSIG
        }
    ds_set = ev.parent_data.ds if ev.parent_data is not None else None
    _ds_rows(rows, ds_set, child_keys, signers)
    for server, keys, statuses in per_server:
        _key_rows(rows, server, keys, statuses, ds_set)
        _cds_rows(rows, server, keys, statuses, ds_set)
    _name_rows(rows)
    return rows.out


def _name_rows(rows: _Rows) -> None:
    """A ``names`` row per listed-name probe, in plan order (a probe skipped because its
    server failed the gate is a row too: indeterminate, not asked)."""
    ev = rows.ev
    for r in ev.results:
        if r.probe.purpose != "name":
            continue
        ex = r.exchange
        error = "not asked: the server did not answer the apex SOA with authority"
        if ex is not None:
            error = ex.error or "no usable answer"
        judged = judge_name(
            ev.name,
            r.probe.qname,
            r.probe.qtype,
            r.response,
            ev.verdict,
            ex.queried_at if ex is not None else ev.queried_at,
            error=error,
        )
        rows.out["names"].append(
            {
                "zone": rows.zone,
                "name": zone_text(r.probe.qname),
                "qtype": r.probe.qtype,
                "server": r.probe.server[1],
                "server_name": r.probe.server[0],
                "rcode": ex.rcode if ex is not None else None,
                "answer": judged.answer,
                "status": judged.status,
                "reason": judged.reason,
                "ttl": judged.ttl,
                "rdata": judged.rdata,
                "queried_at": ex.queried_at if ex is not None else None,
            }
        )


def _parent_keys(parent: ZoneEvidence | None) -> dns.rrset.RRset | None:
    if parent is None:
        return None
    if parent.verdict.keys is not None:
        return parent.verdict.keys
    return next((c.dnskey for c in parent.children if c.dnskey is not None), None)


def _servers(ev: ZoneEvidence, side: str) -> list[tuple[Server, dict[str, ProbeResult]]]:
    """Per server of one side, in plan order: its results by qtype."""
    by_server: dict[Server, dict[str, ProbeResult]] = {}
    for r in ev.results:
        if r.probe.side == side and r.probe.purpose != "name":
            key = TCP_KEY if r.probe.tcp else r.probe.qtype
            by_server.setdefault(r.probe.server, {})[key] = r
    return list(by_server.items())


TCP_KEY = "tcp"
"""Key of the TCP probe among a server's results (its qtype is the UDP gate's)."""


def _size_columns(results: dict[str, ProbeResult], asked: str) -> dict[str, Any]:
    """``answer_bytes`` (the answer to ``asked``), ``largest_bytes`` and ``largest_question``
    of one server's results: sizes on the wire of each probe's last exchange (the TCP one
    when the UDP answer was truncated)."""
    out: dict[str, Any] = {}
    r = results.get(asked)
    if r is not None and r.exchange is not None:
        out["answer_bytes"] = r.exchange.size
    largest: tuple[int, ProbeResult] | None = None  # the first of the largest
    for r in results.values():
        size = r.exchange.size if r.exchange is not None else None
        if size is not None and (largest is None or size > largest[0]):
            largest = (size, r)
    if largest is not None:
        size, r = largest
        out["largest_bytes"] = size
        out["largest_question"] = f"{name_text(r.probe.qname)} {r.probe.qtype}"
    return out


def _transport_columns(results: dict[str, ProbeResult]) -> dict[str, Any]:
    """``tcp_answered``/``tcp_error`` (the TCP probe) and ``edns_opt``/``do_rrsigs`` (the
    apex answers to queries with EDNS and DO) of one zone server's results."""
    out: dict[str, Any] = {}
    tcp = results.get(TCP_KEY)
    if tcp is not None and tcp.exchange is not None:
        ex = tcp.exchange
        out["tcp_answered"] = _authoritative(ex.response) and any(
            rr.rdtype == dns.rdatatype.SOA for rr in ex.response.answer
        )
        if not out["tcp_answered"]:
            out["tcp_error"] = ex.error or ex.rcode
    gate = results.get("SOA")
    if gate is not None and gate.response is not None:
        out["edns_opt"] = gate.response.edns >= 0
    carried = []
    for qtype in ("SOA", "DNSKEY"):
        r = results.get(qtype)
        if r is None or not _authoritative(r.response):
            continue
        rdtype = dns.rdatatype.from_text(qtype)
        if find_rrset(r.response.answer, r.probe.qname, rdtype) is None:
            continue
        carried.append(find_rrset(r.response.answer, r.probe.qname, dns.rdatatype.RRSIG, rdtype))
    if carried:  # a server that ignores DO strips them all; one missing RRSIG is the zone's
        out["do_rrsigs"] = any(sig is not None for sig in carried)
    return out


def _parent_server(
    rows: _Rows,
    server: tuple[Server, dict[str, ProbeResult]],
    parent_keys: dns.rrset.RRset | None,
) -> None:
    (name, address), results = server
    ds_result, ns_result = results.get("DS"), results.get("NS")
    ds_resp = ds_result.response if ds_result else None
    ns_resp = ns_result.response if ns_result else None
    zone = rows.ev.name
    ds = find_rrset(ds_resp.answer, zone, dns.rdatatype.DS) if ds_resp is not None else None
    ns = None
    if ns_resp is not None:
        ns = find_rrset(ns_resp.authority, zone, dns.rdatatype.NS) or find_rrset(
            ns_resp.answer, zone, dns.rdatatype.NS
        )
    answered = (
        ds_resp is not None
        and ds_resp.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
        and bool(ds_resp.flags & dns.flags.AA)
    )
    ex = ds_result.exchange if ds_result else None
    rows.out["nameservers"].append(
        {
            "zone": rows.zone,
            "side": "parent",
            "server": address,
            "server_name": name,
            "answered": answered,
            "rcode": ex.rcode if ex else None,
            "error": ex.error if ex else None,
            "ds_set": ";".join(sorted(rd.to_text() for rd in ds)) if ds is not None else None,
            "ns_set": _ns_text(ns),
            "queried_at": ex.queried_at if ex else None,
        }
        | _size_columns(results, "DS")
    )
    if (
        ds is not None
        and ds_resp is not None
        and ds_result is not None
        and rows.ev.parent is not None
    ):
        sigs = find_rrset(ds_resp.answer, zone, dns.rdatatype.RRSIG, dns.rdatatype.DS)
        rows.sig_rows("parent", ds_result, ds, sigs, parent_keys, rows.ev.parent)


def _ns_text(ns: dns.rrset.RRset | None) -> str | None:
    if ns is None:
        return None
    return ";".join(sorted(name_text(rd.target).lower() for rd in ns))


def _child_server(
    rows: _Rows, server: tuple[Server, dict[str, ProbeResult]]
) -> tuple[dns.rrset.RRset | None, dict[str, list[SigStatus]]]:
    """The nameservers, signatures and denial rows of one zone server; returns its DNSKEY
    RRset (None without an authoritative one) and its signature statuses by covered type."""
    (name, address), results = server
    zone = rows.ev.name
    gate = results.get("SOA")
    ex = gate.exchange if gate else None
    answers: dict[str, tuple[dns.rrset.RRset | None, dns.rrset.RRset | None]] = {}
    r: ProbeResult | None
    for qtype, r in results.items():
        if r.probe.purpose == "apex" and _authoritative(r.response):
            rdtype = dns.rdatatype.from_text(qtype)
            answers[qtype] = (
                find_rrset(r.response.answer, zone, rdtype),
                find_rrset(r.response.answer, zone, dns.rdatatype.RRSIG, rdtype),
            )
    soa = answers.get("SOA", (None, None))[0]
    keys = answers.get("DNSKEY", (None, None))[0]
    ns = answers.get("NS", (None, None))[0]
    rows.out["nameservers"].append(
        {
            "zone": rows.zone,
            "side": "child",
            "server": address,
            "server_name": name,
            "answered": soa is not None,
            "rcode": ex.rcode if ex else None,
            "error": ex.error if ex else None,
            "soa_serial": soa[0].serial if soa is not None else None,
            "soa_expire": soa[0].expire if soa is not None else None,
            "dnskey_set": ";".join(sorted(_key_text(k) for k in keys)) if keys else None,
            "ns_set": _ns_text(ns),
            "queried_at": ex.queried_at if ex else None,
        }
        | _size_columns(results, "DNSKEY")
        | _transport_columns(results)
    )
    statuses: dict[str, list[SigStatus]] = {}
    if soa is None:
        return None, statuses
    for qtype, (rrset, sigs) in answers.items():
        if rrset is not None and (keys is not None or sigs is not None):
            statuses[qtype] = rows.sig_rows("child", results[qtype], rrset, sigs, keys, zone)
    param = _nsec3param_text(results.get("NSEC3PARAM"), answers)
    for qtype in ("A", "TYPE65280"):
        r = results.get(qtype)
        if r is not None and r.response is not None and r.probe.purpose != "apex":
            _denial_rows(rows, r, keys, param)
    return keys, statuses


def _nsec3param_text(
    result: ProbeResult | None,
    answers: dict[str, tuple[dns.rrset.RRset | None, dns.rrset.RRset | None]],
) -> str | None:
    """The server's apex NSEC3PARAM records in zone-file text, sorted and ``;``-joined; ""
    when its authoritative answer holds none; None when it gave no authoritative answer."""
    if result is None or "NSEC3PARAM" not in answers:
        return None
    rrset = answers["NSEC3PARAM"][0]
    return ";".join(sorted(rd.to_text() for rd in rrset)) if rrset is not None else ""


def _denial_rows(
    rows: _Rows, r: ProbeResult, keys: dns.rrset.RRset | None, nsec3param: str | None
) -> None:
    ex, resp, zone = r.exchange, r.response, rows.ev.name
    assert ex is not None and resp is not None
    qtype = dns.rdatatype.from_text(r.probe.qtype)
    check = check_denial(zone, r.probe.qname, qtype, resp, keys, ex.queried_at)
    rows.out["denial"].append(
        {
            "zone": rows.zone,
            "server": ex.server,
            "server_name": ex.server_name,
            "qname": name_text(r.probe.qname),
            "qtype": r.probe.qtype,
            "purpose": r.probe.purpose,
            "rcode": ex.rcode,
            "kind": check.kind,
            "iterations": check.iterations,
            "salt": check.salt,
            "opt_out": check.opt_out,
            "proof": check.proof,
            "why": check.why,
            "queried_at": ex.queried_at,
            "nsec3param": nsec3param,
            "wildcard": check.wildcard,
        }
    )
    if keys is None:
        return
    for rrset in resp.authority:
        if rrset.rdtype in (dns.rdatatype.NSEC, dns.rdatatype.NSEC3):
            sigs = find_rrset(resp.authority, rrset.name, dns.rdatatype.RRSIG, rrset.rdtype)
            rows.sig_rows("child", r, rrset, sigs, keys, zone)


def _ds_rows(
    rows: _Rows,
    ds_set: dns.rrset.RRset | None,
    keys: list[DNSKEY],
    signers: set[tuple[int, int]],
) -> None:
    ev = rows.ev
    if ds_set is None or ev.parent_server is None:
        return
    for ds in ds_set:
        candidates = [k for k in keys if key_tag(k) == ds.key_tag and k.algorithm == ds.algorithm]
        verdicts = [_digest_matches(ev.name, k, ds) for k in candidates]
        match = next((k for k, v in zip(candidates, verdicts, strict=True) if v), None)
        key = match or (candidates[0] if candidates else None)
        verifies = None if int(ds.digest_type) not in VERIFIABLE_DIGESTS else bool(match)
        rows.out["ds_matches"].append(
            {
                "zone": rows.zone,
                "parent": zone_text(ev.parent) if ev.parent is not None else None,
                "server": ev.parent_server[1],
                "server_name": ev.parent_server[0],
                "key_tag": ds.key_tag,
                "algorithm": int(ds.algorithm),
                "digest_type": int(ds.digest_type),
                "digest": ds.digest.hex(),
                "matches_key_tag": bool(candidates),
                "digest_verifies": verifies,
                "key_flags": key.flags if key is not None else None,
                "key_has_sep": bool(key.flags & SEP) if key is not None else None,
                "key_revoked": bool(key.flags & REVOKE) if key is not None else None,
                "key_signs_dnskey": (
                    (ds.key_tag, int(ds.algorithm)) in signers if key is not None else None
                ),
                "queried_at": ev.queried_at,
            }
        )


def _valid_signers(statuses: list[SigStatus]) -> set[tuple[int, int]]:
    return {
        (s.key_tag, int(s.algorithm))
        for s in statuses
        if s.status == "valid" and s.key_tag is not None and s.algorithm is not None
    }


def _key_rows(
    rows: _Rows,
    server: tuple[Server, dict[str, ProbeResult]],
    keys: dns.rrset.RRset | None,
    statuses: dict[str, list[SigStatus]],
    ds_set: dns.rrset.RRset | None,
) -> None:
    if keys is None:
        return
    (name, address), results = server
    dnskey_exchange = results["DNSKEY"].exchange
    assert dnskey_exchange is not None  # keys is the answer of this exchange
    at = dnskey_exchange.queried_at
    for k in keys:
        tag, alg = key_tag(k), int(k.algorithm)
        signs = sorted(
            qtype
            for qtype, sts in statuses.items()
            if any(
                s.key_tag == tag and s.algorithm == alg and s.status in ("valid", "revoked_key")
                for s in sts
            )
        )
        ds_match = None
        if rows.ev.parent_data is not None and rows.ev.parent_data.answered:
            ds_match = any(_digest_matches(rows.ev.name, k, ds) for ds in ds_set or [])
        rows.out["dnskeys"].append(
            {
                "zone": rows.zone,
                "server": address,
                "server_name": name,
                "key_tag": tag,
                "algorithm": alg,
                "flags": k.flags,
                "protocol": k.protocol,
                "zone_key": bool(k.flags & ZONE_KEY),
                "sep": bool(k.flags & SEP),
                "revoked": bool(k.flags & REVOKE),
                "key_bits": key_bits(k),
                "ttl": keys.ttl,
                "ds_match": ds_match,
                "signs": ";".join(signs),
                "queried_at": at,
            }
        )


def _cds_rows(
    rows: _Rows,
    server: tuple[Server, dict[str, ProbeResult]],
    keys: dns.rrset.RRset | None,
    statuses: dict[str, list[SigStatus]],
    ds_set: dns.rrset.RRset | None,
) -> None:
    (name, address), results = server
    zone = rows.ev.name
    ds_keys = {
        (key_tag(k), int(k.algorithm))
        for k in keys or []
        if any(_digest_matches(zone, k, ds) for ds in ds_set or [])
    }
    for qtype in ("CDS", "CDNSKEY"):
        r = results.get(qtype)
        if r is None or not _authoritative(r.response):
            continue
        assert r.exchange is not None  # an authoritative response came in an exchange
        rdtype = dns.rdatatype.from_text(qtype)
        rrset = find_rrset(r.response.answer, zone, rdtype)
        if rrset is None:
            continue
        signed_by_ds = bool(_valid_signers(statuses.get(qtype, [])) & ds_keys) if ds_set else None
        for rd in rrset:
            rows.out["cds"].append(
                {
                    "zone": rows.zone,
                    "server": address,
                    "server_name": name,
                    "rrtype": qtype,
                    "rdata": rd.to_text(),
                    **_cds_facts(zone, qtype, rd, keys, ds_set),
                    "rrset_size": len(rrset),
                    "signed_by_ds_key": signed_by_ds,
                    "queried_at": r.exchange.queried_at,
                }
            )


def _cds_facts(
    zone: dns.name.Name,
    qtype: str,
    rd: Any,
    keys: dns.rrset.RRset | None,
    ds_set: dns.rrset.RRset | None,
) -> dict[str, Any]:
    """What one CDS or CDNSKEY record is (RFC 7344, RFC 8078 §4 delete form) and matches."""
    is_delete = int(rd.algorithm) == 0
    facts: dict[str, Any] = {"algorithm": int(rd.algorithm), "delete": is_delete}
    if qtype == "CDS":
        facts |= {"key_tag": rd.key_tag, "digest_type": int(rd.digest_type)}
        wellformed = (rd.key_tag, int(rd.digest_type), rd.digest) == (0, 0, b"\0")
    else:
        facts |= {"key_tag": key_tag(rd), "flags": rd.flags}
        wellformed = (rd.flags, rd.protocol, rd.key) == (0, 3, b"\0")
    if is_delete:
        return facts | {"delete_wellformed": wellformed}
    if qtype == "CDS":
        matches_key = any(_digest_matches(zone, k, rd) for k in keys or [])
        in_ds = _ds_fields(rd) in {_ds_fields(d) for d in ds_set or []} if ds_set else False
    else:
        # dnspython's DNSKEY constructor is not annotated
        key = DNSKEY(  # type: ignore[no-untyped-call]
            rd.rdclass, dns.rdatatype.DNSKEY, rd.flags, rd.protocol, rd.algorithm, rd.key
        )
        matches_key = key in list(keys or [])
        in_ds = any(_digest_matches(zone, key, d) for d in ds_set or [])
    return facts | {"matches_dnskey": matches_key, "matches_ds": in_ds}
