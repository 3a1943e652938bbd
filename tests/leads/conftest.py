"""The leads service and lead files, on the suite's clock and store (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from dialer.clock import VirtualClock
from dialer.leads.service import LeadService
from dialer.leads.sheets import write_sheet
from dialer.settings import Settings
from dialer.store.database import Database


@pytest.fixture
def service(db: Database, clock: VirtualClock) -> LeadService:
    return LeadService(db, Settings(), clock)


@pytest.fixture
def sheet(tmp_path: Path):
    """Write a lead file: ``sheet("a.csv", headers, rows)`` -> its path."""

    def make(name: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
        path = tmp_path / name
        write_sheet(path, headers, rows)
        return path

    return make
