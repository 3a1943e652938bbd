"""Quality review of recorded calls: the scoring form, scoring, and per-agent monthly reports (docs/qa.md).

- :mod:`~dialer.qa.form`: the form in ``config/qa_form.toml``, parsed and validated once.
- :mod:`~dialer.qa.scoring`: one scoring of one call against the form (pure).
- :mod:`~dialer.qa.report`: the month's results per agent and per item (pure).
- :mod:`~dialer.qa.service`: scoring a registered recording and building reports from the store.
"""
