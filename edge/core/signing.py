"""Ed25519 keys and signatures for bundles rolled out to a fleet.

The fleet's owner makes one key pair (``maskwatch fleet keygen``): the private key stays
on the workstation (PEM, mode 0600), the public key goes on every card (one line of
base64). A roll-out signs the bundle archive's sha256 together with its version, so a
signature made for one version cannot be replayed to install another.
"""

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from maskwatch.core.errors import MaskwatchError

SIGNED_PREFIX = "maskwatch-bundle-v1"


class SignatureError(MaskwatchError):
    """A key cannot be read, or a signature does not match."""


def signed_message(version: str, sha256: str) -> bytes:
    """What a roll-out signs: the version and the archive's sha256, never one alone."""
    return f"{SIGNED_PREFIX}:{version}:{sha256}".encode()


def make_key_pair(private_path: Path, public_path: Path) -> None:
    """Write a new key pair; refuses to overwrite an existing private key."""
    if private_path.exists():
        raise SignatureError(
            f"{private_path}: a key is already there; keep it, or move it away first"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    public_path.write_text(base64.b64encode(raw).decode() + "\n")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise SignatureError(f"{path}: cannot read the signing key ({error.strerror})") from None
    except ValueError:
        raise SignatureError(
            f"{path}: not a PEM private key; make one with 'maskwatch fleet keygen'"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an ed25519 key; make one with 'maskwatch fleet keygen'")
    return key


def public_key_from_text(text: str, where: str) -> Ed25519PublicKey:
    """The public key as ``maskwatch fleet keygen`` writes it: one line of base64."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text.strip(), validate=True))
    except (binascii.Error, ValueError):
        raise SignatureError(
            f"{where}: not an ed25519 public key (base64, from 'maskwatch fleet keygen')"
        ) from None


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        text = path.read_text()
    except OSError as error:
        raise SignatureError(f"{path}: cannot read the public key ({error.strerror})") from None
    return public_key_from_text(text, str(path))


def sign(key: Ed25519PrivateKey, version: str, sha256: str) -> str:
    """The base64 signature of ``version`` + ``sha256``."""
    return base64.b64encode(key.sign(signed_message(version, sha256))).decode()


def verify(key: Ed25519PublicKey, version: str, sha256: str, signature: str) -> None:
    """Raise :class:`SignatureError` unless ``signature`` signs ``version`` + ``sha256``."""
    try:
        key.verify(base64.b64decode(signature, validate=True), signed_message(version, sha256))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureError(
            f"bundle {version}: bad signature (not made by the fleet's key for this sha256)"
        ) from None
