"""C2SP signed notes (Ed25519) carrying C2SP tlog-checkpoint bodies.

Keys use the note formats: signer ``PRIVATE+KEY+<name>+<hash>+base64(0x01 ‖ seed)``,
verifier ``<name>+<hash>+base64(0x01 ‖ public key)``, where ``<hash>`` is the hex
of the 4-byte key ID ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
EM_DASH = "\u2014"
_NAME = re.compile(r"^[^\s+]+$")
_SIZE = re.compile(r"^(0|[1-9][0-9]*)$")


class NoteError(ValueError):
    """A key, note or checkpoint that is malformed or does not verify."""


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + public).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise NoteError("a key name must be non-empty, without spaces or '+'")
    return name


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not base64") from exc


@dataclass(frozen=True)
class Signer:
    name: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return _raw_public(self.private.public_key())

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    def encode(self) -> str:
        seed = self.private.private_bytes_raw()
        body = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.id.hex()}+{body}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.public)


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    def encode(self) -> str:
        body = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{body}"


def generate(name: str) -> Signer:
    return Signer(_check_name(name), Ed25519PrivateKey.generate())


def parse_signer(text: str) -> Signer:
    # Names hold no '+', base64 may: split off the first four fields only.
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("a signing key looks like PRIVATE+KEY+<name>+<hash>+<base64>")
    name, hex_id, body = _check_name(parts[2]), parts[3], _b64(parts[4], "the signing key")
    if len(body) != 33 or body[0] != ED25519:
        raise NoteError("the signing key is not an Ed25519 key")
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(body[1:]))
    if signer.id.hex() != hex_id.lower():
        raise NoteError("the signing key's hash does not match its name and key")
    return signer


def parse_verifier(text: str) -> Verifier:
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key looks like <name>+<hash>+<base64>")
    name, hex_id, body = _check_name(parts[0]), parts[1], _b64(parts[2], "the verifier key")
    if len(body) != 33 or body[0] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 key")
    verifier = Verifier(name, body[1:])
    if verifier.id.hex() != hex_id.lower():
        raise NoteError("the verifier key's hash does not match its name and key")
    return verifier


def sign(text: str, signer: Signer) -> str:
    """``text`` (ending in a newline) as a signed note with one signature line."""
    signature = signer.private.sign(text.encode("utf-8"))
    line = base64.b64encode(signer.id + signature).decode()
    return f"{text}\n{EM_DASH} {signer.name} {line}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text, once a signature by ``verifier`` verifies; NoteError otherwise."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("the note contains control characters")
    text, sep, block = note.rpartition("\n\n")
    if not sep or not block.endswith("\n"):
        raise NoteError("the note has no signature block")
    text += "\n"
    found = False
    for line in block[:-1].split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, sig_b64 = rest.partition(" ")
        if dash != EM_DASH or not name or not sig_b64:
            raise NoteError("a signature line is malformed")
        raw = _b64(sig_b64, "a signature")
        if name != verifier.name or len(raw) < 4 or raw[:4] != verifier.id:
            continue  # someone else's signature (a cosigner, say): ignored
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public).verify(raw[4:], text.encode())
        except InvalidSignature as exc:
            raise NoteError(f"the signature by {name} does not verify") from exc
        found = True
    if not found:
        raise NoteError(f"the note is not signed by {verifier.name}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("a checkpoint has an origin, a size and a root hash, one per line")
    origin, size, root_b64 = lines[0], lines[1], lines[2]
    if not _SIZE.match(size):
        raise NoteError("the checkpoint's tree size is not a decimal number")
    root = _b64(root_b64, "the checkpoint's root hash")
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root)


def verify_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    return parse_checkpoint(open_note(note, verifier))
