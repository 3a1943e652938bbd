"""DCC Dialer: a telephony-first dialer for a car dealer's call center.

The package is layered (docs/architecture.md): a pure core (``dialer.domain``) that takes events
and a clock and returns decisions, adapters that each own one library (``dialer.ami`` is the only
importer of panoramisk, ``dialer.store`` the only importer of aiosqlite), services that wire the
two, one package per feature, and faces (CLI, web) on top.
"""

__version__ = "0.1.0"
