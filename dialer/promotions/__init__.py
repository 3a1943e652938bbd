"""The dealer's promotions and events: the manager's list, today's on the desk (docs/leads.md)."""
