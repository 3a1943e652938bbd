"""The handbook's KPIs as pure arithmetic on plain records (docs/kpi.md)."""
