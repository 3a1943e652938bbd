"""Consent for SMS from the console is the SMS service's rule (``[privacy] consent_required_for``)."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp.test_utils import TestClient

from dialer.domain.access.policy import Role
from dialer.settings import Settings
from tests.web.conftest import Fixtures, Login

PLAIN = "repurchase"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Consent is required for promotional SMS (the repurchase template), not for service messages."""
    return dataclasses.replace(
        settings, privacy=dataclasses.replace(settings.privacy, consent_required_for=("promotional_sms",))
    )


async def test_consent_is_the_services_rule(client: TestClient, logins: dict[Role, Login], data: Fixtures) -> None:
    resp = await client.post(
        f"/api/leads/{data.own_lead}/sms", json={"template": PLAIN}, headers=logins[Role.SALES_MANAGER].headers()
    )
    assert resp.status == 422 and "consent" in (await resp.json())["message"]
