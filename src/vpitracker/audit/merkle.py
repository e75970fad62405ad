"""The audit events as the leaves of an RFC 9162 §2.1 Merkle tree (pure arithmetic).

Only complete subtrees are stored: node ``(level, idx)`` covers leaves
``[idx * 2**level, (idx + 1) * 2**level)``. They never change once written, so one
set of rows answers proofs for every tree size. The hash of any other range is the
right-to-left fold of the few complete subtrees it splits into (its "plan").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping

Key = tuple[int, int]
# The complete subtrees whose fold gives one hash, left to right.
Plan = list[Key]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(event_hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (RFC 9162's k), for size > 1."""
    return 1 << ((size - 1).bit_length() - 1)


def plan(start: int, end: int) -> Plan:
    """Leaves ``[start, end)`` as complete subtrees; ``start`` is aligned as RFC 9162 splits."""
    keys: Plan = []
    while start < end:
        level = (end - start).bit_length() - 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def fold(keys: Plan, nodes: Mapping[Key, bytes]) -> bytes:
    if not keys:
        return EMPTY_ROOT
    acc = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        acc = node_hash(nodes[key], acc)
    return acc


def inclusion_plan(index: int, size: int) -> list[Plan]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first."""
    path: list[Plan] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(plan(start + k, end))
            end = start + k
        else:
            path.append(plan(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_plan(first: int, second: int) -> list[Plan]:
    """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true)."""
    proof: list[Plan] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(plan(start + k, end))
            end = start + k
        else:
            proof.append(plan(start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        proof.append(plan(start, end))
    proof.reverse()
    return proof


def build(event_hashes: Iterable[str]) -> Iterator[tuple[int, int, bytes]]:
    """Every node of the tree over these events, in append order (bulk loads, rebuilds)."""
    # The complete subtree at each level still waiting for its right sibling.
    frontier: dict[int, bytes] = {}
    for index, event_hash in enumerate(event_hashes):
        current = leaf_hash(event_hash)
        yield 0, index, current
        level = 0
        while (index >> level) & 1:
            current = node_hash(frontier[level], current)
            level += 1
            yield level, index >> level, current
        frontier[level] = current


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while not fn & 1 and fn != 0:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 (equal sizes: an empty proof and equal roots)."""
    if first == second:
        return not path and first_root == second_root
    if not 0 < first < second or not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
