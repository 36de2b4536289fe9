"""Command-line entry points: ``glance-api`` (the server) and ``glance`` (the client)."""
