"""Documented schemas of every DataFrame the toolkit hands from one stage to the next.

Each frame is a :class:`FrameSchema`: an ordered list of columns with a pandas dtype and a
meaning. ``schema.frame(rows)`` builds a frame with exactly those columns and dtypes;
``schema.check(df)`` raises if a frame does not conform (used when a run is loaded back).
``python -m toolkit.schemas`` prints the schemas as Markdown (the README's data dictionary).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    meaning: str
    #: added after runs were already stored: a stored frame without it is read with nulls
    optional: bool = False


@dataclass(frozen=True)
class FrameSchema:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def empty(self) -> pd.DataFrame:
        """A frame with no rows and the schema's columns and dtypes."""
        return self.frame([])

    def frame(self, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
        """Build a conforming frame from row mappings; missing keys become nulls.

        Raises ValueError when a row carries a key the schema does not know (nothing is
        silently dropped).
        """
        rows = list(rows)
        known = set(self.names)
        for i, row in enumerate(rows):
            extra = set(row) - known
            if extra:
                raise ValueError(f"{self.name} row {i}: unknown column(s) {sorted(extra)}")
        df = pd.DataFrame.from_records(rows, columns=self.names)
        return self.cast(df)

    def cast(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return ``df`` with the schema's column order and dtypes."""
        out = df.reindex(columns=self.names).copy()
        for col in self.columns:
            if col.dtype.startswith("datetime64"):
                out[col.name] = pd.to_datetime(out[col.name], utc=True).astype(col.dtype)
            else:
                out[col.name] = out[col.name].astype(col.dtype)
        return out

    def check(self, df: pd.DataFrame, source: str = "") -> None:
        """Raise ValueError if ``df`` lacks a (non-optional) column of the schema or has an
        unknown one."""
        missing = [c.name for c in self.columns if c.name not in df.columns and not c.optional]
        extra = [n for n in df.columns if n not in self.names]
        if missing or extra:
            where = f" ({source})" if source else ""
            raise ValueError(
                f"frame '{self.name}'{where} does not match its schema: "
                f"missing {missing}, unexpected {extra}"
            )

    def markdown(self) -> str:
        lines = [f"### `{self.name}`", "", self.description, "", "| column | dtype | meaning |"]
        lines.append("|---|---|---|")
        lines += [f"| `{c.name}` | {c.dtype} | {c.meaning} |" for c in self.columns]
        return "\n".join(lines) + "\n"


UTC_TS = "datetime64[ns, UTC]"

INVENTORY = FrameSchema(
    "inventory",
    "One row per zone of the portfolio, as read from `inventory.csv`.",
    (
        Column("zone", "string", "zone name, lower case A-label form, no trailing dot"),
        Column("zone_unicode", "string", "the same name in Unicode (U-label) form, for display"),
        Column("owner", "string", "person or team accountable for the zone (null: none named)"),
        Column("business_unit", "string", "business unit the zone belongs to"),
        Column("risk_tier", "Int64", "1 (most critical) to 3; null when not given"),
        Column("category", "string", "free text category (brand, service, internal, ...)"),
        Column("registrar", "string", "registrar or parent operator that publishes the DS"),
        Column(
            "expected_signed",
            "boolean",
            "whether the organisation intends the zone to be signed (default true)",
        ),
        Column("policy", "string", "name of the signing policy in policy.yaml that applies"),
        Column("last_reviewed", UTC_TS, "when the owner last reviewed the entry (ISO 8601 date)"),
        Column("source_line", "Int64", "line of inventory.csv the row came from (header = 1)"),
        Column(
            "names",
            "string",
            "names beyond the apex to probe, relative A-labels `;`-joined (`@`: the apex); "
            "null: none listed (and in runs before the column)",
            optional=True,
        ),
    ),
)

ZONES = FrameSchema(
    "zones",
    "One row per inventory zone and run: the zone's DNSSEC status as decided by the toolkit's "
    "own validation of the chain of trust.",
    (
        Column("zone", "string", "zone name (A-label, no trailing dot)"),
        Column("zone_unicode", "string", "zone name for display (U-label)"),
        Column("owner", "string", "copied from the inventory"),
        Column("business_unit", "string", "copied from the inventory"),
        Column("risk_tier", "Int64", "copied from the inventory"),
        Column("expected_signed", "boolean", "copied from the inventory"),
        Column("status", "string", "secure | insecure | bogus | indeterminate (RFC 4035 §4.3)"),
        Column("reasons", "string", "reason codes, `;`-joined (see toolkit.reasons)"),
        Column("reason_text", "string", "the reasons in plain words"),
        Column("parent", "string", "the parent zone that delegates this zone"),
        Column("has_ds", "boolean", "the parent publishes DS records (null: could not tell)"),
        Column("signed", "boolean", "the zone serves a DNSKEY RRset (null: could not tell)"),
        Column("algorithms", "string", "DNSKEY algorithm numbers, `;`-joined"),
        Column("ns_servers", "Int64", "authoritative server addresses of the zone probed"),
        Column("ns_answered", "Int64", "of those, how many answered with authority"),
        Column(
            "min_rrsig_days_left",
            "Float64",
            "smallest remaining validity, in days, of the apex RRSIGs (negative: expired)",
        ),
        Column("earliest_expiration", UTC_TS, "expiration time of that signature"),
        Column("checked_at", UTC_TS, "the `now` the chain was validated against"),
    ),
)

RECORDS = FrameSchema(
    "records",
    "Every DS, DNSKEY, RRSIG, SOA and NS record collected, one row per record and server: "
    "the raw evidence behind each status.",
    (
        Column("zone", "string", "inventory zone the record was collected for"),
        Column("owner_name", "string", "owner name of the record (absolute, trailing dot)"),
        Column(
            "rrtype",
            "string",
            "DS | DNSKEY | RRSIG | SOA | NS | CDS | CDNSKEY | NSEC3PARAM | NSEC | NSEC3",
        ),
        Column("ttl", "Int64", "TTL as served"),
        Column("server", "string", "address of the server that served it"),
        Column("server_name", "string", "name of that server (NS target), if known"),
        Column("source", "string", "parent (DS side) or child (zone's own servers)"),
        Column("key_tag", "Int64", "DS/DNSKEY key tag, or the RRSIG's key tag"),
        Column("algorithm", "Int64", "DNSSEC algorithm number"),
        Column("flags", "Int64", "DNSKEY flags (257 = KSK/SEP, 256 = ZSK)"),
        Column("digest_type", "Int64", "DS digest type"),
        Column("covered_type", "string", "RRSIG: the type it covers"),
        Column("signer", "string", "RRSIG: the signer name"),
        Column("inception", UTC_TS, "RRSIG inception"),
        Column("expiration", UTC_TS, "RRSIG expiration"),
        Column("rdata", "string", "the record's data in zone-file text"),
        Column("queried_at", UTC_TS, "when the answer was received"),
    ),
)

RESOLVER_CHECKS = FrameSchema(
    "resolver_checks",
    "One row per zone and configured validating resolver: what a user behind that resolver "
    "gets when asking for the zone's SOA with DNSSEC.",
    (
        Column("zone", "string", "zone name"),
        Column("resolver", "string", "resolver label (e.g. unbound)"),
        Column("address", "string", "resolver address"),
        Column("port", "Int64", "resolver port"),
        Column("rcode", "string", "response code (NOERROR, SERVFAIL, ...); null: no answer"),
        Column("ad", "boolean", "the Authenticated Data bit; null: no answer"),
        Column("ede_code", "Int64", "Extended DNS Error code (RFC 8914), if given"),
        Column("ede_text", "string", "Extended DNS Error text, if given"),
        Column("latency_ms", "Float64", "round trip in milliseconds"),
        Column("error", "string", "transport failure (timeout, refused, malformed), else null"),
        Column(
            "resolver_status", "string", "secure | insecure | bogus | indeterminate as seen by it"
        ),
        Column("queried_at", UTC_TS, "when the query was sent"),
        Column(
            "vantage",
            "string",
            "the network vantage point the resolver was asked from (collect --vantage, or the "
            "Dask worker's vantage resource); null: not named (and in runs before vantages)",
            optional=True,
        ),
    ),
)

NAME_RESOLVERS = FrameSchema(
    "name_resolvers",
    "One row per listed name beyond the apex, type (A, AAAA, MX, TXT) and configured validating "
    "resolver: what a user behind that resolver gets for the name (kept apart from "
    "`resolver_checks`, whose one row per zone and resolver is the apex's).",
    (
        Column("zone", "string", "inventory zone"),
        Column("name", "string", "the name asked (absolute, no trailing dot)"),
        Column("qtype", "string", "A | AAAA | MX | TXT"),
        Column("resolver", "string", "resolver label (e.g. unbound)"),
        Column("address", "string", "resolver address"),
        Column("port", "Int64", "resolver port"),
        Column("rcode", "string", "response code (NOERROR, SERVFAIL, ...); null: no answer"),
        Column("ad", "boolean", "the Authenticated Data bit; null: no answer"),
        Column("ede_code", "Int64", "Extended DNS Error code (RFC 8914), if given"),
        Column("ede_text", "string", "Extended DNS Error text, if given"),
        Column("latency_ms", "Float64", "round trip in milliseconds"),
        Column("error", "string", "transport failure (timeout, refused, malformed), else null"),
        Column(
            "resolver_status", "string", "secure | insecure | bogus | indeterminate as seen by it"
        ),
        Column("queried_at", UTC_TS, "when the query was sent"),
        Column("vantage", "string", "vantage point the resolver was asked from; null: not named"),
    ),
)

QUERIES = FrameSchema(
    "queries",
    "Every query the collector sent to an authoritative server and what came back "
    "(a DNS failure is an observation, not a crash).",
    (
        Column("zone", "string", "inventory zone being collected (or the ancestor zone)"),
        Column("qname", "string", "query name"),
        Column("qtype", "string", "query type"),
        Column("server", "string", "server address"),
        Column("server_name", "string", "server name, if known"),
        Column("transport", "string", "udp | tcp"),
        Column("rcode", "string", "response code; null when there was no usable answer"),
        Column("aa", "boolean", "authoritative answer bit"),
        Column("tc", "boolean", "truncated bit of the UDP answer"),
        Column("latency_ms", "Float64", "round trip in milliseconds"),
        Column("error", "string", "timeout | refused | malformed | ...; null on success"),
        Column("queried_at", UTC_TS, "when the query was sent"),
    ),
)

FINDINGS = FrameSchema(
    "findings",
    "One row per check and zone: the outcome of every check of the catalogue (pass rows are "
    "kept: they are the evidence that a control works).",
    (
        Column("check_id", "string", "stable id of the check (see the catalogue)"),
        Column("zone", "string", "zone the result is about"),
        Column("status", "string", "pass | fail | indeterminate | not_applicable"),
        Column("severity", "string", "critical | high | medium | low | info (of the check)"),
        Column("pillar", "string", "technical | operational | governance"),
        Column("title", "string", "the check's title"),
        Column("message", "string", "the result in words, parameters filled in"),
        Column("evidence", "string", "where the facts come from (frame, rows, servers)"),
        Column("references", "string", "RFCs and standards, `;`-joined"),
    ),
)

CATALOGUE = FrameSchema(
    "catalogue",
    "One row per check of the toolkit.",
    (
        Column("check_id", "string", "stable id"),
        Column("title", "string", "short title"),
        Column("severity", "string", "critical | high | medium | low | info"),
        Column("pillar", "string", "technical | operational | governance"),
        Column("description", "string", "what is checked"),
        Column("risk", "string", "what goes wrong when it fails"),
        Column("remediation", "string", "what to do"),
        Column("references", "string", "RFCs and standards, `;`-joined"),
    ),
)


# --- evidence frames of the full audit (one zone's probe plan, judged row by row) -----------

NAMESERVERS = FrameSchema(
    "nameservers",
    "One row per inventory zone and server address asked: the parent's servers (DS and the "
    "delegation's NS) and the zone's own (apex SOA, DNSKEY and NS), as each answered.",
    (
        Column("zone", "string", "inventory zone"),
        Column("side", "string", "parent (a server of the parent zone) or child (the zone's)"),
        Column("server", "string", "server address"),
        Column("server_name", "string", "server name (NS target), if known"),
        Column(
            "answered",
            "boolean",
            "answered with authority (child: the apex SOA; parent: the DS question)",
        ),
        Column("rcode", "string", "response code of that answer; null: none came back"),
        Column("error", "string", "transport failure (timeout, refused, ...), else null"),
        Column("soa_serial", "Int64", "child: SOA serial served"),
        Column("soa_expire", "Int64", "child: SOA expire (seconds) served"),
        Column("dnskey_set", "string", "child: DNSKEYs served, `tag/algorithm/flags`, `;`-joined"),
        Column(
            "ns_set",
            "string",
            "NS targets served, `;`-joined (parent: the delegation, asked of the first server)",
        ),
        Column("ds_set", "string", "parent: DS records served, `;`-joined (null: none)"),
        Column("queried_at", UTC_TS, "when that answer came"),
        Column(
            "tcp_answered",
            "boolean",
            "child: the apex SOA asked over TCP alone came back with authority (null: not "
            "asked, the server failed its UDP gate; and in runs before the TCP probe)",
            optional=True,
        ),
        Column(
            "tcp_error",
            "string",
            "child: what came over TCP instead: the transport error, or the rcode of a "
            "non-authoritative answer (null: answered, or not asked)",
            optional=True,
        ),
        Column(
            "edns_opt",
            "boolean",
            "child: the answer to the apex SOA query (sent with EDNS and DO) carried an OPT "
            "record (null: no answer)",
            optional=True,
        ),
        Column(
            "do_rrsigs",
            "boolean",
            "child: the authoritative apex SOA and DNSKEY answers (asked with DO) carried an "
            "RRSIG of their RRset, either of them (null: no such answer)",
            optional=True,
        ),
        Column(
            "answer_bytes",
            "Int64",
            "bytes on the wire of the full answer (over TCP when UDP was truncated) to DNSKEY "
            "(child) or DS (parent), asked with DO (null: no answer)",
            optional=True,
        ),
        Column(
            "largest_bytes",
            "Int64",
            "bytes on the wire of the largest answer any probe got from this server for the zone",
            optional=True,
        ),
        Column(
            "largest_question",
            "string",
            "the question of that answer (`qname qtype`)",
            optional=True,
        ),
    ),
)

DNSKEYS = FrameSchema(
    "dnskeys",
    "One row per DNSKEY and zone server: each key as published, and what it does.",
    (
        Column("zone", "string", "inventory zone"),
        Column("server", "string", "address of the server that published it"),
        Column("server_name", "string", "its name"),
        Column("key_tag", "Int64", "key tag (RFC 4034 appendix B)"),
        Column("algorithm", "Int64", "DNSSEC algorithm number"),
        Column("flags", "Int64", "DNSKEY flags (256 zone key, +1 SEP, +128 REVOKE)"),
        Column("protocol", "Int64", "protocol field (must be 3)"),
        Column("zone_key", "boolean", "the Zone Key bit is set"),
        Column("sep", "boolean", "the Secure Entry Point bit is set (a KSK or CSK)"),
        Column("revoked", "boolean", "the REVOKE bit is set (RFC 5011)"),
        Column("key_bits", "Int64", "public key size in bits (RSA modulus, curve size)"),
        Column("ttl", "Int64", "DNSKEY RRset TTL"),
        Column("ds_match", "boolean", "a DS at the parent is this key's digest (null: unknown)"),
        Column("signs", "string", "RRset types it validly signs at this server, `;`-joined"),
        Column("queried_at", UTC_TS, "when the DNSKEY RRset was received"),
    ),
)

SIGNATURES = FrameSchema(
    "signatures",
    "One row per RRSIG, server and RRset (zone apex, denial records, and the DS at the parent), "
    "with its status; a `missing` row for each algorithm of the key set without a signature.",
    (
        Column("zone", "string", "inventory zone"),
        Column("side", "string", "child (the zone's own RRsets) or parent (its DS)"),
        Column("server", "string", "address of the server that served it"),
        Column("server_name", "string", "its name"),
        Column("owner", "string", "owner name of the RRset"),
        Column("covered_type", "string", "type of the RRset signed"),
        Column("key_tag", "Int64", "key tag of the signing key (null: missing)"),
        Column("algorithm", "Int64", "algorithm of the signature"),
        Column("signer", "string", "signer name"),
        Column("inception", UTC_TS, "signature inception"),
        Column("expiration", UTC_TS, "signature expiration"),
        Column("original_ttl", "Int64", "original TTL in the RRSIG"),
        Column("rrset_ttl", "Int64", "TTL of the RRset as served"),
        Column(
            "status",
            "string",
            "valid | expired | premature | invalid | unsupported_algorithm | unknown_key | "
            "revoked_key | signer_mismatch | missing",
        ),
        Column("detail", "string", "why, when not valid"),
        Column("days_left", "Float64", "days from the answer to the expiration"),
        Column("queried_at", UTC_TS, "when the RRset was received"),
        Column(
            "rrsig_ttl",
            "Int64",
            "TTL of the RRSIG RRset as served (RFC 4035 §2.2: equal to rrset_ttl; the lowest "
            "when the RRSIGs over one RRset differ); null: no RRSIG, or a run before it",
            optional=True,
        ),
    ),
)

DS_MATCHES = FrameSchema(
    "ds_matches",
    "One row per DS record at the parent: which published DNSKEY it points at, and whether its "
    "digest verifies.",
    (
        Column("zone", "string", "inventory zone"),
        Column("parent", "string", "parent zone"),
        Column("server", "string", "parent server whose DS RRset this is"),
        Column("server_name", "string", "its name"),
        Column("key_tag", "Int64", "DS key tag"),
        Column("algorithm", "Int64", "DS algorithm"),
        Column("digest_type", "Int64", "1 SHA-1, 2 SHA-256, 4 SHA-384 (0 and 3 MUST NOT)"),
        Column("digest", "string", "digest, hex"),
        Column("matches_key_tag", "boolean", "a published DNSKEY has this key tag and algorithm"),
        Column(
            "digest_verifies",
            "boolean",
            "the digest is that key's (null: a digest type the toolkit does not compute)",
        ),
        Column("key_flags", "Int64", "flags of the key pointed at"),
        Column("key_has_sep", "boolean", "that key has the SEP bit"),
        Column("key_revoked", "boolean", "that key has the REVOKE bit"),
        Column("key_signs_dnskey", "boolean", "that key validly signs the DNSKEY RRset"),
        Column("queried_at", UTC_TS, "when the zone was collected"),
    ),
)

CDS = FrameSchema(
    "cds",
    "One row per CDS or CDNSKEY record and zone server (RFC 7344, RFC 8078): what it asks the "
    "parent for and whether it matches the keys and the DS.",
    (
        Column("zone", "string", "inventory zone"),
        Column("server", "string", "server address"),
        Column("server_name", "string", "server name"),
        Column("rrtype", "string", "CDS | CDNSKEY"),
        Column("rdata", "string", "the record in zone-file text"),
        Column("key_tag", "Int64", "key tag (CDS field, or computed for CDNSKEY)"),
        Column("algorithm", "Int64", "algorithm (0 in a delete request)"),
        Column("digest_type", "Int64", "CDS digest type"),
        Column("flags", "Int64", "CDNSKEY flags"),
        Column("delete", "boolean", "a delete request (algorithm 0)"),
        Column(
            "delete_wellformed",
            "boolean",
            "delete request exactly `CDS 0 0 0 00` / `CDNSKEY 0 3 0 AA==` (null: not one)",
        ),
        Column("matches_dnskey", "boolean", "points at a published DNSKEY (null: delete)"),
        Column("matches_ds", "boolean", "corresponds to a DS at the parent (null: delete/unknown)"),
        Column("rrset_size", "Int64", "records in its RRset (a delete request must be alone)"),
        Column("signed_by_ds_key", "boolean", "RRset validly signed by a key a DS points at"),
        Column("queried_at", UTC_TS, "when it was received"),
    ),
)

DENIAL = FrameSchema(
    "denial",
    "One row per denial-of-existence probe and zone server: a random non-existent name "
    "(NXDOMAIN; a wildcard NODATA or expansion when a wildcard covers it) and the apex with a "
    "type it does not hold (NODATA), and whether the NSEC/NSEC3 proof holds.",
    (
        Column("zone", "string", "inventory zone"),
        Column("server", "string", "server address"),
        Column("server_name", "string", "server name"),
        Column("qname", "string", "name asked"),
        Column("qtype", "string", "type asked"),
        Column("purpose", "string", "nxdomain | nodata (the probe's intent, whatever came)"),
        Column("rcode", "string", "response code"),
        Column("kind", "string", "nsec | nsec3 | none"),
        Column("iterations", "Int64", "NSEC3 extra iterations (RFC 9276: 0)"),
        Column("salt", "string", "NSEC3 salt, hex (RFC 9276: empty)"),
        Column("opt_out", "boolean", "NSEC3 opt-out flag"),
        Column(
            "proof",
            "string",
            "valid | invalid | unverifiable | unsigned | not_denied (for a wildcard answer: "
            "the proof that the name asked does not exist)",
        ),
        Column("why", "string", "what the proof showed or lacked"),
        Column("queried_at", UTC_TS, "when the answer came"),
        Column(
            "nsec3param",
            "string",
            "the server's apex NSEC3PARAM records, zone-file text, `;`-joined (empty: it "
            "serves none); null: no authoritative answer, or a run before it",
            optional=True,
        ),
        Column(
            "wildcard",
            "string",
            "the wildcard whose expansion answered the name asked (RRSIG labels below the "
            "owner's, RFC 4035 §5.3.4), the proof then being that the name itself does not "
            "exist; null: no wildcard answer, or a run before it",
            optional=True,
        ),
    ),
)

NAMES = FrameSchema(
    "names",
    "One row per listed name beyond the apex (the inventory's `names`), type asked (A, AAAA, "
    "MX, TXT) and zone server: what the server answered and whether it validates against the "
    "zone's validated DNSKEY set. No rows for a zone without listed names; a run collected "
    "before names were probed has no such frame.",
    (
        Column("zone", "string", "inventory zone"),
        Column("name", "string", "the name asked (absolute, no trailing dot)"),
        Column("qtype", "string", "A | AAAA | MX | TXT"),
        Column("server", "string", "server address"),
        Column("server_name", "string", "server name"),
        Column("rcode", "string", "response code; null: no answer"),
        Column("answer", "string", "data | cname | nodata | nxdomain | referral | error | none"),
        Column("status", "string", "secure | insecure | bogus | indeterminate"),
        Column("reason", "string", "why: the signature or proof that decided, or what was missing"),
        Column("ttl", "Int64", "TTL of the RRset (of the SOA for a denial)"),
        Column("rdata", "string", "the records served, `;`-joined (shortened past 300 chars)"),
        Column("queried_at", UTC_TS, "when the answer came"),
    ),
)

EVIDENCE: tuple[FrameSchema, ...] = (
    NAMESERVERS,
    DNSKEYS,
    SIGNATURES,
    DS_MATCHES,
    CDS,
    DENIAL,
    NAMES,
)
"""The audit's evidence frames, one set of rows per inventory zone (built by the collector)."""


# --- zone discovery (collect --discover, dnssec-audit discover): optional frames of a run ----

DELEGATIONS = FrameSchema(
    "delegations",
    "One row per delegation found below an inventory zone (an NS RRset at a name below its "
    "apex), per source that showed it: the catalogue of delegated zones an auditor compares "
    "with the inventory. Stored only by `collect --discover`; older runs have no such frame.",
    (
        Column("parent", "string", "inventory zone the delegation was found in"),
        Column("child", "string", "the delegated zone (A-label, no trailing dot)"),
        Column("source", "string", "zonefile | axfr | nsec-walk: how it was seen"),
        Column("server", "string", "address of the server that showed it (null: a zone file)"),
        Column("file", "string", "the zone file that showed it (null: seen on the wire)"),
        Column("ns_targets", "string", "the delegation's NS targets, `;`-joined (null: unknown)"),
        Column("has_ds", "boolean", "a DS RRset exists at the delegation (a signed delegation)"),
        Column("in_inventory", "boolean", "the child zone is in the inventory"),
        Column("seen_at", UTC_TS, "when discovery saw it (the run's injected time)"),
    ),
)

DISCOVERY = FrameSchema(
    "discovery",
    "One row per inventory zone and discovery source tried (and server asked): what that "
    "source could show, so that 'no delegation found' is told apart from 'could not look'.",
    (
        Column("zone", "string", "inventory zone"),
        Column("source", "string", "zonefile | axfr | nsec-walk"),
        Column("server", "string", "server address asked (null: a zone file)"),
        Column("file", "string", "zone file read (null: none)"),
        Column(
            "outcome",
            "string",
            "complete (the whole zone was seen) | partial (the walk stopped early) | refused "
            "(the server denied the transfer) | not_walkable (NSEC3 or unsigned) | failed "
            "(no usable answer) | no_file (no zone file for the zone) | skipped",
        ),
        Column("delegations", "Int64", "delegations this source showed"),
        Column("queries", "Int64", "DNS queries (or transfers) sent"),
        Column("detail", "string", "what happened, in words"),
        Column("seen_at", UTC_TS, "when (the run's injected time)"),
    ),
)

ALL: dict[str, FrameSchema] = {
    s.name: s
    for s in (
        INVENTORY,
        ZONES,
        RECORDS,
        RESOLVER_CHECKS,
        NAME_RESOLVERS,
        QUERIES,
        FINDINGS,
        CATALOGUE,
        *EVIDENCE,
        DELEGATIONS,
        DISCOVERY,
    )
}


def main() -> None:
    for schema in ALL.values():
        print(schema.markdown())


if __name__ == "__main__":
    main()
