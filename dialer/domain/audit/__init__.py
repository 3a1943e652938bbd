"""The audit log's records and rules: what is logged, how a row is hashed, how the chain is checked."""
