"""Quality review: the scoring form, one scoring, and the monthly report (pure; docs/qa.md)."""
