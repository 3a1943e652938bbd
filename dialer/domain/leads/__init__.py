"""Leads: the model, the import template, merging, follow-up deadlines and monthly hygiene (pure)."""
