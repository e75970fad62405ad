"""Where a webhook may point: https and public addresses only, unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from vpitracker.config import Environment, Settings
from vpitracker.i18n import N_


class AddressRefused(Exception):
    """The URL may not be used; the message says why (safe to show).

    ``template`` is an English msgid with ``%(name)s`` placeholders, so the API can
    answer in the caller's language; ``str()`` is the English text (logs, reasons).
    """

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template % params if params else template)
        self.template = template
        self.params = params


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # Link-local covers the cloud metadata address 169.254.169.254.
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _allowed_anywhere(settings: Settings) -> bool:
    return settings.webhook_allow_private or settings.env is Environment.development


def check_url(url: str, settings: Settings) -> tuple[str, int]:
    """Refuse ``url`` unless its form may be used (https outside development); its host, port."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(N_("The URL must be an absolute http or https URL"))
    if parts.scheme != "https" and not _allowed_anywhere(settings):
        raise AddressRefused(N_("The URL must use https"))
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int, settings: Settings) -> list[str]:
    """The addresses ``host`` resolves to, once; refused if any is not public (unless allowed).

    Delivery connects to exactly these (``delivery.PinnedBackend``), so a name that
    resolves elsewhere a moment later (DNS rebinding) cannot redirect the request.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(
            N_("The URL's host %(host)s does not resolve"), host=repr(host)
        ) from exc
    found = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not _allowed_anywhere(settings) and not all(_public(a) for a in found):
        raise AddressRefused(
            N_(
                "The URL's host %(host)s resolves to a loopback, private, link-local "
                "or metadata address"
            ),
            host=repr(host),
        )
    return found


def check(url: str, settings: Settings) -> None:
    """Refuse ``url`` unless it is https and every address its host resolves to is public."""
    host, port = check_url(url, settings)
    if not _allowed_anywhere(settings):
        resolve(host, port, settings)
