"""Routes of this area (filled in by issue 22)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
