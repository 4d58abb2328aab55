"""Every API router, in one list the app and the authorization matrix test both read."""

from __future__ import annotations

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
