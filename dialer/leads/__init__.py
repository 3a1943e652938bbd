"""Leads: the model, import, ownership, follow-up deadlines and monthly hygiene.

Pure core (no I/O): ``model``, ``template``, ``merge``, ``deadlines``, ``hygiene``.
``sheets`` is the only importer of openpyxl (reading CSV/XLSX files);
``importer`` is the service that wires a file, the core and the store
(``dialer.store.leads``) together.
"""
