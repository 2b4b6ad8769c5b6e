"""Where alerts go: the console, a JSON Lines file, a webhook (HTTP POST of JSON).

A sink has a stable ``id`` (the alert state remembers, per alert, which sinks still owe it)
and ``deliver(alerts)``, which returns the ids of the alerts it delivered. An id is
``KIND:TARGET`` (``webhook:URL``, ``jsonl:PATH``) or ``console``: an alert owed to a webhook
whose URL has since been corrected goes to the webhook given now (same kind, see the engine).
A sink that fails returns fewer ids (the webhook: none once the endpoint is down), says why
in ``last_error`` and never raises for a delivery failure: the alerts stay pending and the next
run tries again.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

log = logging.getLogger(__name__)

Alert = Mapping[str, Any]


class Sink(Protocol):
    """A destination of alerts."""

    @property
    def id(self) -> str: ...

    def deliver(self, alerts: Sequence[Alert]) -> set[str]:
        """Deliver ``alerts``; return the ids of those delivered."""
        ...


def payload(alert: Alert) -> dict[str, Any]:
    """The JSON document of an alert, as every sink sends it."""
    keys = (
        "id",
        "rule",
        "severity",
        "zone",
        "title",
        "message",
        "status",
        "run_id",
        "first_seen_at",
        "cleared_at",
        "acknowledged_at",
        "acknowledged_by",
        "evidence",
    )
    return {"type": "dnssec-audit.alert", "version": 1, **{k: alert.get(k) for k in keys}}


class ConsoleSink:
    """One line per alert on a text stream (stdout by default)."""

    id = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def deliver(self, alerts: Sequence[Alert]) -> set[str]:
        out = self.stream or sys.stdout
        for a in alerts:
            flag = " (cleared since)" if a.get("status") == "cleared" else ""
            print(
                f"[{a['severity'].upper():8}] {a['id']} {a['rule']} {a['zone']}: "
                f"{a['message']}{flag}",
                file=out,
            )
        out.flush()
        return {str(a["id"]) for a in alerts}


class JsonlSink:
    """Appends one JSON document per alert to a file.

    All the batch's lines are written with a single ``write`` on a file opened with
    ``O_APPEND`` and fsynced, so concurrent writers never interleave within a line and a
    reader never sees half a batch of a completed call.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.last_error = ""

    @property
    def id(self) -> str:
        return f"jsonl:{self.path.resolve()}"

    def deliver(self, alerts: Sequence[Alert]) -> set[str]:
        if not alerts:
            return set()
        data = "".join(json.dumps(payload(a), sort_keys=True) + "\n" for a in alerts).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                written = os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self.last_error = f"cannot append to {self.path}: {exc.strerror or exc}"
            log.info("%s (alerts stay pending)", self.last_error)
            return set()
        if written != len(data):  # pragma: no cover - a full disk; the next run retries
            return set()
        return {str(a["id"]) for a in alerts}


class WebhookSink:
    """POSTs each alert as JSON to ``url``; a 2xx answer means delivered.

    A refused connection, a timeout or any other status leaves the alert pending.
    """

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http:// or https://, got {url!r}")
        self.url = url
        self.timeout = timeout
        self.last_error = ""  # why the last delivery stopped ("" when all went out)

    @property
    def id(self) -> str:
        return f"webhook:{self.url}"

    def deliver(self, alerts: Sequence[Alert]) -> set[str]:
        done: set[str] = set()
        for a in alerts:
            body = json.dumps(payload(a)).encode()
            req = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "dnssec-audit"},
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    resp.read()
                    ok = 200 <= resp.status < 300
            except urllib.error.HTTPError as exc:
                self.last_error = f"HTTP status {exc.code}"
                log.info("webhook %s: %s (alerts stay pending)", self.url, self.last_error)
                break
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                self.last_error = str(reason)
                log.info("webhook %s: %s (alerts stay pending)", self.url, self.last_error)
                break  # the endpoint is down: do not hammer it with the rest
            if not ok:
                self.last_error = f"HTTP status {resp.status}"
                break
            done.add(str(a["id"]))
        return done
