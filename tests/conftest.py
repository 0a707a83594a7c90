from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from loopbound import asyncio_versions

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    """Each text at its path under `root` (folders made as needed), UTF-8; `root` back."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def no_installed_pytest_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings must not depend on the pytest-asyncio this suite runs with: in-process checks see none
    installed, as pre-commit's environment does; tests that need one set it themselves."""
    monkeypatch.setattr(asyncio_versions, "installed_version", lambda: None)
