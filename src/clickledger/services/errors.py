"""Errors a use case raises for its caller to turn into an answer: a kind and a stable code.

Services know nothing of HTTP; the API maps ``invalid`` to 422, ``conflict`` to
409 and ``not_found`` to 404 (``http/api/errors.py``), the CLI prints them.
"""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal["invalid", "conflict", "not_found"]


class ServiceError(Exception):
    """A request a use case refuses, with a machine-readable ``code``."""

    def __init__(
        self, kind: ErrorKind, code: str, message: str, details: Any | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details


def invalid(code: str, message: str, details: Any | None = None) -> ServiceError:
    return ServiceError("invalid", code, message, details)


def conflict(message: str, details: Any | None = None) -> ServiceError:
    return ServiceError("conflict", "conflict", message, details)


def missing(entity: str) -> ServiceError:
    return ServiceError("not_found", "not_found", f"{entity} not found")
