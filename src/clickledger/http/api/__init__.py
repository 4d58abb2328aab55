"""The admin and reporting REST API (FastAPI), versioned under ``/api/v1``."""
