"""Commands that check the log with no database: key generation, proofs and a witness.

Each check prints one line and exits 0 only when everything verifies; 1 when it does
not (the line says why); 2 when its input cannot be read or fetched.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from vpitracker.audit import merkle, note
from vpitracker.jsonutil import canonical

if TYPE_CHECKING:
    import httpx

log_app = typer.Typer(help="The signing key of the verifiable log.", no_args_is_help=True)

KeyOpt = Annotated[str, typer.Option("--key", help="The log's verifier key (name+hash+base64)")]
STATE_FILE = "checkpoint"


class Failed(Exception):
    """A check did not pass; the message is the one-line reason."""


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"FAIL: {message}", err=True)
    raise typer.Exit(code)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {path}: {exc}", 2)


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(_read(path))
    except json.JSONDecodeError as exc:
        _fail(f"{path} is not JSON: {exc}", 2)
    if not isinstance(value, dict):
        _fail(f"{path} is not a JSON object", 2)
    return value


def _hashes(proof: dict[str, Any]) -> list[bytes]:
    try:
        hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise Failed("the proof has no list of base64 hashes") from exc
    if any(len(h) != 32 for h in hashes):
        raise Failed("a proof hash is not 32 bytes")
    return hashes


def _verifier(key: str) -> note.Verifier:
    try:
        return note.parse_verifier(key)
    except note.NoteError as exc:
        _fail(str(exc), 2)


def open_checkpoint(text: str, verifier: note.Verifier) -> note.Checkpoint:
    try:
        return note.verify_checkpoint(text, verifier)
    except note.NoteError as exc:
        raise Failed(f"bad checkpoint: {exc}") from exc


def event_hash(event: dict[str, Any]) -> str:
    """The event's hash recomputed from its fields, as the chain defines it."""
    # Imported here: every `vpitracker` command loads this module, few need the models.
    from vpitracker.audit.service import compute_hash
    from vpitracker.models import AuditEvent

    try:
        actor = event["actor"]
        row = AuditEvent(
            seq=int(event["seq"]),
            at=datetime.fromisoformat(str(event["at"]).replace("Z", "+00:00")),
            actor_type=actor["type"],
            actor_id=actor["id"],
            actor_role=actor["role"],
            action=event["action"],
            entity_type=event["entity_type"],
            entity_id=event["entity_id"],
            data=canonical(event["data"]),
            prev_hash=event["prev_hash"],
            hash="",
        )
        return compute_hash(row.prev_hash, row)
    except (KeyError, TypeError, ValueError) as exc:
        raise Failed(f"the event is incomplete: {exc}") from exc


def check_inclusion(
    checkpoint: note.Checkpoint, event: dict[str, Any], proof: dict[str, Any]
) -> str:
    recomputed = event_hash(event)
    if recomputed != event.get("hash"):
        raise Failed(f"event {event.get('seq')} does not match its hash: it was altered")
    seq = int(event["seq"])
    if proof.get("tree_size") != checkpoint.size or proof.get("leaf_index") != seq - 1:
        raise Failed(
            f"the proof is for leaf {proof.get('leaf_index')} of {proof.get('tree_size')}, "
            f"not event {seq} in the checkpoint's tree of {checkpoint.size}"
        )
    leaf = merkle.leaf_hash(recomputed)
    if not merkle.verify_inclusion(seq - 1, checkpoint.size, leaf, _hashes(proof), checkpoint.root):
        raise Failed(f"event {seq} is not in the tree of {checkpoint.size} events")
    return f"OK: event {seq} is in {checkpoint.origin} at tree size {checkpoint.size}"


def check_consistency(old: note.Checkpoint, new: note.Checkpoint, proof: list[bytes]) -> str:
    if old.origin != new.origin:
        raise Failed(f"the checkpoints are from different logs: {old.origin} and {new.origin}")
    if new.size < old.size:
        raise Failed(f"rollback: the tree shrank from {old.size} to {new.size} events")
    if not merkle.verify_consistency(old.size, new.size, old.root, new.root, proof):
        raise Failed(f"fork: the tree of {new.size} events does not extend the tree of {old.size}")
    return f"OK: the tree of {new.size} events extends the tree of {old.size}"


def _run(check: Callable[..., str], *args: object) -> None:
    try:
        typer.echo(check(*args))
    except Failed as exc:
        _fail(str(exc))


@log_app.command("keygen")
def keygen(
    name: Annotated[str, typer.Option(help="Key name; use the log origin (VPI_LOG_ORIGIN)")],
) -> None:
    """Print a new signing key (keep secret: VPI_LOG_SIGNING_KEY) and its verifier key."""
    try:
        signer = note.generate(name)
    except note.NoteError as exc:
        _fail(str(exc), 2)
    typer.echo(signer.encode())
    typer.echo(signer.verifier().encode())


def check_checkpoint_cmd(
    checkpoint: Annotated[Path, typer.Argument(help="A saved checkpoint (signed note)")],
    key: KeyOpt,
) -> None:
    """Verify a saved checkpoint's signature."""

    def check() -> str:
        cp = open_checkpoint(_read(checkpoint), _verifier(key))
        return f"OK: {cp.origin} size {cp.size} root {base64.b64encode(cp.root).decode()}"

    _run(check)


def check_inclusion_cmd(
    checkpoint: Annotated[Path, typer.Option(help="The checkpoint (signed note)")],
    event: Annotated[Path, typer.Option(help="The event, from GET /v1/audit/events/{seq}")],
    proof: Annotated[Path, typer.Option(help="From GET /v1/audit/proof/inclusion")],
    key: KeyOpt,
) -> None:
    """Verify that an event is in the tree a checkpoint signs."""
    _run(
        lambda: check_inclusion(
            open_checkpoint(_read(checkpoint), _verifier(key)), _json(event), _json(proof)
        )
    )


def check_consistency_cmd(
    old: Annotated[Path, typer.Option(help="The older checkpoint")],
    new: Annotated[Path, typer.Option(help="The newer checkpoint")],
    proof: Annotated[Path, typer.Option(help="From GET /v1/audit/proof/consistency")],
    key: KeyOpt,
) -> None:
    """Verify that a newer checkpoint extends an older one (no history rewritten)."""

    def check() -> str:
        verifier = _verifier(key)
        older = open_checkpoint(_read(old), verifier)
        newer = open_checkpoint(_read(new), verifier)
        body = _json(proof)
        if (body.get("first"), body.get("second")) != (older.size, newer.size):
            raise Failed("the proof is not between these two tree sizes")
        return check_consistency(older, newer, _hashes(body))

    _run(check)


def _get(client: httpx.Client, path: str, **params: int) -> httpx.Response:
    import httpx

    try:
        response = client.get(path, params=params)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the log: {exc}", 2)
    if response.status_code != 200:
        _fail(f"GET {path} answered {response.status_code}: {response.text[:200]}", 2)
    return response


def witness(
    url: Annotated[str, typer.Option(help="The vpitracker base URL")],
    state: Annotated[Path, typer.Option(help="Directory that keeps the last checkpoint seen")],
    key: KeyOpt,
    api_key: Annotated[
        str | None, typer.Option(help="A read-only API key, if the server is not public")
    ] = None,
) -> None:
    """Fetch the checkpoint; fail on a bad signature, a rollback or a fork; keep it."""
    import httpx

    verifier = _verifier(key)
    headers = {"X-API-Key": api_key} if api_key else {}
    saved = state / STATE_FILE
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=30) as client:
        text = _get(client, "/v1/audit/checkpoint").text

        def check() -> str:
            new = open_checkpoint(text, verifier)
            if not saved.exists():
                return f"OK: first checkpoint of {new.origin} kept at tree size {new.size}"
            old = open_checkpoint(_read(saved), verifier)
            if new.size < old.size:
                raise Failed(f"rollback: the tree shrank from {old.size} to {new.size} events")
            if old.size == 0 and old.origin == new.origin:
                return f"OK: the tree grew from 0 to {new.size} events"
            proof: list[bytes] = []
            if 0 < old.size < new.size:
                params = {"first": old.size, "second": new.size}
                proof = _hashes(_get(client, "/v1/audit/proof/consistency", **params).json())
            return check_consistency(old, new, proof)

        try:
            message = check()
        except Failed as exc:
            _fail(str(exc))
    state.mkdir(parents=True, exist_ok=True)
    tmp = saved.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(saved)
    typer.echo(message)


def register(audit_app: typer.Typer) -> None:
    audit_app.command("check-checkpoint")(check_checkpoint_cmd)
    audit_app.command("check-inclusion")(check_inclusion_cmd)
    audit_app.command("check-consistency")(check_consistency_cmd)
    audit_app.command("witness")(witness)
