"""Lead services: importing a file (``importer``, ``sheets`` reads CSV/XLSX) and the lead service.
The model and rules are ``dialer.domain.leads``; the SQL is ``dialer.store.leads``."""
