"""A second verifier, written from RFC 9162 §2.1 and the C2SP signed-note text.

It imports nothing from vpitracker: roots come from the recursive MTH definition,
and proofs are checked by rebuilding the tree from the PATH and SUBPROOF
definitions (recursion), not with the iterative algorithms the application uses.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(event_hash_hex: str) -> bytes:
    return sha256(b"\x00" + bytes.fromhex(event_hash_hex))


def inner(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def k_for(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = k_for(len(leaves))
    return inner(mth(leaves[:k]), mth(leaves[k:]))


class Mth:
    """MTH of every range, memoized: a verifier's reference over one list of leaves."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.memo: dict[tuple[int, int], bytes] = {}

    def __call__(self, start: int, end: int) -> bytes:
        key = (start, end)
        if key not in self.memo:
            n = end - start
            if n == 1:
                self.memo[key] = self.leaves[start]
            else:
                k = k_for(n)
                self.memo[key] = inner(self(start, start + k), self(start + k, end))
        return self.memo[key]


def root_from_inclusion(m: int, n: int, leaf_hash: bytes, path: list[bytes]) -> bytes:
    """The root PATH(m, D[n]) implies (the last element of PATH is the top sibling)."""
    if n == 1:
        if path:
            raise ValueError("proof too long")
        return leaf_hash
    if not path:
        raise ValueError("proof too short")
    k = k_for(n)
    *rest, sibling = path
    if m < k:
        return inner(root_from_inclusion(m, k, leaf_hash, rest), sibling)
    return inner(sibling, root_from_inclusion(m - k, n - k, leaf_hash, rest))


def inclusion_ok(m: int, n: int, leaf_hash: bytes, path: list[bytes], root: bytes) -> bool:
    try:
        return 0 <= m < n and root_from_inclusion(m, n, leaf_hash, path) == root
    except ValueError:
        return False


def _roots_from_subproof(
    m: int, n: int, proof: list[bytes], whole: bool, old_root: bytes
) -> tuple[bytes, bytes]:
    """(hash of the old tree's part, hash of the new subtree) SUBPROOF(m, D[n], b) implies."""
    if m == n:
        if whole:
            if proof:
                raise ValueError("proof too long")
            return old_root, old_root
        if len(proof) != 1:
            raise ValueError("proof length")
        return proof[0], proof[0]
    if not proof:
        raise ValueError("proof too short")
    k = k_for(n)
    *rest, last = proof
    if m <= k:
        old, new = _roots_from_subproof(m, k, rest, whole, old_root)
        return old, inner(new, last)
    old, new = _roots_from_subproof(m - k, n - k, rest, False, old_root)
    return inner(last, old), inner(last, new)


def consistency_ok(m: int, n: int, proof: list[bytes], old_root: bytes, new_root: bytes) -> bool:
    if m == n:
        return not proof and old_root == new_root
    if not 0 < m < n:
        return False
    try:
        old, new = _roots_from_subproof(m, n, proof, True, old_root)
    except ValueError:
        return False
    return old == old_root and new == new_root


def check_note(note: str, vkey: str) -> list[str]:
    """The note's text lines after checking a signature by ``vkey``; AssertionError otherwise."""
    name, key_hash, key_b64 = vkey.split("+", 2)
    raw = base64.b64decode(key_b64)
    assert raw[0] == 1, "an Ed25519 verifier key"
    assert len(raw) == 33
    public = raw[1:]
    key_id = sha256(name.encode() + b"\n" + b"\x01" + public)[:4]
    assert key_id.hex() == key_hash
    assert note.endswith("\n")
    cut = note.rindex("\n\n")
    text, signatures = note[: cut + 1], note[cut + 2 :].splitlines()
    for line in signatures:
        assert line.startswith("\u2014 "), f"signature line starts with an em dash: {line!r}"
        signer, sig_b64 = line[2:].split(" ")
        sig = base64.b64decode(sig_b64)
        if signer == name and sig[:4] == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(sig[4:], text.encode())
            except InvalidSignature as exc:
                raise AssertionError("bad signature") from exc
            return text.splitlines()
    raise AssertionError("no signature by the key")
