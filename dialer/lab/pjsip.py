"""The SIP sections of ``pjsip.conf``, written from one :class:`SipPlan`: the same code for a dealer and the lab.

The template keeps what never changes (codecs, media through Asterisk, the contexts); this module
writes what depends on the site: the transports with their NAT settings, the ACL that drops SIP
from anywhere but the local networks and the carrier, the carrier trunk in its authentication mode,
the addresses taken as the inbound trunk, and one registering account per phone. Values were
checked when the settings were loaded (``dialer.domain.pbx.site``) or the accounts stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialer.domain.pbx.phones import REALM, PhoneAccount
from dialer.domain.pbx.site import BrowserPhones, Site, Trunk, TrunkAuth, match_network

# How long a phone's registration may last. Desk phones and softphones ask for an hour or less and
# renew; the lab's SIPp phones register once for a day.
PHONE_MAX_EXPIRATION_S = 86400
# After a 403 from the carrier (wrong password) the PBX waits this long before trying again,
# rather than hammering the carrier into blocking the dealer's address.
FORBIDDEN_RETRY_S = 600


@dataclass(frozen=True, slots=True)
class SipPlan:
    """Everything ``pjsip.conf`` says about the network: the site, its carrier and its phones."""

    site: Site
    trunk: Trunk
    phones: tuple[PhoneAccount, ...]


def transport_name(protocol: str) -> str:
    """The transport section a protocol listens on (``transport-udp``, ...)."""
    return f"transport-{protocol}"


def transports(site: Site) -> str:
    """One transport section per protocol, bound to the site's address, with NAT settings when behind NAT."""
    host = f"[{site.address}]" if ":" in site.address else site.address
    sections = []
    for t in site.transports:
        lines = [f"[{transport_name(t.protocol)}]", "type = transport", f"protocol = {t.protocol}"]
        lines.append(f"bind = {host}:{t.port}")
        if t.protocol == "tls":
            lines += [f"cert_file = {site.tls_cert_file}", f"priv_key_file = {site.tls_key_file}", "method = tlsv1_2"]
        if site.nat:
            lines += [
                f"external_signaling_address = {site.external_address}",
                f"external_media_address = {site.external_address}",
            ]
            lines += [f"local_net = {net}" for net in site.local_networks]
        sections.append("\n".join(lines) + "\n")
    server = site.browser.server
    if server is not None:
        # The browsers' SIP arrives through Asterisk's HTTP server (http.conf), which binds the port;
        # this section names the transport and carries the NAT settings for what goes back.
        protocol = "wss" if server.secure else "ws"
        lines = [
            f"[{transport_name(protocol)}]",
            "type = transport",
            f"protocol = {protocol}",
            f"bind = {host}:{server.port}",
        ]
        if site.nat:
            lines += [f"external_media_address = {site.external_address}"]
            lines += [f"local_net = {net}" for net in site.local_networks]
        sections.append("\n".join(lines) + "\n")
    return "\n".join(sections)


def http_server(browser: BrowserPhones) -> str:
    """``http.conf``'s ``[general]``: off without browser phones; else the WebSocket's server, plain on the
    lab's loopback, TLS only at a site (``enabled = no`` turns off only the plain listener; Asterisk 16.28
    and 22 both still serve TLS then)."""
    server = browser.server
    if server is None:
        return "[general]\nenabled = no\n"
    lines = ["[general]", "enablestatic = no", "; Asterisk's name and version stay out of the answers.", "servername ="]
    host = f"[{server.address}]" if ":" in server.address else server.address
    if server.secure:
        lines += [
            "enabled = no",
            "tlsenable = yes",
            f"tlsbindaddr = {host}:{server.port}",
            f"tlscertfile = {server.cert_file}",
            f"tlsprivatekey = {server.key_file}",
        ]
    else:
        lines += ["enabled = yes", f"bindaddr = {server.address}", f"bindport = {server.port}"]
    return "\n".join(lines) + "\n"


def acl_permits(plan: SipPlan) -> str:
    """``permit`` lines of the SIP ACL: the local networks and the carrier's addresses, nothing else."""
    networks = dict.fromkeys([*plan.site.local_networks, *(match_network(m) for m in plan.trunk.match)])
    return "\n".join(f"permit = {net}" for net in networks)


def trunk_sections(trunk: Trunk) -> str:
    """The carrier's endpoint and AOR, plus its credentials and outbound registration when it uses them."""
    transport = transport_name(trunk.transport)
    endpoint = [
        f"[{trunk.endpoint}](dcc-endpoint)",
        f"aors = {trunk.endpoint}",
        f"transport = {transport}",
        "; Never taken for a caller: calls from the carrier arrive on inbound-trunk (identified by address).",
        "identify_by = ip",
        f"from_domain = {trunk.from_domain}",
        "; The customer's phone needs no connected-line re-INVITE when an agent is bridged.",
        "send_connected_line = no",
        "; A trunk that carries SMS may deliver customers' messages on this side too.",
        "message_context = dcc-sms",
    ]
    if trunk.did:
        endpoint += [f"from_user = {trunk.did}", "send_pai = yes"]
    if trunk.auth is not TrunkAuth.IP:
        endpoint.append(f"outbound_auth = {trunk.endpoint}-auth")
    sections = ["\n".join(endpoint), f"[{trunk.endpoint}](dcc-aor)\ncontact = {trunk.uri}"]
    if trunk.auth is not TrunkAuth.IP:
        sections.append(
            f"[{trunk.endpoint}-auth]\ntype = auth\nauth_type = userpass\n"
            f"username = {trunk.username}\npassword = {trunk.password}"
        )
    if trunk.auth is TrunkAuth.REGISTER:
        user = trunk.did or trunk.username
        host = trunk.uri.removeprefix("sip:")
        sections.append(
            "\n".join(
                [
                    f"[{trunk.endpoint}-reg]",
                    "type = registration",
                    f"transport = {transport}",
                    f"outbound_auth = {trunk.endpoint}-auth",
                    f"server_uri = {trunk.uri}",
                    f"client_uri = sip:{trunk.username}@{host}",
                    f"contact_user = {user}",
                    f"expiration = {trunk.expiration_s}",
                    f"retry_interval = {trunk.retry_interval_s}",
                    f"forbidden_retry_interval = {FORBIDDEN_RETRY_S}",
                    "; Keep trying for as long as the PBX runs: a carrier outage must not end registration for good.",
                    "max_retries = 1000000",
                    "auth_rejection_permanent = no",
                ]
            )
        )
    return "\n\n".join(sections) + "\n"


def inbound_matches(trunk: Trunk) -> str:
    """The ``match`` lines of the inbound trunk's identify section: the carrier's source addresses."""
    return "\n".join(f"match = {m}" for m in trunk.match)


def phone_sections(phones: tuple[PhoneAccount, ...], browser: tuple[str, ...] = ()) -> str:
    """Per phone: digest credentials (HA1 only), an AOR taking one registration, and the endpoint: a
    browser phone (WebRTC, ``dcc-browser-phone``) for the endpoints in ``browser``, else a desk phone."""
    sections = []
    for phone in phones:
        name = phone.endpoint
        kind = "dcc-browser-phone" if name in browser else "dcc-phone"
        sections.append(
            "\n".join(
                [
                    f"[{name}]",
                    "type = auth",
                    "auth_type = md5",
                    f"username = {phone.username}",
                    f"realm = {REALM}",
                    f"md5_cred = {phone.ha1}",
                    "",
                    f"[{name}](dcc-phone-aor)",
                    "",
                    f"[{name}]({kind})",
                    f"auth = {name}",
                    f"aors = {name}",
                ]
            )
            + "\n"
        )
    return "\n".join(sections) if sections else "; (no phone accounts yet: dialer phones add ENDPOINT)\n"


def contact_permits(site: Site) -> str:
    """``contact_permit`` lines: a phone may register only a contact on the local networks."""
    return "\n".join(f"contact_permit = {net}" for net in site.local_networks)
