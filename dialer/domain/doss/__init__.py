"""DOSS changes: the disposition mapping, the outbox records and their errors (the dealer CRM's side)."""
