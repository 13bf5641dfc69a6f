"""Redaction of corpus values before they leave the machine (``nectar propose``).

Corpus values come from production traffic: host names, addresses, people's e-mail
addresses, home-directory paths, user and session identifiers.  Before a summary goes to a
model, every such value is replaced by a typed placeholder, so that the model still sees
*what kind* of value a field holds (enough to write a policy) but not the value itself:

====================  ==========================================================
placeholder           replaces
====================  ==========================================================
``<secret>``          every value of a field whose name suggests a secret (token, key,
                      password, auth, cookie, session, credential, signature, ...)
``<host>``            values of host-like fields (``host.name``, ``net.peer.name``,
                      ``http.host``, ``server.address``, ...); host names in text
                      (``*.local``, ``*.internal``, ``name.example.com``), URL hosts
``<ip>``              IPv4 and IPv6 addresses, with their port
``<email>``           e-mail addresses
``<path>``            home-directory paths (``/Users/x/...``, ``/home/x/...``,
                      ``C:\\Users\\x\\...``, ``~/...``)
``<id>``              UUIDs, long hex and mixed-alphanumeric tokens, values of
                      identifier fields (``*.id``, ``user.name``, ``enduser.*``, ...) and
                      of high-cardinality fields (nearly every value distinct)
====================  ==========================================================

Levels: ``standard`` (the default) does all of the above; ``strict`` also replaces every
other string value by ``<value>`` (only field names, types, counts and the service names,
scrubbed, are sent); ``off`` sends values as measured except that secret fields and
credentials stay hidden (those are never sent).  Module paths such as
``go.opentelemetry.io/otel`` are kept (a domain followed by ``/`` with no scheme).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = ["HIGH_CARDINALITY", "Redaction", "Scrubber"]


class Redaction(Enum):
    """How much of the corpus's values ``nectar propose`` may send."""

    STRICT = "strict"
    STANDARD = "standard"
    OFF = "off"


SECRET: Final = "<secret>"
HOST: Final = "<host>"
IP: Final = "<ip>"
EMAIL: Final = "<email>"
PATH: Final = "<path>"
ID: Final = "<id>"
VALUE: Final = "<value>"

#: A field is an identifier when at least this many of its strings are distinct and they
#: are at least half of its strings: its top values are then single users, requests, ...
HIGH_CARDINALITY: Final = 20


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SECRET_PARTS: Final = _words(
    "token tokens key keys apikey password passwd pwd passphrase auth authorization cookie "
    "cookies session sessionid secret secrets credential credentials jwt bearer signature "
    "private csrf xsrf otp"
)
_HOST_NAMES: Final = _words(
    "host hostname host.name http.host net.host.name net.peer.name server.address "
    "client.address network.peer.address network.local.address net.sock.peer.addr "
    "net.sock.host.addr net.sock.peer.name url.domain server.domain upstream_address "
    "peer.address peer.hostname k8s.node.name k8s.pod.name host.id host.ip machine "
    "instance node.name http.server_name authority"
)
_HOST_LAST: Final = _words("host hostname address addr domain authority")
_IP_LAST: Final = _words("ip client_ip ip_address remote_addr")
_ID_LAST: Final = _words(
    "id ids uuid guid user username userid login account owner email mail phone ssn"
)
_ID_PREFIXES: Final = ("enduser.", "user.", "usr.")

_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT: Final = re.compile(r"[._\-\s:/\[\]]+")

_EMAIL: Final = re.compile(r"[\w.+%-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_HOST: Final = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?:[^/\s@]*@)?(?P<host>\[[^\]\s]*\]|[^/\s:?#]+)"
)
_HOME: Final = re.compile(
    r"(?:(?<![\w/])(?:/Users|/home|/root|/var/folders|/private/var/folders)(?:/[^\s'\"`,;)\]}]*)?"
    r"|[A-Za-z]:\\(?:Users|Documents and Settings)\\[^\s'\"`,;)\]}]*"
    r"|(?<![\w/])~[A-Za-z0-9_.-]*/[^\s'\"`,;)\]}]*)"
)
_IPV4: Final = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])")
_IPV6: Final = re.compile(
    r"\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?"
    r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*(?![\w:])"
)
_UUID: Final = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"(?![0-9A-Fa-f])"
)
_TOKEN: Final = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{12,}(?![\w-])")
_PRIVATE_TLD: Final = "local|internal|lan|localdomain|corp|home|intranet|private|localhost"
_PUBLIC_TLD: Final = (
    "com|net|org|io|dev|app|ai|co|cloud|info|biz|me|us|uk|de|fr|eu|jp|cn|in|ru|br|au|ca|nl|se"
    "|ch|es|it|pl|edu|gov|mil|int|xyz|tech|site|online|example|test|invalid"
)
_DOMAIN: Final = re.compile(
    rf"(?<![\w.@/-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:(?P<private>{_PRIVATE_TLD})"
    rf"|(?:{_PUBLIC_TLD}))(?![\w.-])(?P<slash>/)?",
    re.IGNORECASE,
)
_HOST_PORT: Final = re.compile(  # dashed names only: dotted ones are _DOMAIN's business
    r"(?<![\w.:/<-])(?:localhost|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+)(?=:\d{2,5}(?:/|\s|$))"
)
_ABSOLUTE: Final = re.compile(r"(?<![\w/:.])/(?:[^\s/'\"`,;)\]}]+/)+[^\s/:'\"`,;)\]}]*")


def _parts(name: str) -> list[str]:
    return [p for p in _SPLIT.split(_CAMEL.sub("_", name).lower()) if p]


def _is_ip(text: str) -> bool:
    host = text.strip("[]")
    if host.count(":") == 1 and "." in host:  # IPv4 with a port
        host = host.split(":")[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _ip(match: re.Match[str]) -> str:
    text = match.group(0)
    bare = re.sub(r"^\[(.*)\](?::\d+)?$", r"\1", text)
    return IP if _is_ip(bare) or _is_ip(text) else text


def _url_host(match: re.Match[str]) -> str:
    host = match.group("host")
    return match.group("scheme") + (IP if _is_ip(host) else HOST)


def _domain(match: re.Match[str]) -> str:
    if match.group("slash") and not match.group("private"):
        return match.group(0)  # a module path (go.opentelemetry.io/otel), not a host
    return HOST + (match.group("slash") or "")


def _token(match: re.Match[str]) -> str:
    token = match.group(0)
    # Identifier-like: hex with a digit, or letters mixed with digits (not words, not numbers).
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    return ID if has_digit and has_alpha else token


@dataclass(frozen=True, slots=True)
class Scrubber:
    """Replaces private values by typed placeholders at one :class:`Redaction` level."""

    level: Redaction = Redaction.STANDARD

    def field_placeholder(self, name: str) -> str | None:
        """The placeholder every value of field ``name`` gets, or None to scrub value by value."""
        parts = _parts(name)
        if any(p in _SECRET_PARTS for p in parts):
            return SECRET
        if self.level is Redaction.OFF:
            return None
        lowered = name.lower()
        last = parts[-1] if parts else ""
        if last in _IP_LAST or lowered.rsplit(".", 1)[-1] in _IP_LAST:
            return IP
        if lowered in _HOST_NAMES or last in _HOST_LAST:
            return HOST
        if last in _ID_LAST or lowered.startswith(_ID_PREFIXES) or re.search(r"[a-z]_?id$", last):
            return ID
        return None

    def text(self, value: str) -> str:
        """``value`` with every private substring replaced (the level's rules)."""
        if self.level is Redaction.OFF:
            return value
        value = _HOME.sub(PATH, value)
        value = _EMAIL.sub(EMAIL, value)
        value = _URL_HOST.sub(_url_host, value)
        value = _UUID.sub(ID, value)
        value = _IPV4.sub(_ip, value)
        value = _IPV6.sub(_ip, value)
        value = _DOMAIN.sub(_domain, value)
        value = _TOKEN.sub(_token, value)
        return _HOST_PORT.sub(HOST, value)

    def value(self, field: str, value: str, *, high_cardinality: bool = False) -> str:
        """One value of ``field`` as it may be sent."""
        fixed = self.field_placeholder(field)
        if fixed is not None:
            return fixed
        if self.level is Redaction.STRICT and field != "service.name":
            return VALUE
        if high_cardinality and self.level is not Redaction.OFF:
            return ID
        return self.text(value)

    def location(self, text: str) -> str:
        """A message naming files (skipped-record examples): absolute paths hidden too."""
        if self.level is Redaction.OFF:
            return text
        if self.level is Redaction.STRICT:
            return VALUE
        return _ABSOLUTE.sub(PATH, self.text(text))
