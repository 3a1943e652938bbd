"""Where the PBX sits and how it reaches the carrier: one description for a dealer's site and the lab.

``dialer pbx render`` builds :class:`Site` and :class:`Trunk` from ``[site]`` and ``[trunk]``; the lab
builds the same two values from ``[lab]`` on loopback. The templates only ever see these values, so
one ``pjsip.conf`` serves both and the lab exercises what a dealer deploys.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum

from dialer.domain.pbx.phones import PhoneError, check_endpoint
from dialer.settings import Settings, SiteSettings, TrunkSettings

TRANSPORTS = ("udp", "tcp", "tls")
# A DNS name: labels of letters, digits and '-', separated by dots.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
# What may stand in a SIP user part we write (user names, DIDs): no quoting needed, nothing Asterisk cuts.
_SIP_USER = re.compile(r"^[A-Za-z0-9+._-]{1,64}$")


class TrunkAuth(StrEnum):
    """How the carrier knows the PBX."""

    REGISTER = "register"  # outbound registration plus digest answers to its challenges
    DIGEST = "digest"  # no registration; the carrier challenges each call
    IP = "ip"  # the carrier trusts the PBX's address


@dataclass(frozen=True, slots=True)
class Transport:
    """One SIP listener of the PBX."""

    protocol: str  # udp | tcp | tls
    port: int


# The path Asterisk's res_http_websocket serves SIP on (http.conf has no prefix).
WEBSOCKET_PATH = "/ws"


@dataclass(frozen=True, slots=True)
class WebSocketServer:
    """Asterisk's HTTP server carrying the browser phones' SIP: plain ws on the lab's loopback, TLS (wss)
    with the site's certificate at a dealer (browsers give a page's microphone only to secure origins and
    refuse a plain WebSocket from an https page)."""

    address: str  # what it binds
    port: int
    host: str  # what browsers connect to (the certificate's name for wss)
    cert_file: str = ""  # "" = plain ws (the lab)
    key_file: str = ""

    @property
    def secure(self) -> bool:
        """TLS (wss) rather than plain ws."""
        return bool(self.cert_file)

    @property
    def origin(self) -> str:
        """Scheme, host and port: what a page's Content-Security-Policy must allow it to connect to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if self.secure else 'ws'}://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The WebSocket URL a browser phone connects to."""
        return self.origin + WEBSOCKET_PATH


@dataclass(frozen=True, slots=True)
class BrowserPhones:
    """Which agents' phones are their browser, and the WebSocket those browsers register over."""

    endpoints: tuple[str, ...] = ()
    server: WebSocketServer | None = None
    # Where their media (ICE candidates, RTP) is; "" = the site's address.
    media_address: str = ""


@dataclass(frozen=True, slots=True)
class Site:
    """The PBX's network: what it binds, what it tells the world behind NAT, where phones may be."""

    address: str
    transports: tuple[Transport, ...]
    rtp_start: int
    rtp_end: int
    # Phones register and call only from these networks (CIDR); with NAT they are not rewritten either.
    local_networks: tuple[str, ...]
    external_address: str = ""  # "" = no NAT
    tls_cert_file: str = ""
    tls_key_file: str = ""
    browser: BrowserPhones = BrowserPhones()

    @property
    def nat(self) -> bool:
        """Whether the PBX rewrites what it sends beyond the local networks to its external address."""
        return bool(self.external_address)


@dataclass(frozen=True, slots=True)
class Trunk:
    """The carrier: where calls go, how the PBX proves itself, and whose calls are the carrier's."""

    endpoint: str
    host: str
    port: int
    transport: str
    auth: TrunkAuth
    # Source addresses (ip, cidr or ip:port) taken as the carrier's inbound calls.
    match: tuple[str, ...]
    username: str = ""
    password: str = field(default="", repr=False)
    did: str = ""
    from_domain: str = ""
    expiration_s: int = 3600
    retry_interval_s: int = 60

    @property
    def uri(self) -> str:
        """The carrier's SIP server as Asterisk dials and registers to it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        suffix = "" if self.transport == "udp" else f";transport={self.transport}"
        return f"sip:{host}:{self.port}{suffix}"


def site_from_settings(site: SiteSettings) -> Site:
    """The dealer's :class:`Site` from a checked ``[site]`` (see :func:`settings_problems`)."""
    ports = {"udp": site.sip_port, "tcp": site.sip_port, "tls": site.tls_port}
    return Site(
        address=site.address,
        transports=tuple(Transport(p, ports[p]) for p in site.transports),
        rtp_start=site.rtp_start,
        rtp_end=site.rtp_end,
        local_networks=tuple(str(ipaddress.ip_network(n, strict=False)) for n in site.local_networks),
        external_address=site.external_address,
        tls_cert_file=site.tls_cert_file,
        tls_key_file=site.tls_key_file,
        browser=_site_browser_phones(site),
    )


def _site_browser_phones(site: SiteSettings) -> BrowserPhones:
    if not site.browser_phones:
        return BrowserPhones()
    server = WebSocketServer(
        address=site.address,
        port=site.wss_port,
        host=site.wss_host or site.address,
        cert_file=site.wss_cert_file,
        key_file=site.wss_key_file,
    )
    return BrowserPhones(tuple(site.browser_phones), server)


def lab_browser_phones(settings: Settings, host: str) -> BrowserPhones:
    """The lab's browser phones: ``[lab] browser_phones`` over plain ws on loopback ``host``."""
    lab = settings.lab
    if not lab.browser_phones:
        return BrowserPhones()
    server = WebSocketServer(host, lab.http_port, host)
    return BrowserPhones(tuple(lab.browser_phones), server, lab.browser_media_address)


def browser_phones(settings: Settings, lab_host: str) -> BrowserPhones:
    """The browser phones the console serves: the site's once ``[site]`` is set up, else the lab's."""
    if settings.site.address:
        return _site_browser_phones(settings.site)
    return lab_browser_phones(settings, lab_host)


def trunk_from_settings(trunk: TrunkSettings, endpoint: str) -> Trunk:
    """The dealer's :class:`Trunk` (named ``endpoint``, ``pbx.carrier_endpoint``) from a checked ``[trunk]``."""
    return Trunk(
        endpoint=endpoint,
        host=trunk.host,
        port=trunk.port,
        transport=trunk.transport,
        auth=TrunkAuth(trunk.auth),
        match=trunk.match or (trunk.host,),
        username=trunk.username,
        password=trunk.password,
        did=trunk.did,
        from_domain=trunk.from_domain or trunk.host,
        expiration_s=trunk.expiration_s,
        retry_interval_s=trunk.retry_interval_s,
    )


def settings_problems(site: SiteSettings, trunk: TrunkSettings) -> list[str]:
    """What is wrong in ``[site]`` and ``[trunk]``, each naming its key; empty sections are "not set up yet"
    (the lab needs neither), which ``dialer pbx render`` refuses on its own (:func:`render_problems`)."""
    problems: list[str] = []
    if site != SiteSettings():
        problems += _site_problems(site)
    if trunk != TrunkSettings():
        problems += _trunk_problems(trunk, site)
    return problems


def render_problems(site: SiteSettings, trunk: TrunkSettings) -> list[str]:
    """What keeps ``[site]`` and ``[trunk]`` from describing a deployable PBX (beyond :func:`settings_problems`)."""
    problems: list[str] = []
    if not site.address:
        problems.append("site.address is empty: set the PBX's LAN address")
    if not site.local_networks:
        problems.append("site.local_networks is empty: name the LAN the phones are on (e.g. 192.168.1.0/24)")
    if not trunk.host:
        problems.append("trunk.host is empty: set the carrier's SIP server")
    return problems + settings_problems(site, trunk)


def _site_problems(site: SiteSettings) -> list[str]:
    problems: list[str] = []
    if site.address:
        try:
            address = ipaddress.ip_address(site.address)
        except ValueError:
            problems.append(f"site.address = {site.address!r}: must be the PBX's own IP address")
        else:
            if address.is_unspecified:
                problems.append(f"site.address = {site.address!r}: give the LAN address itself, not 'any'")
    networks = []
    for net in site.local_networks:
        try:
            networks.append(ipaddress.ip_network(net, strict=False))
        except ValueError:
            problems.append(f"site.local_networks: {net!r} is not a network (e.g. 192.168.1.0/24)")
    if site.external_address and not _is_host(site.external_address):
        problems.append(f"site.external_address = {site.external_address!r}: must be an IP address or DNS name")
    if site.external_address and not site.local_networks:
        problems.append(
            "site.external_address is set but site.local_networks is empty: the phones' LAN would be sent the "
            "external address too"
        )
    if site.external_address and _is_ip(site.external_address):
        outside = ipaddress.ip_address(site.external_address)
        if any(outside in n for n in networks):
            problems.append(
                f"site.external_address = {site.external_address!r} lies inside site.local_networks: "
                "the external address is the one the carrier sees, outside the LAN"
            )
    if site.address and _is_ip(site.address) and networks:
        inside = ipaddress.ip_address(site.address)
        if not any(inside in n for n in networks):
            problems.append(f"site.address = {site.address!r} is in none of site.local_networks")
    unknown = [t for t in site.transports if t not in TRANSPORTS]
    if unknown or not site.transports or len(set(site.transports)) != len(site.transports):
        problems.append(f"site.transports = {list(site.transports)!r}: one or more of udp, tcp, tls, each once")
    for key in ("sip_port", "tls_port", "rtp_start", "rtp_end"):
        value = getattr(site, key)
        if not 1024 <= value <= 65535:
            problems.append(f"site.{key} = {value}: must be between 1024 and 65535")
    if "tls" in site.transports and site.tls_port == site.sip_port:
        problems.append(f"site.tls_port = {site.tls_port}: must differ from site.sip_port")
    if site.rtp_end - site.rtp_start < 100:
        problems.append("site.rtp_start..rtp_end: give RTP at least 100 ports (2 per call)")
    if "tls" in site.transports:
        for key in ("tls_cert_file", "tls_key_file"):
            value = getattr(site, key)
            if not value.startswith("/"):
                problems.append(f"site.{key} = {value!r}: TLS needs the absolute path of a PEM file on the PBX")
    problems += _browser_problems(site)
    for key in ("address", "external_address", "tls_cert_file", "tls_key_file", "wss_cert_file", "wss_key_file"):
        if any(c in getattr(site, key) for c in ";\n\r"):
            problems.append(f"site.{key}: newline and ';' cannot be written into an Asterisk config")
    return problems


def _browser_problems(site: SiteSettings) -> list[str]:
    """The browser phones' keys; the server's keys are checked only when there are browser phones."""
    problems: list[str] = []
    for endpoint in site.browser_phones:
        try:
            check_endpoint(endpoint)
        except PhoneError as exc:
            problems.append(f"site.browser_phones: {exc}")
    if len(set(site.browser_phones)) != len(site.browser_phones):
        problems.append(f"site.browser_phones = {list(site.browser_phones)!r}: each endpoint once")
    if not site.browser_phones:
        return problems
    if not 1024 <= site.wss_port <= 65535:
        problems.append(f"site.wss_port = {site.wss_port}: must be between 1024 and 65535")
    taken = {site.sip_port: "site.sip_port"} | ({site.tls_port: "site.tls_port"} if "tls" in site.transports else {})
    if site.wss_port in taken:
        problems.append(f"site.wss_port = {site.wss_port}: must differ from {taken[site.wss_port]}")
    if site.wss_host and not _is_host(site.wss_host):
        problems.append(f"site.wss_host = {site.wss_host!r}: must be the DNS name (or IP address) in the certificate")
    for key in ("wss_cert_file", "wss_key_file"):
        value = getattr(site, key)
        if not value.startswith("/"):
            problems.append(
                f"site.{key} = {value!r}: browser phones need the absolute path of a PEM file on the PBX "
                "(browsers refuse a plain WebSocket and a microphone outside https)"
            )
    return problems


def _trunk_problems(trunk: TrunkSettings, site: SiteSettings) -> list[str]:
    problems: list[str] = []
    if not trunk.host or not _is_host(trunk.host):
        problems.append(f"trunk.host = {trunk.host!r}: must be the carrier's IP address or DNS name")
    if not 1 <= trunk.port <= 65535:
        problems.append(f"trunk.port = {trunk.port}: must be between 1 and 65535")
    if trunk.transport not in TRANSPORTS:
        problems.append(f"trunk.transport = {trunk.transport!r}: must be udp, tcp or tls")
    elif trunk.transport not in site.transports:
        problems.append(f"trunk.transport = {trunk.transport!r} is not in site.transports {list(site.transports)!r}")
    try:
        auth = TrunkAuth(trunk.auth)
    except ValueError:
        problems.append(f"trunk.auth = {trunk.auth!r}: must be register, digest or ip")
    else:
        if auth is not TrunkAuth.IP and not (trunk.username and trunk.password):
            problems.append(f"trunk.auth = {auth.value!r} needs trunk.username and trunk.password")
        if auth is TrunkAuth.IP and not trunk.did:
            problems.append("trunk.auth = 'ip' needs trunk.did: the carrier knows the dealer's calls by that number")
    if trunk.username and not _SIP_USER.match(trunk.username):
        problems.append(f"trunk.username = {trunk.username!r}: use letters, digits, '+', '.', '_' or '-'")
    if trunk.did and not _SIP_USER.match(trunk.did):
        problems.append(f"trunk.did = {trunk.did!r}: use digits (and a leading '+')")
    if any(c in trunk.password for c in ";\n\r"):
        problems.append("trunk.password: newline and ';' cannot be written into an Asterisk config")
    if trunk.from_domain and not _is_host(trunk.from_domain):
        problems.append(f"trunk.from_domain = {trunk.from_domain!r}: must be an IP address or DNS name")
    if not trunk.match and trunk.host and _is_host(trunk.host) and not _is_ip(trunk.host):
        problems.append(
            f"trunk.match is empty and trunk.host = {trunk.host!r} is a name: list the carrier's source "
            "addresses (IP or CIDR), the only senders taken as the inbound trunk"
        )
    for entry in trunk.match:
        if not _is_match(entry):
            problems.append(f"trunk.match: {entry!r} is not an IP address, a network or ip:port")
    if not 60 <= trunk.expiration_s <= 86400:
        problems.append(f"trunk.expiration_s = {trunk.expiration_s}: must be between 60 and 86400")
    if not 10 <= trunk.retry_interval_s <= 3600:
        problems.append(f"trunk.retry_interval_s = {trunk.retry_interval_s}: must be between 10 and 3600")
    return problems


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_host(value: str) -> bool:
    return _is_ip(value) or bool(_HOSTNAME.match(value))


def _is_match(entry: str) -> bool:
    """An identify ``match`` Asterisk takes and the ACL can hold: an address, a network, or address:port."""
    host, sep, port = entry.rpartition(":") if entry.count(":") == 1 else ("", "", "")
    if sep:
        return _is_ip(host) and port.isdigit() and 0 < int(port) < 65536
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def match_network(entry: str) -> str:
    """The network of a ``match`` entry without its port: what a SIP ACL permits."""
    host = entry.rpartition(":")[0] if entry.count(":") == 1 else entry
    return str(ipaddress.ip_network(host, strict=False))


class NatFinding(StrEnum):
    """What looks wrong in the NAT settings of a site whose keys are each valid on their own."""

    # The PBX has a private address, the carrier a public one, and no external address is set: the
    # carrier would be told to send its audio to a private address (one-way or no audio).
    PRIVATE_WITHOUT_NAT = "private_without_nat"
    # An external address is set although the PBX's own address is public: nothing to translate.
    NAT_ON_PUBLIC_ADDRESS = "nat_on_public_address"


def nat_findings(site: SiteSettings, trunk: TrunkSettings) -> list[NatFinding]:
    """Checks of the site's NAT settings against the carrier's address, for ``dialer doctor``."""
    if not _is_ip(site.address):
        return []
    own_lan = _on_a_lan(site.address)
    findings = []
    carrier_beyond = _is_ip(trunk.host) and not _on_a_lan(trunk.host)
    if own_lan and carrier_beyond and not site.external_address:
        findings.append(NatFinding.PRIVATE_WITHOUT_NAT)
    if not own_lan and site.external_address:
        findings.append(NatFinding.NAT_ON_PUBLIC_ADDRESS)
    return findings


# Addresses only reachable inside a site (RFC 1918, carrier-grade NAT, loopback, link-local, IPv6 ULA):
# a PBX here needs NAT towards a carrier outside. (Python's is_private also counts the documentation
# ranges, which stand for public addresses in examples.)
_LAN_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "fc00::/7", "fe80::/10", "::1/128",
    )
)  # fmt: skip


def _on_a_lan(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == n.version and ip in n for n in _LAN_NETWORKS)
