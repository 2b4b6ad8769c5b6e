"""What users behind each validating resolver get: rcode, AD bit, Extended DNS Error, latency."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

import dns.flags
import dns.rcode

from toolkit.collect.aio_transport import AioTransport
from toolkit.collect.plan import NAME_TYPES
from toolkit.collect.transport import Clock, Exchange, TransportConfig, ede, send
from toolkit.errors import InputError


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 address, as given (stripped). Raises ValueError saying what was found."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not an IPv4 or IPv6 address") from None


@dataclass(frozen=True)
class ResolverSpec:
    """A validating resolver to ask: a label and an address (port 53 unless given)."""

    name: str
    address: str
    port: int = 53

    @classmethod
    def parse(cls, text: str) -> ResolverSpec:
        """Parse ``NAME=ADDR[@PORT]`` (e.g. ``unbound=127.53.0.53@53``).

        Raises InputError (naming the option) when the text is not of that form."""
        name, sep, rest = text.partition("=")
        addr, _, port = rest.partition("@")
        if not sep or not name or not addr:
            raise InputError("--resolver", f"expected NAME=ADDR[@PORT], got {text!r}")
        try:
            port_no = int(port) if port else 53
        except ValueError:
            raise InputError("--resolver", f"port in {text!r} is not a number") from None
        if not 0 < port_no < 65536:
            raise InputError("--resolver", f"port in {text!r} is out of range")
        try:
            address = ip_address(addr)
        except ValueError as exc:
            raise InputError("--resolver", f"in {text!r}: ADDR {exc}") from None
        return cls(name.strip(), address, port_no)


def system_resolvers() -> list[ResolverSpec]:
    """The host's configured resolvers (``/etc/resolv.conf``), named ``system1``, ``system2``,
    ...; none when the host has no resolver configuration."""
    import dns.resolver

    try:
        system = dns.resolver.Resolver().nameservers
    except dns.resolver.NoResolverConfiguration:
        system = []
    return [ResolverSpec(f"system{i + 1}", str(a)) for i, a in enumerate(system)]


def resolver_status(rcode: str | None, ad: bool | None) -> str:
    """The zone's status as a validating resolver shows it.

    NOERROR/NXDOMAIN with AD: secure; without AD: insecure; SERVFAIL: bogus (what a validating
    resolver answers for data that fails validation — the EDE code, where given, says more);
    no answer or any other rcode: indeterminate.
    """
    if rcode in ("NOERROR", "NXDOMAIN"):
        return "secure" if ad else "insecure"
    if rcode == "SERVFAIL":
        return "bogus"
    return "indeterminate"


class ResolverRow(TypedDict):
    """A row of the ``resolver_checks`` frame as a resolver's answer gives it (the collector
    adds the ``vantage``): :data:`toolkit.schemas.RESOLVER_CHECKS`."""

    zone: str
    resolver: str
    address: str
    port: int
    rcode: str | None
    ad: bool | None
    ede_code: int | None
    ede_text: str | None
    latency_ms: float | None
    error: str | None
    resolver_status: str
    queried_at: datetime


class NameResolverRow(ResolverRow):
    """A row of the ``name_resolvers`` frame before its ``vantage``:
    :data:`toolkit.schemas.NAME_RESOLVERS`."""

    name: str
    qtype: str


class VantageResolverRow(ResolverRow):
    """A ``resolver_checks`` row with the vantage point that asked."""

    vantage: str | None


def check_resolver(
    zone: str, spec: ResolverSpec, *, clock: Clock, transport: TransportConfig
) -> ResolverRow:
    """Ask ``spec`` for ``zone``'s SOA (RD, DO and AD set); a row of ``resolver_checks``."""
    ex = send(
        zone + ".",
        "SOA",
        spec.address,
        clock=clock,
        config=transport,
        recursion=True,
        port=spec.port,
    )
    return resolver_row(zone, spec, ex)


async def check_resolver_async(
    zone: str, spec: ResolverSpec, *, clock: Clock, transport: AioTransport
) -> ResolverRow:
    """:func:`check_resolver` through the asynchronous sender."""
    ex = await transport.send(
        zone + ".", "SOA", spec.address, clock=clock, recursion=True, port=spec.port
    )
    return resolver_row(zone, spec, ex)


def check_names_resolver(
    zone: str, names: Sequence[str], spec: ResolverSpec, *, clock: Clock, transport: TransportConfig
) -> list[NameResolverRow]:
    """Ask ``spec`` each listed name of ``zone`` (absolute, no trailing dot) with every type of
    :data:`toolkit.collect.plan.NAME_TYPES` (RD, DO and AD set); rows of ``name_resolvers``."""
    rows: list[NameResolverRow] = []
    for name in names:
        for qtype in NAME_TYPES:
            ex = send(
                name + ".",
                qtype,
                spec.address,
                clock=clock,
                config=transport,
                recursion=True,
                port=spec.port,
            )
            rows.append(name_resolver_row(zone, name, qtype, spec, ex))
    return rows


async def check_names_resolver_async(
    zone: str, names: Sequence[str], spec: ResolverSpec, *, clock: Clock, transport: AioTransport
) -> list[NameResolverRow]:
    """:func:`check_names_resolver` through the asynchronous sender: the questions go out
    together (through the sender's caps), the rows come back in the same order."""

    async def one(name: str, qtype: str) -> NameResolverRow:
        ex = await transport.send(
            name + ".", qtype, spec.address, clock=clock, recursion=True, port=spec.port
        )
        return name_resolver_row(zone, name, qtype, spec, ex)

    return list(await asyncio.gather(*(one(n, t) for n in names for t in NAME_TYPES)))


def name_resolver_row(
    zone: str, name: str, qtype: str, spec: ResolverSpec, ex: Exchange
) -> NameResolverRow:
    """The ``name_resolvers`` row of a resolver's answer about a listed name. Pure."""
    return {**resolver_row(zone, spec, ex), "name": name, "qtype": qtype}


def resolver_row(zone: str, spec: ResolverSpec, ex: Exchange) -> ResolverRow:
    """The ``resolver_checks`` row of a resolver's answer about ``zone``. Pure."""
    r = ex.response
    rcode = dns.rcode.to_text(r.rcode()) if r is not None else None
    ad = bool(r.flags & dns.flags.AD) if r is not None else None
    code, text = ede(r)
    return {
        "zone": zone,
        "resolver": spec.name,
        "address": spec.address,
        "port": spec.port,
        "rcode": rcode,
        "ad": ad,
        "ede_code": code,
        "ede_text": text,
        "latency_ms": ex.latency_ms,
        "error": ex.error,
        "resolver_status": resolver_status(rcode, ad),
        "queried_at": ex.queried_at,
    }


VANTAGE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def check_vantage(name: str) -> str:
    """``name`` if it can name a vantage point (letters, digits, ``_.-``, at most 63), else
    ValueError saying so. It becomes a Dask resource name (``vantage-NAME``) and a report cell."""
    if not VANTAGE_RE.fullmatch(name):
        raise ValueError(
            f"vantage {name!r}: expected 1-63 letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit)"
        )
    return name


def check_resolvers(
    zones: Sequence[str],
    specs: Sequence[ResolverSpec],
    *,
    transport: TransportConfig,
    now: datetime,
    vantage: str | None = None,
    in_flight: int = 256,
) -> list[VantageResolverRow]:
    """Ask every resolver of ``specs`` about every zone of ``zones`` (``in_flight`` questions
    at once, through the asynchronous sender) and return the ``resolver_checks`` rows, zone by
    zone in the given order, each tagged with ``vantage``. Used where only the resolvers'
    view is wanted, e.g. from a second vantage point of a cluster."""

    async def run() -> list[VantageResolverRow]:
        clock = Clock(now)
        gate = asyncio.Semaphore(max(1, in_flight))
        async with AioTransport(transport) as sender:

            async def one(zone: str, spec: ResolverSpec) -> VantageResolverRow:
                async with gate:
                    row = await check_resolver_async(zone, spec, clock=clock, transport=sender)
                return {**row, "vantage": vantage}

            return list(await asyncio.gather(*(one(z, spec) for z in zones for spec in specs)))

    return asyncio.run(run())
