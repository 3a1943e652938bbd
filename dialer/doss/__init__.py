"""Everything that feeds the carmaker's dealer CRM (DOSS).

DOSS has no public API: dealers key changes in by hand or import spreadsheet templates. So
every call outcome becomes a *DOSS change* (``dialer.domain.doss.mapping``), written in the same
transaction as the lead's state and an outbox row (``service``), and leaves the building as an
import spreadsheet (``export``) or an HTTP push to a dealer-side bridge (``push``).
"""
