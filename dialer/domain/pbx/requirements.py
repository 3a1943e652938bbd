"""The Asterisk modules without which the dialer cannot work, checked by the lab and by `dialer doctor`.

A PBX that boots without one of them (a wrong module folder, a package left out) still answers AMI,
and every call would then fail in a way that looks like the carrier's fault.
"""

from __future__ import annotations

REQUIRED_MODULES = (
    "chan_pjsip", "app_mixmonitor", "app_chanspy", "app_queue", "app_amd", "func_groupcount",
    "app_confbridge", "app_stack",  # hold, transfer and 3-way (the call's room; Gosub for the recording and hang-up handlers)
)  # fmt: skip
