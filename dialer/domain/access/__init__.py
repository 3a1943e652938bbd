"""Who may do what with recordings, listen-in and QA: a pure policy the faces call on every route."""
