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


def check(url: str, settings: Settings) -> None:
    """Refuse ``url`` unless it is https and every address its host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused(N_("The URL must be an absolute http or https URL"))
    if settings.webhook_allow_private or settings.env is Environment.development:
        return
    if parts.scheme != "https":
        raise AddressRefused(N_("The URL must use https"))
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(
            N_("The URL's host %(host)s does not resolve"), host=repr(parts.hostname)
        ) from exc
    for info in infos:
        if not _public(str(info[4][0])):
            raise AddressRefused(
                N_(
                    "The URL's host %(host)s resolves to a loopback, private, link-local "
                    "or metadata address"
                ),
                host=repr(parts.hostname),
            )
