"""OpenAI content parts that carry media (`image_url.url`, file and audio URLs) -> Gemini parts.

- `data:` URLs become `inlineData` (base64 checked here, so a bad one is a 400 that
  names the field instead of Gemini's opaque one).
- YouTube URLs and Gemini Files API URIs become `fileData`: Gemini reads those itself.
  No `mimeType` is sent for them: Gemini knows it (the file's own, or video for YouTube),
  and an image_url part cannot tell us.
- Any other http(s) URL is fetched by the proxy, because Gemini cannot read arbitrary
  URLs. A proxy that fetches what clients name is a server-side request forgery hole
  (the peers fetch anything), so the fetch is guarded:

  * the host is resolved first and every address it resolves to must be public:
    loopback, private, link-local, CGNAT, multicast, reserved, unspecified and the
    cloud metadata addresses are refused, for IPv4 and IPv6, including IPv4 addresses
    embedded in IPv6 (mapped, 6to4, NAT64); `localhost` and `*.internal` names too;
  * the connection goes to the vetted address itself (the URL's host is replaced by
    the address; the name goes in `Host` and in TLS SNI / certificate checks via
    `server_hostname`), so a DNS answer that changes between check and connect
    (rebinding) cannot redirect it. That is what lets it use the proxy's one shared
    connection pool (upstream.pool): it keys connections by address and TLS server
    name, so nothing is shared with a connection made for another name;
  * redirects are followed by hand, at most `MAX_REDIRECTS`, each hop checked the same way;
  * `MAX_BYTES` is enforced while reading (a larger Content-Length is refused
    unread), the whole fetch has `TIMEOUT` seconds, and only image/*, audio/*,
    video/* and application/pdf answers are taken (`application/octet-stream` is
    accepted when the URL's file extension names one of those types, as S3 serves).

A refused or failed URL is a 400 naming the field; the message never carries the
resolved address or the underlying error.

Per request, not only per URL: at most `MAX_FETCHES` URLs are fetched and
`MAX_TOTAL_BYTES` read for one request, all URLs together (eight 20 MB URLs in an
874-byte request would otherwise hold 160 MB, three times over once base64 and JSON).
The budget lives in a context variable that `start_request` resets; `calls.read_json`
calls it, so every translated route gets a fresh one per request without passing it
down through its translator.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import mimetypes
import re
import socket
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from yarl import URL

from .. import upstream
from ..config import Settings
from ..errors import BadRequest
from ..upstream import UpstreamError, UpstreamTimeout, UpstreamTLSError, UpstreamTooLarge

MAX_BYTES = 20 * 1024 * 1024  # Gemini's own limit for a whole inline request
TIMEOUT = 15.0  # seconds for the whole fetch: DNS, connect, redirects, body
MAX_REDIRECTS = 5
MAX_FETCHES = 8  # URLs fetched for one request
MAX_TOTAL_BYTES = 20 * 1024 * 1024  # bytes fetched for one request, all URLs together
USER_AGENT = "GeminiEdgeProxy/1.0 (+media fetch for a Gemini request)"
MEDIA_PREFIXES = ("image/", "audio/", "video/")
MEDIA_TYPES = frozenset({"application/pdf"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be"})
FILES_API = re.compile(r"https://generativelanguage\.googleapis\.com/v1[a-z0-9]*/files/[A-Za-z0-9_-]+")
BLOCKED_NAMES = frozenset({"localhost", "metadata", "metadata.google.internal", "instance-data"})
# Not covered by `is_global` on every Python version, or named for emphasis.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",  # CGNAT; also Alibaba Cloud's metadata at 100.100.100.200
        "169.254.0.0/16",  # link-local; AWS, GCP and Azure metadata at 169.254.169.254
        "192.0.0.0/24",  # IETF protocol assignments; Oracle Cloud metadata at 192.0.0.192
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and broadcast
        "fc00::/7",  # unique local; AWS metadata over IPv6 at fd00:ec2::254
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")

_DATA_URL = re.compile(r"data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),", re.I)
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class FetchBudget:
    """What is left of one request's media fetching."""

    fetches: int
    bytes: int


_budget: ContextVar[FetchBudget | None] = ContextVar("media_fetch_budget", default=None)


def start_request() -> None:
    """A fresh fetch budget for the request being handled (see the module docstring)."""
    _budget.set(FetchBudget(MAX_FETCHES, MAX_TOTAL_BYTES))


def _spend_fetch(param: str) -> FetchBudget:
    budget = _budget.get()
    if budget is None:  # a caller that did not start a request: a budget of its own
        budget = FetchBudget(MAX_FETCHES, MAX_TOTAL_BYTES)
        _budget.set(budget)
    if budget.fetches <= 0:
        raise BadRequest(
            f"{param}: this request names more than {MAX_FETCHES} media URLs for the proxy to fetch.", param
        )
    if budget.bytes <= 0:
        raise _failed(param, f"the media fetched for this request already reach {_mb(MAX_TOTAL_BYTES)} MB")
    budget.fetches -= 1
    return budget


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


async def url_part(url: str, settings: Settings, param: str) -> dict[str, Any]:
    """A Gemini part for an image/audio/file URL (data URL, YouTube, Files API, http(s))."""
    if not isinstance(url, str) or not url:
        raise BadRequest(f"{param} must be a non-empty URL string.", param)
    if url[:5].lower() == "data:":
        return data_url_part(url, param)
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError):
        raise BadRequest(f"{param} is not a valid URL.", param) from None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https") or not parsed.raw_host:
        raise BadRequest(f"{param} must be a data URL or an http(s) URL.", param)
    if (
        FILES_API.fullmatch(str(parsed.with_query(None).with_fragment(None)))
        or parsed.raw_host.lower() in YOUTUBE_HOSTS
    ):
        return {"fileData": {"fileUri": url.strip()}}
    budget = _spend_fetch(param)
    limit = min(MAX_BYTES, budget.bytes)
    mime, data = await fetch(parsed, settings, param, limit)
    budget.bytes -= len(data)
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode("ascii")}}


def data_url_part(url: str, param: str) -> dict[str, Any]:
    """`data:<type>[;params][;base64],<data>` -> inlineData; refused if malformed."""
    match = _DATA_URL.match(url)
    if not match:
        raise BadRequest(f"{param} is not a valid data URL (expected data:<type>;base64,<data>).", param)
    mime = match["mime"].strip().lower()
    if not _MIME.fullmatch(mime):
        raise BadRequest(f"{param} is a data URL without a valid media type (like image/png).", param)
    payload = url[match.end() :]
    if not payload:
        raise BadRequest(f"{param} is a data URL with no data.", param)
    if match["params"].lower().endswith(";base64"):
        if not is_base64(payload):
            raise BadRequest(f"{param} is a data URL whose data is not valid base64.", param)
        data = payload
    else:  # percent-encoded text, as RFC 2397 allows; Gemini wants base64
        data = base64.b64encode(unquote_to_bytes(payload)).decode("ascii")
    return {"inlineData": {"mimeType": mime, "data": data}}


def is_base64(text: str) -> bool:
    """Whether Gemini will take `text` as base64 (standard or URL-safe alphabet, padding
    optional, as protobuf JSON allows). A scan, not a decode: several times faster on a
    large body (figures: docs/speed.md)."""
    if not text.isascii():
        return False
    rest = text.encode("ascii").translate(None, _B64_ALPHABET)
    if rest not in (b"", b"=", b"=="):
        return False
    size = len(text) - len(rest)
    return size % 4 != 1 and (not rest or (text.endswith(rest.decode()) and len(text) % 4 == 0))


def address_allowed(ip: Address) -> bool:
    """Whether the proxy may connect to `ip`: only public unicast addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        translated = ip.ipv4_mapped
        if translated is None and ip in NAT64:
            translated = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if translated is not None:  # the IPv4 address is what is really reached
            return address_allowed(translated)
        if ip.sixtofour is not None and not address_allowed(ip.sixtofour):
            return False
    if any(ip in net for net in BLOCKED_NETWORKS if net.version == ip.version):
        return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


async def vetted_address(host: str, port: int, param: str) -> str:
    """The address to connect to for `host`, after checking every address it resolves to."""
    name = host.strip("[]").rstrip(".").lower()
    if name in BLOCKED_NAMES or name.endswith((".localhost", ".internal")):
        raise _refused(param)
    try:
        literal: Address | None = ipaddress.ip_address(name)
    except ValueError:
        literal = None
    if literal is not None:
        if not address_allowed(literal):
            raise _refused(param)
        return str(literal)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            name, port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
        )
    except (socket.gaierror, UnicodeError, OSError):
        raise BadRequest(f"The URL in {param} could not be fetched: its host name does not resolve.", param) from None
    addresses = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except ValueError:
            raise _refused(param) from None
    # All must be public: a name that also resolves to an internal address is refused
    # rather than trusted to pick the right one.
    if not addresses or not all(address_allowed(a) for a in addresses):
        raise _refused(param)
    # IPv4 first: it is what every host (Lambda included) can reach; the order of
    # getaddrinfo is kept within each family.
    return str(min(addresses, key=lambda a: a.version))


def _refused(param: str) -> BadRequest:
    return BadRequest(
        f"The URL in {param} is not allowed: it points to a local, private or reserved network address.",
        param,
    )


def _failed(param: str, why: str) -> BadRequest:
    return BadRequest(f"The URL in {param} could not be fetched: {why}.", param)


def media_type(header: str, url: URL) -> str | None:
    """The accepted media type of an answer, or None."""
    mime = header.split(";", 1)[0].strip().lower()
    if mime in ("", "application/octet-stream", "binary/octet-stream"):
        mime = (mimetypes.guess_type(url.path)[0] or "").lower()
    if mime.startswith(MEDIA_PREFIXES) or mime in MEDIA_TYPES:
        return mime
    return None


async def fetch(url: URL, settings: Settings, param: str, limit: int | None = None) -> tuple[str, bytes]:
    """GET `url` under the guard, reading at most `limit` bytes (MAX_BYTES by default,
    less when the request's budget has less left); (media type, body) or BadRequest."""
    limit = MAX_BYTES if limit is None else limit
    try:
        async with asyncio.timeout(TIMEOUT):
            return await _fetch(url, settings, param, limit)
    except (TimeoutError, UpstreamTimeout):
        raise _failed(param, f"it did not answer within {TIMEOUT:g} seconds") from None
    except UpstreamTooLarge:
        if limit < MAX_BYTES:
            raise _failed(param, f"with it the media of this request pass {_mb(MAX_TOTAL_BYTES)} MB") from None
        raise _failed(param, f"it is larger than {_mb(MAX_BYTES)} MB") from None
    except UpstreamTLSError:
        raise _failed(param, "its TLS certificate could not be verified") from None
    except UpstreamError:
        raise _failed(param, "the connection failed") from None


def _pinned(url: URL, address: str) -> tuple[URL, dict[str, str], str | None]:
    """The URL with its host replaced by the vetted address, the headers that name the
    host, and the TLS server name to check."""
    scheme = url.scheme.lower()
    host = url.raw_host or ""
    host_header = f"[{host}]" if ":" in host else host
    if url.explicit_port is not None and url.explicit_port != (443 if scheme == "https" else 80):
        host_header += f":{url.explicit_port}"
    headers = {
        "Host": host_header,
        "User-Agent": USER_AGENT,
        "Accept": "image/*, audio/*, video/*, application/pdf",
        "Accept-Encoding": "identity",
    }
    tls_name = host if scheme == "https" and host.strip("[]") != address else None
    return url.with_user(None).with_fragment(None).with_host(address), headers, tls_name


async def _fetch(url: URL, settings: Settings, param: str, limit: int) -> tuple[str, bytes]:
    for _ in range(MAX_REDIRECTS + 1):
        scheme = url.scheme.lower()
        if scheme not in ("http", "https") or not url.raw_host:
            raise _failed(param, "it redirects to a URL that is not http(s)")
        port = url.port or (443 if scheme == "https" else 80)
        address = await vetted_address(url.raw_host, port, param)
        pinned, headers, tls_name = _pinned(url, address)
        response = await upstream.request(settings, "GET", pinned, headers, timeout=TIMEOUT, server_hostname=tls_name)
        try:
            if response.status in REDIRECTS:
                location = response.header("Location")
                if not location:
                    raise _failed(param, f"the server answered {response.status} without a Location")
                try:
                    url = url.join(URL(location))
                except ValueError:
                    raise _failed(param, "it redirects to an invalid URL") from None
                continue
            if not 200 <= response.status < 300:
                raise _failed(param, f"the server answered {response.status}")
            content_type = response.header("Content-Type") or ""
            mime = media_type(content_type, url)
            if mime is None:
                shown = content_type.split(";", 1)[0].strip()[:80] or "missing"
                raise _failed(param, f"its content type is {shown!r}; only images, audio, video and PDF are accepted")
            if (response.header("Content-Encoding") or "identity").lower() not in ("identity", ""):
                raise _failed(param, "the server sent a compressed body")
            if (response.content_length or 0) > limit:
                raise UpstreamTooLarge()
            return mime, await response.read(limit)
        finally:
            response.close()
    raise _failed(param, f"it redirects more than {MAX_REDIRECTS} times")
