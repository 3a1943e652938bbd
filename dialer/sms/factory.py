"""Build the SMS pieces from config: the one place that picks a driver (``sms.driver``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from dialer.clock import Clock
from dialer.domain.access.dealers import MAIN_DEALER_ID
from dialer.domain.sms.driver import SmsDriver
from dialer.domain.sms.errors import SmsConfigError
from dialer.domain.sms.templates import TemplateBook, load_templates
from dialer.settings import Settings
from dialer.sms.service import SmsService
from dialer.store.database import Database

if TYPE_CHECKING:
    from dialer.ami.client import AmiClient


def templates(settings: Settings) -> TemplateBook:
    """Load and validate the template file the config names (start-up check)."""
    return load_templates(settings.path(settings.sms.templates_file))


def build_driver(settings: Settings, ami: AmiClient | None = None) -> SmsDriver:
    """The configured driver; the pbx driver needs the application's AMI client."""
    if settings.sms.driver == "smpp":
        from dialer.sms.smpp import SmppDriver

        return SmppDriver(settings.sms)
    if ami is None:
        raise SmsConfigError("sms.driver = 'pbx' needs the AMI client (pbx section)")
    from dialer.sms.pbx import PbxDriver

    return PbxDriver(settings.sms, ami)


def build_service(
    db: Database,
    settings: Settings,
    clock: Clock,
    driver: SmsDriver | None = None,
    *,
    on_visit_declined: Callable[[int, str], Awaitable[object]] | None = None,
    dealer_id: int = MAIN_DEALER_ID,
) -> SmsService:
    """An SmsService with the validated templates and (optionally) a driver and the hook that calls a
    visit off when its customer declines it by SMS."""
    return SmsService(
        db, settings, clock, templates(settings), driver, on_visit_declined=on_visit_declined, dealer_id=dealer_id
    )
