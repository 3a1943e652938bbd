"""Configuration: one TOML file, parsed and validated at start-up in one place.

Every rule with a number in it (line limits, ring time, the early-hang-up window,
...) lives here with a documented default, so the code reads it instead of
carrying constants. ``config/dialer.toml`` is the annotated sample.

Any value can be overridden from the environment as ``DIALER__SECTION__KEY``
(e.g. ``DIALER__PBX__AMI_SECRET``), which is how secrets stay out of files.
Errors name the file, the key and the value.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ENV_PREFIX = "DIALER__"
DEFAULT_CONFIG = Path("config/dialer.toml")


class ConfigError(ValueError):
    """The configuration is unusable; the message says where and why."""


@dataclass(frozen=True, slots=True)
class DealerSettings:
    """Who we are; used in greetings, SMS signatures and reports."""

    # This node's dealer in a dealer group (docs/store.md "Dealers"): a short lowercase name, unique in
    # the group. What the node creates is that dealer's, and its campaigns dial only that dealer's leads.
    code: str = "main"
    name: str = "DCC 汽车经销商"
    timezone: str = "Asia/Shanghai"
    region: str = "CN"  # default region for phone numbers without a country code


@dataclass(frozen=True, slots=True)
class PbxSettings:
    """How to reach Asterisk and the limits the PBX enforces."""

    # This PBX's name, unique among the PBXs of one database: a dealer group's nodes share a
    # PostgreSQL, each drives its own site's PBX and holds that name's lease (docs/store.md).
    name: str = "main"
    ami_host: str = "127.0.0.1"
    ami_port: int = 15038
    ami_user: str = "dialer"
    ami_secret: str = "change-me"
    # The handbook's "4 in 8 out": the dialer never asks for more, the dialplan refuses more.
    outbound_lines: int = 8
    inbound_lines: int = 4
    carrier_endpoint: str = "carrier"
    dial_format: str = "national"  # national | e164
    caller_id: str = ""
    # How long a customer's phone may ring before the attempt is a no-answer.
    ring_timeout_s: float = 30.0
    action_timeout_s: float = 5.0
    ping_interval_s: float = 5.0
    ping_timeout_s: float = 3.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 15.0
    # At start-up, keep trying this many seconds while Asterisk only fails to answer the login in time
    # (a PBX just booted on a loaded host); a refused connection or login still fails at once. 0 = try once.
    first_connect_retry_s: float = 60.0
    # Every this many seconds, compare the live channels with the calls being followed: a call the PBX
    # no longer has (a missed Hangup) is ended after one more action_timeout_s. 0 = only after a reconnect.
    reconcile_interval_s: float = 60.0
    event_queue_size: int = 10000


@dataclass(frozen=True, slots=True)
class AmdTuning:
    """Answering-machine detection (Asterisk's app_amd), rendered into amd.conf; used only with
    calls.amd = true. Tuned on the lab's Mandarin greetings: asterisk/amd.conf says why each value
    is what it is, docs/asterisk-facts.md what was measured. Times in milliseconds."""

    # AMD listens at most this long, then says NOTSURE; counted against calls.abandon_after_s.
    total_analysis_ms: int = 1600
    # Kept free of analysis within calls.abandon_after_s for the dialer to put the call through.
    connect_reserve_ms: int = 400
    # Silence before any speech longer than this is MACHINE: kept above total_analysis_ms, since
    # a person who answers and waits for the caller is common here.
    initial_silence_ms: int = 2500
    greeting_ms: int = 1100  # this much speech is MACHINE (LONGGREETING)
    after_greeting_silence_ms: int = 300  # this much silence after speech is HUMAN
    min_word_ms: int = 150  # speech shorter than this is not a word
    between_words_silence_ms: int = 60  # silence that ends a word
    maximum_number_of_words: int = 3  # more words than this is MACHINE (MAXWORDS)
    maximum_word_ms: int = 5000  # one word longer than this is MACHINE (MAXWORDLENGTH)
    silence_threshold: int = 256  # mean sample level (0-32767) below which a 20 ms frame is silence


@dataclass(frozen=True, slots=True)
class CallSettings:
    """Rules that classify a call and protect the customer's experience."""

    # Answered calls wait at most this long for an agent, counted from the answer (answering-machine
    # detection included); then they hear the abandon message and count as abandoned (the 2-second rule).
    abandon_after_s: float = 2.0
    # A customer who hangs up within this many seconds of answering, before an
    # agent was connected, is an early hang-up rather than an abandoned call.
    early_hangup_s: float = 2.0
    # Answering-machine detection on outbound calls. Off for region CN: voicemail is rare on Chinese
    # mobiles, the analysis is dead air for a customer who just said hello, and short Mandarin
    # greetings look like a machine to it. When on, a MACHINE verdict still goes to a free agent
    # (docs/telephony.md, "Answering-machine detection").
    amd: bool = False
    agent_answer_timeout_s: float = 10.0
    amd_tuning: AmdTuning = field(default_factory=AmdTuning)
    # Transfer targets the call card offers besides the colleagues (docs/telephony.md, "Transfer, hold and
    # conference"): the phone accounts (dialer phones) of the 电话直销员 and of the showroom reception.
    # A lower-case letter, then letters or digits; "" = not offered.
    telesales_endpoint: str = ""
    showroom_endpoint: str = "showroom"


@dataclass(frozen=True, slots=True)
class PacingDefaults:
    """How hard the dialer may push: the abandonment law and the predictive controller's knobs.

    The limit is the regulator's (abandoned calls over calls a person answered, per day and per
    rolling 30 days); the margin is how far below it the controller aims, so noise does not
    carry a day over the line. docs/pacing.md explains each knob.
    """

    mode: str = "progressive"  # preview | progressive | predictive
    max_abandon_rate: float = 0.03
    # The controller aims at max_abandon_rate - abandon_margin ...
    abandon_margin: float = 0.005
    # ... and starts cutting the overdial once a day's or 30 days' rate, counting the calls waiting
    # for an agent and the next one as abandoned, is this close to the limit.
    throttle_band: float = 0.005
    # Predictive behaves exactly like progressive until this many attempts have ended.
    warmup_attempts: int = 30
    # How many recent attempts / talks / wrap-ups the rate and duration estimates remember.
    sample_size: int = 400
    # The controller's gain: starting value, bounds, and how far one abandoned call moves it (log scale).
    gain_start: float = 0.5
    gain_min: float = 0.2
    gain_max: float = 3.0
    gain_step_down: float = 0.15
    rolling_days: int = 30


@dataclass(frozen=True, slots=True)
class RetryDefaults:
    """When an attempt that ended a given way may be tried again.

    Each value is a delay ("90s", "10m", "2h", "1h30m"), "next_day" (the first window opening on a
    later day) or "never". A retry is always moved into the next calling window.
    """

    busy: str = "10m"
    no_answer: str = "2h"
    congestion: str = "5m"
    early_hangup: str = "1h"
    # The customer heard the abandon message: call back soon, ahead of routine work.
    abandoned: str = "10m"
    machine: str = "4h"
    vacant: str = "never"
    rejected: str = "next_day"
    failed: str = "5m"
    # The agent's disposition schedules the next follow-up of an answered call, not this rule.
    answered: str = "never"
    unknown: str = "30m"
    max_attempts: int = 8
    max_attempts_per_day: int = 3


@dataclass(frozen=True, slots=True)
class WindowDefaults:
    """When customers may be called, in the dealer's local time (dealer.timezone).

    Each weekday is a comma-separated list of "HH:MM-HH:MM" spans ("24:00" ends one at midnight:
    "00:00-24:00" is the whole day); "" means no calls that day.
    Holidays are ISO dates with no calls at all; workdays are ISO dates (the official make-up
    working days) that use the Monday window whatever their weekday.
    """

    mon: str = "09:00-20:00"
    tue: str = "09:00-20:00"
    wed: str = "09:00-20:00"
    thu: str = "09:00-20:00"
    fri: str = "09:00-20:00"
    sat: str = "09:00-20:00"
    sun: str = "09:00-20:00"
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()
    # No new call starts this close to a window's end, so calls end inside the window.
    last_call_margin_s: float = 300.0


@dataclass(frozen=True, slots=True)
class CampaignDefaults:
    """Campaign rules every campaign starts from: pacing, retries, windows, agents, priority."""

    pacing: PacingDefaults = field(default_factory=PacingDefaults)
    retry: RetryDefaults = field(default_factory=RetryDefaults)
    windows: WindowDefaults = field(default_factory=WindowDefaults)
    # Wrap-up ends when the agent submits a disposition, or after this long without one.
    wrap_up_timeout_s: float = 120.0
    # Preview mode: a lead offered to an agent goes back to the hopper if neither accepted nor
    # skipped within this long (the agent may have left the desk; the lead must not stay locked).
    preview_timeout_s: float = 60.0
    # The reasons an agent may pause with at the desk (break, training, meeting, lunch); the wallboard shows them.
    pause_reasons: tuple[str, ...] = ("休息", "培训", "会议", "午餐")
    # A lead whose follow-up deadline is this close outranks everything else in the hopper.
    deadline_urgent_s: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class LabSettings:
    """The private Asterisk and SIPp parties of ``dialer lab``: loopback only, high ports."""

    dir: str = "var/lab"
    sip_port: int = 15060
    carrier_port: int = 15070
    agents_port: int = 15080
    supervisor_port: int = 15090
    inbound_port: int = 15100  # SIPp callers send from here (issue 6 uses it)
    rtp_start: int = 20000
    rtp_end: int = 29999
    agents: int = 8
    customers_file: str = "asterisk/sipp/customers.csv"
    # The DID the lab's carrier trunk presents, as a dealer's ``[trunk] did``: the From user of every
    # call, with the caller ID in a P-Asserted-Identity. Empty: no DID, the From user is the caller ID.
    did: str = ""
    # Asterisk's HTTP server on loopback: the browser phones' SIP WebSocket (plain ws://127.0.0.1:PORT/ws).
    http_port: int = 15088
    # Agents' endpoints whose phone is the desk in a browser (WebRTC) rather than a SIPp phone; the same
    # account (user name and password), rendered as a browser phone. See [site] browser_phones.
    browser_phones: tuple[str, ...] = ()
    # The address the browser phones' media (DTLS-SRTP with ICE) uses: an address of a network interface
    # other than loopback, since Asterisk's ICE (pjproject) never offers a loopback candidate and a browser
    # gets no audio without one. Empty: 127.0.0.1, which registers and rings but carries no audio.
    browser_media_address: str = ""


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """The dealer's network as the PBX sees it, for ``dialer pbx render`` (asterisk/README.md, "Deploying at a site").

    The lab ignores this section: it builds the same description from ``[lab]`` on loopback.
    """

    # The PBX's own LAN address: SIP and RTP bind to it. Empty: not set up yet (pbx render refuses).
    address: str = ""
    # The public address the carrier sees when the PBX sits behind NAT (IP or DNS name); empty = no NAT.
    external_address: str = ""
    # The LAN (CIDR, e.g. 192.168.1.0/24): phones may register and call only from here, and with NAT
    # nothing sent here is rewritten to the external address.
    local_networks: tuple[str, ...] = ()
    # udp, tcp and/or tls; each listens on its port below.
    transports: tuple[str, ...] = ("udp",)
    sip_port: int = 5060
    tls_port: int = 5061
    # PEM files Asterisk reads (absolute paths on the PBX); needed only with "tls".
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # Asterisk's RTP ports (two per call leg); open them (UDP) towards the carrier when behind NAT.
    rtp_start: int = 10000
    rtp_end: int = 20000
    # Agents' endpoints whose phone is the desk in a browser (WebRTC: SIP over a secure WebSocket, media
    # DTLS-SRTP) instead of a desk phone: the same account, rendered as a browser phone. Empty: no browser
    # phones, and Asterisk's HTTP server stays off.
    browser_phones: tuple[str, ...] = ()
    # Asterisk's HTTPS server on site.address carrying the browsers' WebSocket (wss://HOST:PORT/ws).
    wss_port: int = 8089
    # The name browsers reach the PBX by, as its certificate names it; empty: site.address.
    wss_host: str = ""
    # PEM certificate (with its chain) and key of that server, absolute paths on the PBX; browsers must
    # trust the certificate (the dealer's own CA or a public one), or they refuse the WebSocket.
    wss_cert_file: str = ""
    wss_key_file: str = ""


@dataclass(frozen=True, slots=True)
class TrunkSettings:
    """The carrier's SIP trunk of a dealer's PBX (asterisk/README.md); the lab's carrier is SIPp on loopback.

    ``auth``: "register" (the PBX registers to the carrier and answers its challenges), "digest"
    (no registration; the carrier challenges each call) or "ip" (the carrier trusts the PBX's
    address; no credentials).
    """

    host: str = ""  # the carrier's SIP server (IP or DNS name)
    port: int = 5060
    transport: str = "udp"  # udp | tcp | tls; must be one of site.transports
    auth: str = "register"  # register | digest | ip
    username: str = ""
    # Secret: set it as DIALER__TRUNK__PASSWORD, not in the file; kept out of repr() so it is never logged.
    password: str = field(default="", repr=False)
    # Addresses (IP or CIDR, optionally ip:port) the carrier's calls come from; they are the only
    # senders taken as the inbound trunk. Empty: the host itself (then it must be an IP address).
    match: tuple[str, ...] = ()
    # The dealer's number (DID): the From user of every call and registration to the carrier.
    did: str = ""
    # The From domain the carrier expects; empty = the host.
    from_domain: str = ""
    # Registration: requested lifetime and the wait before trying again after a failure.
    expiration_s: int = 3600
    retry_interval_s: int = 60


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the store lives: the embedded SQLite file (the default), or a dealer group's PostgreSQL (docs/store.md)."""

    path: str = "var/dialer.sqlite3"
    # Empty: the SQLite file at `path`. "postgresql://user@host:5432/dialer" selects that PostgreSQL
    # database instead (a dealer group: one node per PBX on it). A password belongs in
    # DIALER__STORE__URL, not in this file; kept out of repr() so it is never logged.
    url: str = field(default="", repr=False)
    # On PostgreSQL a node holds its PBX's lease (pbx.name) this long past each renewal (renewed every
    # third of it): a node that died is replaced this long after its last renewal at the latest.
    lease_s: float = 30.0
    # A dealer group's streaming-replication standby of that database, for `dialer doctor` to check
    # (is it replaying, how far behind); empty: none. Its password belongs in DIALER__STORE__STANDBY_URL.
    standby_url: str = field(default="", repr=False)


# Recordings are complaint evidence: no configuration may keep them for less than this.
RETENTION_FLOOR_DAYS = 30


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    """Where call recordings live, how long they are kept and what happens when the disk fills (docs/recording.md)."""

    dir: str = "var/recordings"
    # Files older than this are deleted (and the deletion audited); never under RETENTION_FLOOR_DAYS.
    retention_days: int = 180
    # After the call: "flac" (sox, lossless, smaller, plays in browsers) or "none" (keep the WAV).
    compress: str = "flac"
    # Below low_free_mb the status is "low" (warning); below min_free_mb it is "full" (logged as an error).
    low_free_mb: int = 5120
    min_free_mb: int = 1024
    # When "full": keep_recording (calls go on recorded until the disk is really out) or
    # stop_recording (new calls go on without a recording; calls already recording finish).
    disk_full_policy: str = "keep_recording"
    disk_check_interval_s: float = 60.0
    # MixMonitor finishes a call's WAV (fills in its header) in its own thread after the PBX reports the
    # hangup, later on a loaded PBX: an unfinished file is looked at again for up to this long before it
    # is logged as recording.unfinished and left (never removed) for `dialer recordings reconcile`.
    settle_s: float = 10.0
    # The QA scoring form (items, weights, Chinese labels); see docs/qa.md.
    qa_form: str = "config/qa_form.toml"
    # The console's weekly QA sample: this many calls per agent to score each week (docs/qa.md).
    qa_sample_per_week: int = 5


@dataclass(frozen=True, slots=True)
class BackupSettings:
    """Backups of the store and the recordings (docs/backup.md); checked by ``domain/backup/schedule.py``."""

    # Each backup is a folder named by its local time (YYYYMMDD-HHMMSS) below this one. Put it on
    # another disk than the store, or copy it off the machine: a backup beside the store dies with its disk.
    dir: str = "var/backups"
    # How many backups stay: older ones are removed once a new one is made and verified.
    keep: int = 7
    # When `dialer web` makes its daily backup (HH:MM, dealer time); "" makes none.
    time: str = "02:30"
    # "copy": new or changed recording files are copied into <dir>/recordings (by SHA-256, so
    # unchanged audio is stored once however many backups list it); "list": only listed with
    # their checksums (when the recordings folder is backed up by other means).
    recordings: str = "copy"


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """The suppression list, consent and the PIPL rights (docs/privacy.md); checked by
    ``domain/privacy/policy.py``."""

    # Contact that needs the customer's recorded consent (the lead's consent column, "同意联系" in an
    # import): any of "calls" (campaign dialling), "sms" (every SMS), "promotional_sms" (repurchase
    # waves and other promotional text). Empty: consent is shown, never enforced; the suppression
    # list is obeyed either way.
    consent_required_for: tuple[str, ...] = ()
    # Retention, applied every day by `dialer web` (0 keeps forever). Leads: a lead no one touched
    # (updated_at) for this many days is anonymized like an erasure, with its SMS and calls.
    leads_days: int = 1095
    # SMS (sent and received): number and text of older messages are anonymized.
    sms_days: int = 730
    # Call attempts: the number of older attempts is removed (the counts the KPIs use stay).
    attempts_days: int = 730
    # When `dialer web` applies retention each day (HH:MM, dealer time); "" never does.
    retention_time: str = "03:30"
    # An erased person's recordings younger than this are kept as complaint evidence and deleted
    # by the retention run once they reach it; never less than RETENTION_FLOOR_DAYS.
    erase_recordings_after_days: int = RETENTION_FLOOR_DAYS


@dataclass(frozen=True, slots=True)
class FirstFollowUpHours:
    """How long after a lead reaches the DCC its first phone follow-up is due, per source.

    The clock starts at the HQ issue time (hq), the sales manager's hand-over
    (low_intent, defeated, and any re-activated lead) or the system entry (the rest).
    ``none`` means the source has no per-lead deadline (base customers are worked
    by campaign: SMS first, calls only for segments that did not reply).
    """

    hq: float | None = 48.0  # handbook: within 48 h of issue
    low_intent: float | None = 48.0  # handbook: within 2 days of hand-over
    defeated: float | None = 48.0  # handbook: within 2 days of hand-over
    web: float | None = 48.0  # handbook is silent; treated like an HQ lead
    referral: float | None = 48.0  # handbook is silent; treated like an HQ lead
    inbound: float | None = 24.0  # the caller asked for us; call back within a day
    base_customer: float | None = None


@dataclass(frozen=True, slots=True)
class IntentSettings:
    """What the intent levels mean: purchase horizon and how often to follow up.

    DOSS defines H as "buys within days", then A, B, C by horizon; dealers tune
    the numbers. After the first follow-up, a lead without an agreed callback is
    due again ``*_follow_up_days`` after its last contact.
    """

    h_horizon_days: int = 7
    h_follow_up_days: float = 2.0
    a_horizon_days: int = 15
    a_follow_up_days: float = 4.0
    b_horizon_days: int = 30
    b_follow_up_days: float = 7.0
    c_horizon_days: int = 90
    c_follow_up_days: float = 15.0


@dataclass(frozen=True, slots=True)
class LeadSettings:
    """Lead deadlines and import behaviour: the handbook's numbers as dealer data."""

    first_follow_up_hours: FirstFollowUpHours = field(default_factory=FirstFollowUpHours)
    intent: IntentSettings = field(default_factory=IntentSettings)
    # The SMS reminder of a booked visit goes out this many days before the visit,
    # at this local time (dealer timezone).
    visit_reminder_days_before: int = 1
    visit_reminder_time: str = "10:00"
    # A reminded customer who has not confirmed (replied "1") this many hours after the reminder is
    # due for a call (到店确认), if that is still before the visit.
    visit_confirm_chase_hours: float = 4.0
    # An invited customer who did not come by the end of the visit day is due for a call the next
    # morning at this local time (未到店回访), tagged no-show.
    no_show_call_time: str = "09:30"
    # Import progress is reported every this many rows.
    import_progress_rows: int = 5000
    # A cell longer than this many characters refuses its row (naming the column): names, models and
    # notes are short; a megabyte "name" is an accident or an attack, and would be stored and shown.
    import_max_cell_chars: int = 500
    # An XLSX whose parts unpack to more than this many MB is refused before it is read: a small file
    # can unpack to gigabytes (a zip bomb) and take the whole service's memory and time.
    import_max_unpacked_mb: int = 200
    # The monthly hygiene report shows defeated leads per month over this many months.
    hygiene_trend_months: int = 12


@dataclass(frozen=True, slots=True)
class DossSettings:
    """The DOSS sync: where the outcome mapping lives and how the outbox is pushed (docs/doss.md).

    DOSS itself has no API; ``endpoint`` is a dealer-side bridge (or an RPA robot)
    that accepts one change per POST. Empty means "export spreadsheets only".
    """

    mapping_file: str = "config/doss_mapping.toml"
    export_dir: str = "var/doss"  # where 'dialer doss export' writes when --out is not given
    endpoint: str = ""
    # Secret: set it as DIALER__DOSS__TOKEN, not in the file; kept out of repr() so it is never logged.
    token: str = field(default="", repr=False)
    timeout_s: float = 10.0
    # A change that failed this many times is dead-lettered for a person to look at.
    # With the backoff below, 12 tries span about five hours of outage.
    max_attempts: int = 12
    # Retry n waits about backoff_base_s * 2**(n-1), capped at backoff_max_s, with full jitter.
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    batch_size: int = 50  # changes taken from the outbox per round
    idle_poll_s: float = 5.0  # how often an idle worker looks for new changes


@dataclass(frozen=True, slots=True)
class KpiSettings:
    """KPI knobs (docs/kpi.md): the handbook's daily call norms and what counts as a captured contact."""

    # The handbook: one person handles 70-80 outbound calls a day.
    calls_norm_min: int = 70
    calls_norm_max: int = 80
    # The handbook: one person takes 50-60 inbound calls a day (counted apart from the outbound dials).
    inbound_norm_min: int = 50
    inbound_norm_max: int = 60
    # New leads from these sources are contacts the DCC captured itself (留资).
    captured_sources: tuple[str, ...] = ("web", "inbound", "referral")


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """SMS (docs/sms.md): which driver sends, the gateway, the customer-protection rules, the outbox.

    Templates live in their own file (``templates_file``), validated at start-up by
    dialer.domain.sms.templates. Times of day are the dealer's local time (dealer.timezone).
    """

    driver: str = "smpp"  # smpp (an SMS gateway / operator SMSC) | pbx (AMI MessageSend over a SIP trunk)
    templates_file: str = "config/sms_templates.toml"
    # The sender number customers see and reply to (an operator-assigned 106... code in China).
    source_addr: str = "10690000"
    smpp_host: str = "127.0.0.1"
    smpp_port: int = 2775
    smpp_system_id: str = "dcc"
    # Secret: set it as DIALER__SMS__SMPP_PASSWORD; kept out of repr() so it is never logged.
    smpp_password: str = field(default="", repr=False)
    smpp_system_type: str = ""
    # Unanswered submits the gateway may hold at once (SMPP window).
    smpp_window: int = 10
    connect_timeout_s: float = 5.0
    # A submit_sm without a response this long is ambiguous (see docs/sms.md, "exactly once").
    submit_timeout_s: float = 10.0
    # How often the link is checked between messages; the SMPP core also sends enquire_link itself.
    keepalive_s: float = 15.0
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    # pbx driver: AMI MessageSend goes to pjsip:<pbx_endpoint>/sip:<number>@<pbx_host>. Asterisk 16
    # sends to that URI, not to the endpoint's contact: give the trunk's host:port (the lab's is
    # 127.0.0.1:15070; a bare host means port 5060).
    pbx_endpoint: str = "carrier"
    pbx_host: str = "127.0.0.1:15070"
    # Customers only get SMS inside this local span ("HH:MM-HH:MM", "24:00" = midnight), every day.
    window: str = "08:00-21:00"
    # Promotional messages per number: at most this many per local day and per 7 days.
    max_promo_per_day: int = 1
    max_promo_per_week: int = 2
    # Replies meaning "stop" / "interested" (case and surrounding punctuation ignored).
    opt_out_keywords: tuple[str, ...] = ("T", "TD", "退订", "退", "STOP", "N", "不需要", "别发了")
    interested_keywords: tuple[str, ...] = ("1", "Y", "YES", "是", "好", "好的", "有兴趣", "感兴趣", "可以", "需要")
    # Replies to a visit confirmation or reminder that call the visit off (the lead goes back to
    # follow-up; NOT an opt-out). They win over opt_out_keywords for such a reply only.
    visit_decline_keywords: tuple[str, ...] = ("不需要", "不来", "不来了", "来不了", "去不了", "取消", "2")
    # An inbound SMS is a reply to the latest message sent to that number within this many days.
    reply_match_days: float = 30.0
    # Call-task priority of an interested replier, and of the cadence's hand-off (higher is called first).
    interested_priority: int = 100
    handoff_priority: int = 10
    # Outbox: retries of a message the gateway refused or could not take, then dead-lettered.
    max_attempts: int = 8
    backoff_base_s: float = 10.0
    backoff_max_s: float = 1800.0
    batch_size: int = 50
    idle_poll_s: float = 1.0
    # A part whose submit got no answer (link lost mid-submit) is never resent at once: the receipt the
    # gateway sends for what it accepted reconciles it. Without a receipt after this long it is taken as
    # never accepted and resent (a lost confirmation is worse than a rare duplicate); "none" keeps it
    # held and flagged for a person instead (strict at-most-once).
    ambiguous_resend_after_s: float | None = 900.0
    # Repurchase cadence defaults (per wave overridable): wait after the wave, then compare the
    # reply rate with the threshold; below it, hand this segment to calling.
    cadence_wait_hours: float = 72.0
    cadence_min_reply_rate: float = 0.05
    cadence_handoff: str = "non_repliers"  # non_repliers | all | interested


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The web console (docs/web.md): where it listens, how sessions and logins are protected, the desk scripts."""

    host: str = "127.0.0.1"
    port: int = 8080
    # Reverse proxies (addresses or networks, e.g. "10.0.0.2" or "10.0.0.0/24") whose X-Forwarded-For
    # is believed for the client's address (login throttling, logs). Empty: the header is ignored,
    # since any client can send it; behind a proxy not listed here every user shares its address.
    trusted_proxies: tuple[str, ...] = ()
    # Session cookies carry the Secure flag unless this is false (plain http://127.0.0.1 demos only).
    cookie_secure: bool = True
    # A session ends this long after login, or after this long without a request, whichever comes first.
    session_max_age_s: float = 12 * 3600.0
    session_idle_s: float = 2 * 3600.0
    # Login throttling, per user name at one client address and per client address: this many failures
    # inside the window are free, each further one doubles the wait (from base, capped at max, the
    # lock-out of that address only).
    login_free_failures: int = 3
    login_window_s: float = 900.0
    login_base_delay_s: float = 2.0
    login_max_delay_s: float = 900.0
    # Per user name across all addresses (guessing one account from many places): this many failures
    # are free, then the wait doubles up to login_name_max_delay_s. It only slows, never locks out, and
    # an address the user signed in from before is exempt, so a stranger cannot lock anyone out.
    login_name_free_failures: int = 10
    login_name_max_delay_s: float = 30.0
    # Supervisors and admins may enrol an authenticator app (`dialer users totp NAME`); once enrolled,
    # their login needs its 6-digit code. True: a supervisor or admin WITHOUT one is refused too (enrol
    # them all first). Off by default so that turning it on is a decision, taken after enrolment.
    totp_required: bool = False
    # The wallboard publishes a snapshot at most this often, to every viewer at once.
    wallboard_interval_ms: int = 1000
    # The slow parts of a snapshot (month KPIs, overdue deadlines) are recomputed at most this often.
    wallboard_slow_refresh_s: float = 60.0
    # An open websocket (wallboard, desk pops) checks its session this often and closes when it ended
    # (logout, expiry, the user disabled): a screen must not keep streaming to someone shut out.
    socket_session_check_s: float = 5.0
    # A viewer that falls behind keeps only this many snapshots queued; older ones are dropped.
    wallboard_viewer_queue: int = 1
    # An agent put through to someone else's customer keeps that lead in hand while they talk. A talk
    # whose hang-up never reached the dialer (a lost event) counts as going on for at most this long
    # after it was put through (2 h: far longer than any DCC call), so it cannot hand the lead over for good.
    unended_talk_s: float = 2 * 3600.0
    # Largest lead file a sales manager may upload; read only once the user's role may import.
    upload_max_mb: int = 20
    # Largest body of every other request (the login form, the API's JSON, the desk's forms), and
    # of any request before its session and role are checked.
    form_max_kb: int = 64
    # The agent desk shows these scripts (handbook: opening with dealer name, own name and title; closing
    # confirms and lets the customer hang up first). {dealer} and {agent} are filled in.
    opening_script: str = "您好，这里是{dealer}，我是客户专员{agent}。请问您现在方便接听电话吗？"
    closing_script: str = "跟您确认一下刚才约定的内容……请问您还有其他需要吗？感谢您的接听，祝您生活愉快，再见！"


def _inbound_hours() -> WindowDefaults:
    # The DCC takes calls over the same working day as it makes them, but up to closing time
    # (no last-call margin: an inbound caller who rings at 19:59 is still answered).
    return WindowDefaults(last_call_margin_s=0.0)


@dataclass(frozen=True, slots=True)
class InboundSettings:
    """How calls to the 4 inbound lines are routed (docs/inbound.md).

    The handbook says answer within three rings: a known caller's own agent rings for
    ``owner_ring_s`` (about three rings of 5 s), then the call overflows to the DCC queue,
    where it waits at most ``queue_wait_s`` for a free agent. Unanswered, after hours or with
    nobody logged in, the caller hears the "we will call you back" message and the lead gets a
    callback at the next opening of ``hours`` (the campaign window syntax), so nothing is lost.
    """

    owner_ring_s: float = 15.0
    queue_wait_s: float = 45.0
    hours: WindowDefaults = field(default_factory=_inbound_hours)
    # Who the history of a caller-created lead and its callbacks name as the actor.
    actor: str = "inbound"


@dataclass(frozen=True, slots=True)
class UiSettings:
    """What people read: the console and CLI speak Chinese unless told otherwise."""

    language: str = "zh-CN"  # zh-CN | en


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "info"
    json: bool | None = None  # None: JSON when stderr is not a terminal


@dataclass(frozen=True, slots=True)
class Settings:
    """The whole configuration, as the composition root hands it out."""

    dealer: DealerSettings = field(default_factory=DealerSettings)
    pbx: PbxSettings = field(default_factory=PbxSettings)
    calls: CallSettings = field(default_factory=CallSettings)
    campaigns: CampaignDefaults = field(default_factory=CampaignDefaults)
    lab: LabSettings = field(default_factory=LabSettings)
    site: SiteSettings = field(default_factory=SiteSettings)
    trunk: TrunkSettings = field(default_factory=TrunkSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    leads: LeadSettings = field(default_factory=LeadSettings)
    doss: DossSettings = field(default_factory=DossSettings)
    kpi: KpiSettings = field(default_factory=KpiSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    log: LogSettings = field(default_factory=LogSettings)
    # Directory that relative paths in this config are resolved against.
    base_dir: str = "."

    def path(self, relative: str) -> Path:
        """Resolve a configured path against the directory of the config file's project."""
        p = Path(relative)
        return p if p.is_absolute() else Path(self.base_dir) / p

    def store_target(self) -> str | Path:
        """What the store opens: the PostgreSQL URL when ``[store] url`` is set, else the SQLite file."""
        return self.store.url or self.path(self.store.path)

    def store_shown(self) -> str:
        """The store as messages name it: the URL without its password, or the SQLite file."""
        return without_password(self.store.url) if self.store.url else str(self.path(self.store.path))


def without_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def read(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> tuple[Settings, str]:
    """Read ``path`` (default ``$DIALER_CONFIG`` or ``config/dialer.toml``) and the env overrides into
    typed settings, and the file's name for messages. The values' rules are checked by
    :func:`dialer.config.load`, which every entry point uses: each feature checks its own section.

    A missing default file yields the documented defaults; a missing explicit file is an error.
    """
    env = os.environ if env is None else env
    explicit = path is not None or "DIALER_CONFIG" in env
    cfg_path = Path(path or env.get("DIALER_CONFIG") or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if cfg_path.exists():
        try:
            data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from None
    elif explicit:
        raise ConfigError(f"{cfg_path}: config file not found")
    _apply_env(data, env)
    base = cfg_path.resolve().parent.parent if cfg_path.parent.name == "config" else cfg_path.resolve().parent
    data.setdefault("base_dir", str(base))
    settings: Settings = _build(Settings, data, str(cfg_path))
    return settings, str(cfg_path)


def read_toml(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """A TOML file a dealer edits (the DOSS mapping, the QA form), or a ConfigError naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the {what}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__")]
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}: {name}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("", "none", "auto")):
            return None
        return _coerce(args[0], value, where)
    if origin in (list, tuple):
        (item_tp, *_) = typing.get_args(tp) or (str,)
        if not isinstance(value, list):
            raise ConfigError(f"{where} = {value!r}: expected a list")
        return (
            tuple(_coerce(item_tp, v, where) for v in value)
            if origin is tuple
            else [_coerce(item_tp, v, where) for v in value]
        )
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where} = {value!r}: expected true or false")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where} = {value!r}: expected a number")
        try:
            number = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} = {value!r}: expected a number") from None
        if tp is int and isinstance(value, float) and value != int(value):
            raise ConfigError(f"{where} = {value!r}: expected a whole number")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} = {value!r}: expected text")
        return value
    return value


def problems(s: Settings) -> list[str]:
    """What is wrong in the sections that need no feature's code to check (each feature checks its own)."""
    problems: list[str] = []
    if not 1 <= s.pbx.outbound_lines <= 240:
        problems.append(f"pbx.outbound_lines = {s.pbx.outbound_lines}: must be between 1 and 240")
    if not 0 <= s.pbx.inbound_lines <= 240:
        problems.append(f"pbx.inbound_lines = {s.pbx.inbound_lines}: must be between 0 and 240")
    for name in ("first_connect_retry_s", "reconcile_interval_s"):
        if getattr(s.pbx, name) < 0:
            problems.append(f"pbx.{name} = {getattr(s.pbx, name)}: must not be negative (0 = off)")
    if s.pbx.dial_format not in ("national", "e164"):
        problems.append(f"pbx.dial_format = {s.pbx.dial_format!r}: must be 'national' or 'e164'")
    if s.calls.abandon_after_s <= 0:
        problems.append(f"calls.abandon_after_s = {s.calls.abandon_after_s}: must be positive")
    if s.calls.early_hangup_s < 0:
        problems.append(f"calls.early_hangup_s = {s.calls.early_hangup_s}: must not be negative")
    problems.extend(_amd_problems(s.calls))
    if s.lab.rtp_end - s.lab.rtp_start < 100:
        problems.append("lab.rtp_start..rtp_end: give RTP at least 100 ports (2 per call)")
    problems.extend(_store_problems(s.store))
    if not PBX_NAME.fullmatch(s.pbx.name):
        problems.append(f"pbx.name = {s.pbx.name!r}: 1 to 40 letters, digits, '.', '_' or '-', e.g. 'site-01'")
    if s.lab.did and not (s.lab.did.removeprefix("+").isdigit() and len(s.lab.did) <= 20):
        problems.append(f"lab.did = {s.lab.did!r}: digits only (and a leading '+')")
    problems.extend(_lead_problems(s.leads))
    problems.extend(_recording_problems(s.recording))
    problems.extend(_doss_problems(s.doss))
    problems.extend(_web_problems(s.web))
    if s.ui.language not in ("zh-CN", "en"):
        problems.append(f"ui.language = {s.ui.language!r}: must be 'zh-CN' or 'en'")
    if s.log.level.lower() not in ("debug", "info", "warning", "error"):
        problems.append(f"log.level = {s.log.level!r}: must be debug, info, warning or error")
    return problems


# A lease shorter than this could expire between two renewals of a briefly busy node; longer than
# LEASE_MAX_S leaves a dead node's PBX idle for too long.
LEASE_MIN_S = 3.0
LEASE_MAX_S = 600.0
PBX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


def _store_problems(store: StoreSettings) -> list[str]:
    """``url`` (and ``standby_url``) must name a PostgreSQL database: scheme, host and database name
    (a password is never repeated); a standby needs a primary; the lease time has bounds."""
    problems: list[str] = []
    if not LEASE_MIN_S <= store.lease_s <= LEASE_MAX_S:
        problems.append(
            f"store.lease_s = {store.lease_s:g}: must be between {LEASE_MIN_S:g} and {LEASE_MAX_S:g} seconds"
        )
    problems.extend(_url_problems("store.url", store.url))
    problems.extend(_url_problems("store.standby_url", store.standby_url))
    if store.standby_url and not store.url:
        problems.append("store.standby_url: a standby of what? set store.url (the primary) too")
    return problems


def _url_problems(key: str, url: str) -> list[str]:
    if not url:
        return []
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return [f"{key}: not a URL ({exc})"]
    shown = f"{parts.scheme}://{parts.hostname or ''}{'' if port is None else f':{port}'}{parts.path}"
    if parts.scheme not in ("postgresql", "postgres"):
        return [f"{key} = {shown!r}: must start with postgresql:// (empty: the SQLite file store.path)"]
    if not parts.hostname or parts.path.strip("/") in ("", "postgres") or "/" in parts.path.strip("/"):
        return [
            f"{key} = {shown!r}: needs a host and the dialer's own database, e.g. postgresql://dialer@db1:5432/dialer"
        ]
    return []


def _amd_problems(calls: CallSettings) -> list[str]:
    """AMD's values must be ones app_amd reads as meant, and its analysis must leave the dialer
    time to connect within the abandon budget (the clock runs from the answer, AMD or not)."""
    problems: list[str] = []
    tuning = calls.amd_tuning
    for f in dataclasses.fields(AmdTuning):
        value = getattr(tuning, f.name)
        if value < (0 if f.name == "connect_reserve_ms" else 1):
            problems.append(f"calls.amd_tuning.{f.name} = {value}: must be positive")
    if tuning.silence_threshold > 32767:
        problems.append(f"calls.amd_tuning.silence_threshold = {tuning.silence_threshold}: must be at most 32767")
    budget_ms = calls.abandon_after_s * 1000
    if tuning.total_analysis_ms + tuning.connect_reserve_ms > budget_ms:
        problems.append(
            f"calls.amd_tuning.total_analysis_ms = {tuning.total_analysis_ms}: with connect_reserve_ms"
            f" = {tuning.connect_reserve_ms} it must fit in calls.abandon_after_s = {calls.abandon_after_s:g} s"
            " (AMD's analysis counts against the customer's wait for an agent)"
        )
    return problems


def _lead_problems(leads: LeadSettings) -> list[str]:
    problems: list[str] = []
    for f in dataclasses.fields(FirstFollowUpHours):
        hours = getattr(leads.first_follow_up_hours, f.name)
        if hours is not None and hours <= 0:
            problems.append(f"leads.first_follow_up_hours.{f.name} = {hours}: must be positive or none")
    horizons = []
    for level in ("h", "a", "b", "c"):
        horizon = getattr(leads.intent, f"{level}_horizon_days")
        every = getattr(leads.intent, f"{level}_follow_up_days")
        if horizon <= 0 or every <= 0:
            problems.append(
                f"leads.intent.{level}_*: horizon ({horizon}) and follow-up days ({every}) must be positive"
            )
        horizons.append(horizon)
    if horizons != sorted(horizons):
        problems.append(f"leads.intent: horizons {horizons} must grow from H to C")
    if leads.visit_reminder_days_before < 0:
        problems.append(f"leads.visit_reminder_days_before = {leads.visit_reminder_days_before}: must not be negative")
    for name in ("visit_reminder_time", "no_show_call_time"):
        hh, _, mm = getattr(leads, name).partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60 and len(mm) == 2):
            problems.append(f"leads.{name} = {getattr(leads, name)!r}: expected HH:MM")
    if leads.visit_confirm_chase_hours <= 0:
        problems.append(f"leads.visit_confirm_chase_hours = {leads.visit_confirm_chase_hours}: must be positive")
    for name in ("import_progress_rows", "import_max_cell_chars", "import_max_unpacked_mb"):
        if getattr(leads, name) <= 0:
            problems.append(f"leads.{name} = {getattr(leads, name)}: must be positive")
    if leads.hygiene_trend_months <= 0:
        problems.append(f"leads.hygiene_trend_months = {leads.hygiene_trend_months}: must be positive")
    return problems


def _recording_problems(r: RecordingSettings) -> list[str]:
    problems: list[str] = []
    if r.qa_sample_per_week < 1:
        problems.append(f"recording.qa_sample_per_week = {r.qa_sample_per_week}: must be at least 1")
    if r.retention_days < RETENTION_FLOOR_DAYS:
        problems.append(
            f"recording.retention_days = {r.retention_days}: must be at least {RETENTION_FLOOR_DAYS} (recordings are complaint evidence)"
        )
    if r.compress not in ("flac", "none"):
        problems.append(f"recording.compress = {r.compress!r}: must be 'flac' or 'none'")
    if r.disk_full_policy not in ("keep_recording", "stop_recording"):
        problems.append(
            f"recording.disk_full_policy = {r.disk_full_policy!r}: must be 'keep_recording' or 'stop_recording'"
        )
    if r.disk_check_interval_s <= 0:
        problems.append(f"recording.disk_check_interval_s = {r.disk_check_interval_s}: must be positive")
    if r.settle_s < 0:
        problems.append(f"recording.settle_s = {r.settle_s}: must not be negative")
    if not 0 <= r.min_free_mb <= r.low_free_mb:
        problems.append(f"recording: need 0 <= min_free_mb ({r.min_free_mb}) <= low_free_mb ({r.low_free_mb})")
    return problems


def _doss_problems(d: DossSettings) -> list[str]:
    problems: list[str] = []
    if d.endpoint and not d.endpoint.startswith(("http://", "https://")):
        problems.append(f"doss.endpoint = {d.endpoint!r}: must be an http:// or https:// URL")
    if d.timeout_s <= 0 or d.idle_poll_s <= 0:
        problems.append("doss.timeout_s and doss.idle_poll_s must be positive")
    if d.max_attempts < 1 or d.batch_size < 1:
        problems.append("doss.max_attempts and doss.batch_size must be at least 1")
    if not 0 < d.backoff_base_s <= d.backoff_max_s:
        problems.append(f"doss: need 0 < backoff_base_s ({d.backoff_base_s}) <= backoff_max_s ({d.backoff_max_s})")
    return problems


def _web_problems(w: WebSettings) -> list[str]:
    problems: list[str] = []
    if not 0 < w.port < 65536:
        problems.append(f"web.port = {w.port}: must be between 1 and 65535")
    if w.session_idle_s <= 0 or w.session_max_age_s < w.session_idle_s:
        problems.append("web: need 0 < session_idle_s <= session_max_age_s")
    if w.login_name_free_failures < w.login_free_failures or w.login_name_max_delay_s < w.login_base_delay_s:
        problems.append(
            "web: need login_name_free_failures >= login_free_failures and login_name_max_delay_s >= login_base_delay_s"
        )
    if w.login_free_failures < 0 or w.login_window_s <= 0:
        problems.append("web: login_free_failures must not be negative and login_window_s must be positive")
    if not 0 < w.login_base_delay_s <= w.login_max_delay_s:
        problems.append(
            f"web: need 0 < login_base_delay_s ({w.login_base_delay_s}) <= login_max_delay_s ({w.login_max_delay_s})"
        )
    if w.wallboard_interval_ms < 50:
        problems.append(f"web.wallboard_interval_ms = {w.wallboard_interval_ms}: must be at least 50")
    if w.socket_session_check_s <= 0:
        problems.append(f"web.socket_session_check_s = {w.socket_session_check_s}: must be positive")
    if w.wallboard_slow_refresh_s <= 0 or w.wallboard_viewer_queue < 1:
        problems.append("web: wallboard_slow_refresh_s must be positive and wallboard_viewer_queue at least 1")
    if w.upload_max_mb < 1:
        problems.append(f"web.upload_max_mb = {w.upload_max_mb}: must be at least 1")
    for entry in w.trusted_proxies:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            problems.append(f"web.trusted_proxies: {entry!r} is not an IP address or network (like 10.0.0.0/24)")
    if w.unended_talk_s <= 0:
        problems.append(f"web.unended_talk_s = {w.unended_talk_s}: must be positive")
    if w.form_max_kb < 1:
        problems.append(f"web.form_max_kb = {w.form_max_kb}: must be at least 1")
    return problems
