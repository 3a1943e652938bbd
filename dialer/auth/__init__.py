"""Console users: the login and session service (docs/web.md); its pure rules are ``dialer.domain.auth``."""
