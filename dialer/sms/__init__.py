"""SMS services and drivers: the outbox service, the SMPP and PBX drivers (each the only importer of
its library) and the SMSC simulator. The pure parts are ``dialer.domain.sms``."""
