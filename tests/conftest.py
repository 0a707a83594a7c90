from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopbound import asyncio_versions

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


@pytest.fixture(autouse=True)
def no_installed_pytest_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings must not depend on the pytest-asyncio this suite runs with: in-process checks see none
    installed, as pre-commit's environment does; tests that need one set it themselves."""
    monkeypatch.setattr(asyncio_versions, "installed_version", lambda: None)


@pytest.fixture(autouse=True)
def collector_unfrozen() -> Iterator[None]:
    """A replay freezes the objects it made before the interpreter exits (warm._replay); tests replay in
    this process, whose later tests must find them collectable again."""
    yield
    gc.unfreeze()
