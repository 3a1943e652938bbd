"""Console users: password hashing, login throttling and sessions (docs/web.md). Pure apart from the KDF."""
