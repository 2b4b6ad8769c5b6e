"""The workspace's Ed25519 run-signing key.

Each run's ``manifest.json`` is signed as it is published: ``manifest.json.sig`` beside it holds
the raw 64-byte Ed25519 signature of the manifest's exact bytes, which ``openssl pkeyutl -verify
-pubin -inkey run-signing-key.pub.pem -rawin -in manifest.json -sigfile manifest.json.sig``
verifies without the toolkit.

The private key is created on first use, mode 0600, at ``WORKSPACE/signing/run-signing-key.pem``
or at the path of ``$DNSSEC_AUDIT_SIGNING_KEY`` (to keep it off the workspace, e.g. on removable
media mounted only while collecting). The public key and its fingerprint live beside the runs,
in ``WORKSPACE/signing/``: verifying needs only them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from toolkit.atomic import write_atomic
from toolkit.errors import StoreError

KEY_ENV = "DNSSEC_AUDIT_SIGNING_KEY"
SIGNING_DIR = "signing"
PRIVATE_KEY = "run-signing-key.pem"
PUBLIC_KEY = "run-signing-key.pub.pem"
FINGERPRINT = "fingerprint.txt"
SIGNATURE_SUFFIX = ".sig"


def fingerprint(public: Ed25519PublicKey) -> str:
    """``SHA256:<hex>`` of the raw 32-byte public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_pem(data: bytes, source: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes; StoreError naming ``source`` otherwise."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise StoreError(f"{source}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise StoreError(f"{source}: not an Ed25519 public key")
    return key


def verify(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class WorkspaceKey:
    """Where a workspace's signing keys are."""

    workspace: Path
    private_path: Path

    @classmethod
    def of(cls, workspace: Path, private_path: str | Path | None = None) -> WorkspaceKey:
        chosen = private_path or os.environ.get(KEY_ENV) or workspace / SIGNING_DIR / PRIVATE_KEY
        return cls(workspace, Path(chosen))

    @property
    def public_path(self) -> Path:
        return self.workspace / SIGNING_DIR / PUBLIC_KEY

    def public_key(self) -> Ed25519PublicKey | None:
        """The workspace's public key, or None when the workspace has none yet."""
        try:
            data = self.public_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.public_path}: unreadable ({exc})") from exc
        return load_public_pem(data, str(self.public_path))

    def private_key(self) -> Ed25519PrivateKey:
        """The private key, created (mode 0600) with its public key on first use."""
        path = self.private_path
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (OSError, ValueError, TypeError) as exc:
                raise StoreError(f"{path}: unreadable signing key ({exc})") from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise StoreError(f"{path}: not an Ed25519 private key")
        else:
            if self.public_path.exists():
                raise StoreError(
                    f"{path}: no signing key, but the workspace has a public key "
                    f"({self.public_path}): mount the key or set {KEY_ENV} to it"
                )
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_new(path, pem, 0o600)
        public = self.public_key()
        if public is None:
            self.public_path.parent.mkdir(parents=True, exist_ok=True)
            _write_new(self.public_path, public_pem(key.public_key()), 0o644)
            _write_new(
                self.public_path.parent / FINGERPRINT,
                (fingerprint(key.public_key()) + "\n").encode(),
                0o644,
            )
        elif public_pem(public) != public_pem(key.public_key()):
            raise StoreError(
                f"{path}: this signing key is not the workspace's ({self.public_path})"
            )
        return key


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` atomically (temporary file + rename) with ``mode``."""
    write_atomic(path, data, perms=mode)
