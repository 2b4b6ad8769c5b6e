"""A local DNSSEC lab: a private tree under ``.test`` served by Knot DNS, validated by four
real resolver families (Unbound, BIND 9, Knot Resolver, PowerDNS Recursor).

The root zone, ``test.`` and the zones of :data:`LAB_ZONES` are signed by our own code
(dnspython, ECDSAP256SHA256), each zone carrying one deliberate DNSSEC state (secure, expiring,
island, DS mismatch, expired, unsigned). Four knotd servers serve them on ``{base}.1``-``.4`` port
53; Unbound, BIND ``named``, ``kresd`` and ``pdns_recursor`` on ``{base}.53``-``.56`` validate
against the lab root's DS only (see :mod:`toolkit.lab.resolvers`). Needs root (port 53, and
``ip addr add`` of ``{base}.54`` to ``lo`` for named).

    info = lab_up("out/lab", base="127.53.0")   # a few seconds
    lab_status("out/lab")                        # DataFrame: name, pid, address, running, answering
    lab_down("out/lab")                          # stops the daemons by PID
"""

from toolkit.lab.lab import LabInfo, lab_down, lab_status, lab_up
from toolkit.lab.scenarios import DEFAULT_BASE, LAB_ZONES, PORT, SCENARIOS, LabAddresses, LabZone
from toolkit.lab.servers import ProcessRecord, preflight

__all__ = [
    "DEFAULT_BASE",
    "LAB_ZONES",
    "PORT",
    "SCENARIOS",
    "LabAddresses",
    "LabInfo",
    "LabZone",
    "ProcessRecord",
    "lab_down",
    "lab_status",
    "lab_up",
    "preflight",
]
