"""Quality review of recorded calls: scoring a registered recording and building the month's report
from the store (``service``). The form, scoring and report are ``dialer.domain.qa`` (docs/qa.md)."""
