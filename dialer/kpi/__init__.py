"""The handbook's KPIs: pure maths on plain records (``metrics``) and the store queries feeding it.

docs/kpi.md defines exactly which events count; the code follows that page.
"""
