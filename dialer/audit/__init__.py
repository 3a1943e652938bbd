"""The audit log over the store: appends (with the structured-log anchor), reading and verifying."""
