"""Console users' pure rules: password hashing parameters, login throttling, their errors."""
