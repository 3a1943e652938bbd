"""The handbook's KPIs from the store (``service``); the arithmetic is ``dialer.domain.kpi.metrics``.

docs/kpi.md defines exactly which events count; the code follows that page.
"""
