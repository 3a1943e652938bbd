"""SMS: templates, sending rules, the outbox, gateway drivers, replies and the repurchase cadence.

Pure parts (encoding, templates, rules, replies, cadence) import no I/O; each driver module
(smpp.py, pbx.py) is the only importer of its library; service.py wires them to the store.
"""
