"""The thin sender against real sockets on loopback: every failure is an observation."""

from __future__ import annotations

import copy
import socket
import threading
from datetime import UTC, datetime

import dns.dnssectypes
import dns.enum
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.set
import pytest

from toolkit.collect.transport import (
    Clock,
    QueryTemplates,
    TransportConfig,
    convert_enum_values_once,
    hash_added_rdata_once,
    make_query,
    send,
    shallow_copy,
)

CLOCK = Clock(datetime(2026, 11, 28, tzinfo=UTC))
FAST = TransportConfig(timeout=0.3, tries=1)


def serve_udp(reply) -> tuple[str, int, threading.Thread]:
    """A one-shot UDP server on 127.0.0.1 answering the first datagram with reply(query)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(3)

    def run() -> None:
        try:
            data, peer = sock.recvfrom(4096)
            out = reply(data)
            if out is not None:
                sock.sendto(out, peer)
        finally:
            sock.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return "127.0.0.1", sock.getsockname()[1], t


def test_garbage_answer_is_a_malformed_observation():
    addr, port, t = serve_udp(lambda q: q[:2] + b"\x81\x80\xff\xff garbage")
    ex = send("corp.test.", "SOA", addr, clock=CLOCK, config=FAST, port=port)
    t.join()
    assert ex.response is None and ex.error.startswith("malformed answer")
    assert ex.row("corp.test")["error"] == ex.error


def test_answer_with_another_id_is_not_taken_for_ours():
    def wrong_id(q: bytes) -> bytes:
        r = dns.message.make_response(dns.message.from_wire(q))
        r.id = (r.id + 1) % 65536
        return r.to_wire()

    addr, port, t = serve_udp(wrong_id)
    ex = send("corp.test.", "SOA", addr, clock=CLOCK, config=FAST, port=port)
    t.join()
    assert ex.response is None and ex.error in ("timeout", "mismatched answer")


def test_silence_is_a_timeout_and_a_closed_port_is_refused():
    addr, port, t = serve_udp(lambda q: None)
    ex = send("corp.test.", "SOA", addr, clock=CLOCK, config=FAST, port=port)
    t.join()
    assert (ex.response, ex.error) == (None, "timeout")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    free_port = closed.getsockname()[1]
    closed.close()
    ex = send("corp.test.", "SOA", "127.0.0.1", clock=CLOCK, config=FAST, port=free_port)
    assert ex.error in ("refused", "timeout")


def test_truncated_udp_answer_is_retried_over_tcp():
    def truncated(q: bytes) -> bytes:
        r = dns.message.make_response(dns.message.from_wire(q))
        r.flags |= dns.flags.TC
        return r.to_wire()

    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    port = tcp.getsockname()[1]
    tcp.listen(1)
    tcp.settimeout(3)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    udp.settimeout(3)

    def run() -> None:
        data, peer = udp.recvfrom(4096)
        udp.sendto(truncated(data), peer)
        conn, _ = tcp.accept()
        with conn:
            length = int.from_bytes(conn.recv(2), "big")
            q = dns.message.from_wire(conn.recv(length))
            r = dns.message.make_response(q)
            r.set_rcode(dns.rcode.NXDOMAIN)
            wire = r.to_wire()
            conn.sendall(len(wire).to_bytes(2, "big") + wire)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    seen = []
    ex = send(
        "corp.test.", "SOA", "127.0.0.1", clock=CLOCK, config=FAST, port=port, log=seen.append
    )
    t.join()
    udp.close()
    tcp.close()
    assert [e.transport for e in seen] == ["udp", "tcp"] and seen[0].tc
    assert (ex.transport, ex.rcode, ex.error) == ("tcp", "NXDOMAIN", None)


# --- queries made from templates (QueryTemplates) --------------------------------------------


@pytest.mark.parametrize("recursion", [False, True])
@pytest.mark.parametrize("payload", [1232, 4096])
@pytest.mark.parametrize("qtype", ["SOA", "DNSKEY", "DS", "NSEC3PARAM", "TYPE65280"])
@pytest.mark.parametrize(
    "qname",
    ["z00001.test.", "Mixed.Case.Example.", ".", "a.b.c.d.e.f.g.h.test.", "xn--bcher-kva.example."],
)
def test_a_query_from_a_template_is_the_message_make_query_renders(
    qname: str, qtype: str, payload: int, recursion: bool
):
    """Byte for byte and field for field what make_query and to_wire give (same id), whether
    the name is given as text or as a Name, its case kept."""
    templates = QueryTemplates()
    for given in (qname, dns.name.from_text(qname)):
        q = templates.make(given, qtype, recursion=recursion, payload=payload)
        ref = make_query(qname, qtype, recursion=recursion, payload=payload)
        ref.id = q.id
        assert templates.wire(q) == ref.to_wire() == q.to_wire()
        assert q.question == ref.question
        assert q.question[0].name.labels == ref.question[0].name.labels  # the case kept
        assert (q.flags, q.ednsflags, q.payload, q.edns) == (
            ref.flags,
            ref.ednsflags,
            ref.payload,
            ref.edns,
        )
        assert type(q) is type(ref)
        assert vars(q).keys() == vars(ref).keys()
        assert q.index == ref.index  # the question's index entry, as find_rrset makes it
        ((key, rrset),), ((ref_key, _),) = q.index.items(), ref.index.items()
        assert [type(k) for k in key] == [type(k) for k in ref_key] and rrset is q.question[0]
        answer = dns.message.make_response(ref)
        assert q.is_response(answer)


def test_shallow_copy_is_copy_copy():
    """The same class and the same attributes, shared, as copy.copy gives; the copy's own
    attributes rebound without touching the original."""
    query = make_query("z00001.test.", "DNSKEY", recursion=False)
    for msg in (query, dns.message.from_wire(dns.message.make_response(query).to_wire())):
        twin, ref = shallow_copy(msg), copy.copy(msg)
        assert type(twin) is type(ref) is type(msg) and twin is not msg
        assert vars(twin) == vars(ref) and vars(twin).keys() == vars(msg).keys()
        assert all(getattr(twin, k) is getattr(msg, k) for k in vars(msg))
        twin.id = (msg.id + 1) % 65536
        assert msg.id != twin.id and twin.to_wire()[2:] == msg.to_wire()[2:]


def test_queries_from_templates_have_their_own_ids_and_questions():
    templates = QueryTemplates()
    a = templates.make("a.test.", "SOA", recursion=False)
    b = templates.make("b.test.", "SOA", recursion=False)
    assert a.question != b.question and a.question[0].name == dns.name.from_text("a.test.")
    ids = {templates.make("a.test.", "SOA", recursion=False).id for _ in range(50)}
    assert len(ids) > 40  # drawn at random, as make_query draws them
    a.id = 4242  # the wire form follows the message's id
    assert templates.wire(a)[:2] == (4242).to_bytes(2, "big")
    assert templates.wire(a) == a.to_wire()
    other = make_query("c.test.", "NS", recursion=False)  # not made here: rendered
    assert templates.wire(other) == other.to_wire()
    answer_b = dns.message.make_response(b)
    assert not a.is_response(answer_b)  # another question: not the answer


def test_the_table_of_made_queries_is_bounded():
    templates = QueryTemplates(size=3)
    made = [templates.make(f"n{i}.test.", "A", recursion=False) for i in range(10)]
    assert len(templates._made) <= 3
    assert all(templates.wire(q) == q.to_wire() for q in made)  # rendered again: same bytes


# --- dnspython's Set.add, hashing once (hash_added_rdata_once) ----------------------------------


class Counted:
    """An item counting how often it is hashed; equal to another with the same value."""

    hashes = 0

    def __init__(self, value: int, tag: str = "") -> None:
        self.value, self.tag = value, tag

    def __hash__(self) -> int:
        Counted.hashes += 1
        return hash(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counted) and other.value == self.value


@pytest.fixture
def set_add_once(monkeypatch):
    """dnspython's Set.add replaced for one test only (monkeypatch puts dnspython's back)."""
    monkeypatch.setattr(dns.set.Set, "add", dns.set.Set.add)
    assert hash_added_rdata_once() and hash_added_rdata_once()  # installed, idempotent
    yield


def test_importing_the_toolkit_leaves_dnspython_as_it_is():
    import toolkit.collect.parallel  # noqa: F401  (the workers install it, the import does not)

    assert dns.set.Set.add.__module__ == "dns.set"


def test_set_add_hashes_once_and_keeps_the_first_of_equal_items_in_order(set_add_once):
    assert dns.set.Set.add.__module__ == "toolkit.collect.transport"
    s = dns.set.Set()
    first = Counted(1, "first")
    Counted.hashes = 0
    for item in (first, Counted(2), Counted(1, "again"), Counted(3)):
        s.add(item)
    assert Counted.hashes == 4  # dnspython's own add hashes each new item twice
    assert [(i.value, i.tag) for i in s] == [(1, "first"), (2, ""), (3, "")]
    assert s.items[first] is None and len(s) == 3


def test_rdatasets_parse_alike_with_either_set_add(monkeypatch):
    texts = ("ns1.z.test.", "NS1.Z.TEST.", "ns2.z.test.")
    q = dns.message.make_query("z.test.", "NS")
    r = dns.message.make_response(q)
    r.answer.append(dns.rrset.from_text("z.test.", 300, "IN", "NS", *texts))
    wire = r.to_wire()
    before = [rd.to_text() for rd in dns.message.from_wire(wire).answer[0]]
    monkeypatch.setattr(dns.set.Set, "add", dns.set.Set.add)
    assert hash_added_rdata_once()
    after = [rd.to_text() for rd in dns.message.from_wire(wire).answer[0]]
    assert before == after  # the same wire (to_wire shuffles an RRset's order: one wire here)
    assert sorted(after) == ["ns1.z.test.", "ns2.z.test."]  # of equal names, the first kept


# --- dnspython's IntEnum.make, remembered per value (convert_enum_values_once) -----------------


@pytest.fixture
def enum_make_once(monkeypatch):
    """dnspython's IntEnum.make replaced for one test only (monkeypatch puts dnspython's back)."""
    monkeypatch.setattr(dns.enum.IntEnum, "make", dns.enum.IntEnum.__dict__["make"])
    assert convert_enum_values_once() and convert_enum_values_once()  # installed, idempotent
    yield


def test_importing_the_toolkit_leaves_dnspythons_enums_as_they_are():
    import toolkit.collect.parallel  # noqa: F401  (the workers install it, the import does not)

    assert dns.enum.IntEnum.__dict__["make"].__func__.__module__ == "dns.enum"


ENUMS = (
    dns.rdatatype.RdataType,
    dns.rdataclass.RdataClass,
    dns.rcode.Rcode,
    dns.opcode.Opcode,
    dns.dnssectypes.Algorithm,
    dns.dnssectypes.DSDigest,
)
VALUES = (0, 1, 2, 5, 6, 13, 16, 41, 46, 47, 48, 50, 255, 257, 4095, 4096, 65280, 65535, 65536)
VALUES += (-1, True, False, dns.rdataclass.IN, dns.rdatatype.DNSKEY, "A", "TYPE65280", "IN")
VALUES += ("NOERROR", "ECDSAP256SHA256", "nonsense", 1.0, None)  # type: ignore[assignment]


def _outcome(cls, value):
    """What make gives (value, class, name) or raises (exception class)."""
    try:
        made = cls.make(value)
    except Exception as exc:  # what dnspython raises is the outcome compared
        return type(exc).__name__
    return (int(made), type(made), made.name)


def test_enum_make_remembered_gives_what_dnspython_gives(monkeypatch):
    before = {(cls, repr(v)): _outcome(cls, v) for cls in ENUMS for v in VALUES}
    assert before[(dns.rdatatype.RdataType, "1.0")] == "TypeError"  # not an int: refused
    assert before[(dns.rdatatype.RdataType, "65536")] == "ValueError"  # out of range
    monkeypatch.setattr(dns.enum.IntEnum, "make", dns.enum.IntEnum.__dict__["make"])
    assert convert_enum_values_once()
    for _ in range(2):  # made, then remembered: the same outcomes both times
        after = {(cls, repr(v)): _outcome(cls, v) for cls in ENUMS for v in VALUES}
        assert after == before
    rt = dns.rdatatype.RdataType
    assert rt.make(65280) is rt.make(65280) and rt.make(48) is rt.DNSKEY
    private = rt.make(65280)
    assert rt.make(private) is private  # a member of the class: itself, as dnspython gives
    assert dns.rdataclass.RdataClass.make(True) is dns.rdataclass.IN  # bool: by value, as before


def test_messages_parse_alike_with_either_enum_make(enum_make_once, monkeypatch):
    q = dns.message.make_query("z.test.", "TYPE65280", want_dnssec=True)
    r = dns.message.make_response(q)
    r.set_rcode(dns.rcode.BADVERS)  # an extended rcode: flags and EDNS flags together
    r.answer.append(dns.rrset.from_text("z.test.", 300, "IN", "TYPE65280", r"\# 2 abcd"))
    r.authority.append(dns.rrset.from_text("z.test.", 300, "CH", "TXT", '"x"'))
    wire = r.to_wire()
    patched = dns.message.from_wire(wire)
    monkeypatch.setattr(dns.enum.IntEnum, "make", dns.enum.IntEnum.__dict__["make"])
    monkeypatch.undo()  # dnspython's own make
    assert dns.enum.IntEnum.__dict__["make"].__func__.__module__ == "dns.enum"
    plain = dns.message.from_wire(wire)
    assert patched.to_text() == plain.to_text() and patched.rcode() == plain.rcode()
    assert [(rr.rdtype, rr.rdclass) for rr in patched.answer + patched.authority] == [
        (rr.rdtype, rr.rdclass) for rr in plain.answer + plain.authority
    ]
