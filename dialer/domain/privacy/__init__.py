"""Privacy: the one suppression list, consent, retention and the PIPL rights (export, erasure)."""
