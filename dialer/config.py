"""The config file, loaded: typed by :mod:`dialer.settings`, then every section checked by its own feature.

:mod:`dialer.settings` holds the schema and the checks that need no feature code; the rules that
only a feature knows (calling windows and retries, SMS sending hours, inbound hours, the lead
sources a KPI may name, the dealer's code, the PBX's site and trunk, the transfer targets, the backup schedule, consent and retention) are checked by that feature's own ``settings_problems``, with the very
code that will use the values, so a config that loads is one the features accept. Every entry
point loads through here; a problem anywhere stops the start with one message naming each.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dialer.domain.access import dealers
from dialer.domain.backup import schedule
from dialer.domain.calls import handovers
from dialer.domain.campaigns import policy
from dialer.domain.inbound import routing
from dialer.domain.kpi import metrics
from dialer.domain.pbx import site
from dialer.domain.privacy import policy as privacy_policy
from dialer.domain.sms import rules
from dialer.settings import ConfigError, Settings, problems, read


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (default ``$DIALER_CONFIG`` or ``config/dialer.toml``) and the env overrides, and check
    every section; :class:`~dialer.settings.ConfigError` names the file and each problem found."""
    settings, where = read(path, env)
    tz = settings.dealer.timezone
    found = [
        *problems(settings),
        *dealers.settings_problems(settings.dealer),
        *metrics.settings_problems(settings.kpi),
        *handovers.settings_problems(settings.calls),
        *policy.settings_problems(settings.campaigns, tz),
        *rules.settings_problems(settings.sms, tz),
        *routing.settings_problems(settings.inbound, tz),
        *site.settings_problems(settings.site, settings.trunk),
        *schedule.settings_problems(settings.backup),
        *privacy_policy.settings_problems(settings.privacy),
    ]
    if found:
        raise ConfigError(f"{where}: " + "; ".join(found))
    return settings
