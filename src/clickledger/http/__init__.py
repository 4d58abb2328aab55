"""HTTP entrypoints: plain ASGI hot-path handlers in front of the FastAPI admin API."""
