"""SMS: encoding, templates, sending rules, replies, the repurchase cadence and the driver protocol (pure)."""
