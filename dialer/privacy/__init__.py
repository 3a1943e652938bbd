"""Privacy: the suppression list's console and command line, a person's export and erasure, retention."""
