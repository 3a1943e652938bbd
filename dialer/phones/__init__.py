"""The phones' SIP accounts: created, reset and removed by the admin, read by ``dialer pbx render``."""
