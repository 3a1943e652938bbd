"""The console fixtures (store with leads and recordings, one login per role) come from the web tests."""

from tests.web.conftest import client, clock, data, dialer_app, logins, settings  # noqa: F401
