"""The web console (aiohttp): pages, the JSON API, the wallboard websocket and /metrics (docs/web.md)."""
