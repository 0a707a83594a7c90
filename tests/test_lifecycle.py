"""LB201-LB204 beyond the fixture files: messages, the data fix builders read, and the rule metadata."""

from __future__ import annotations

import textwrap

import pytest
from conftest import FIXTURES

from loopbound.config import Settings
from loopbound.engine import check_source
from loopbound.findings import Finding
from loopbound.rules.lifecycle_rules import RULES

LB2 = frozenset(rule.code for rule in RULES)


def check(source: str) -> list[Finding]:
    data = textwrap.dedent(source).encode()
    result = check_source(data, "example.py", Settings(), LB2)
    assert result.error is None
    return result.findings


def test_release_only_on_success_names_the_release_and_the_path() -> None:
    [finding] = check(
        """
        from sqlalchemy.ext.asyncio import create_async_engine

        async def main():
            engine = create_async_engine("postgresql+asyncpg://localhost/db")
            async with engine.connect() as conn:
                await conn.exec_driver_sql("select 1")
            await engine.dispose()
        """
    )
    assert finding.code == "LB203"
    assert finding.message.startswith("`engine` (`create_async_engine`) is released only when no exception is raised")
    assert "move `await engine.dispose()` into `finally`" in finding.message
    assert (finding.start.row, finding.start.column) == (8, 11)
    assert finding.datum("variable") == "engine"
    assert finding.datum("release") == "dispose"
    assert finding.datum("awaited") == "true"
    assert finding.datum("release_row") == "8"


def test_unawaited_release_data_says_whether_await_can_be_added() -> None:
    findings = check(
        """
        import httpx

        class Api:
            def __init__(self):
                self.client = httpx.AsyncClient()

            async def aclose(self):
                self.client.aclose()

            def __del__(self):
                self.client.aclose()
        """
    )
    assert [(f.code, f.start.row, f.datum("in_async")) for f in findings] == [
        ("LB202", 9, "true"), ("LB202", 12, "false")]
    assert findings[0].datum("variable") == "self.client"
    assert findings[0].datum("release") == "aclose"


def test_synchronous_release_is_not_a_finding() -> None:
    assert check(
        """
        from motor.motor_asyncio import AsyncIOMotorClient

        async def main():
            client = AsyncIOMotorClient()
            try:
                await client.admin.command("ping")
            finally:
                client.close()
        """
    ) == []


def test_early_return_names_the_line() -> None:
    [finding] = check(
        """
        import httpx

        async def main(flag):
            client = httpx.AsyncClient()
            if flag:
                return None
            await client.aclose()
        """
    )
    assert finding.code == "LB201"
    assert "returns at line 7" in finding.message
    assert finding.datum("path") == "return"
    assert finding.datum("exit_row") == "7"


def test_fixture_return_points_at_the_return() -> None:
    [finding] = check(
        """
        import httpx
        import pytest_asyncio

        @pytest_asyncio.fixture
        async def client():
            c = httpx.AsyncClient()
            return c
        """
    )
    assert finding.code == "LB204"
    assert finding.datum("path") == "return"
    assert finding.datum("exit_row") == "8"
    assert "`yield c` and `await c.aclose()` after the `yield`" in finding.message


def test_a_local_lookalike_is_not_a_resource() -> None:
    assert check(
        """
        class AsyncClient:
            async def aclose(self): ...

        async def main():
            client = AsyncClient()
            client.aclose()
        """
    ) == []


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.code)
def test_rule_has_docs_and_annotated_fixture(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.name and rule.what_it_does and rule.why_bad and rule.example and rule.use_instead
    assert f"# {rule.code} {rule.name}" in rule.documentation
    text = (FIXTURES / "rules" / f"{rule.code}.py").read_text(encoding="utf-8")
    assert f"error: {rule.code}" in text
    assert "# clean" in text


@pytest.mark.parametrize("name", sorted(path.name for path in (FIXTURES / "rules").glob("LB*.py")))
def test_checking_a_file_leaves_no_reference_cycle(name: str) -> None:
    """A checking run pauses the garbage collector, so a reference cycle through a file's context (a nested
    function calling itself that closes over it, say) would keep the file's whole syntax tree alive to
    the end of the run: the per-file pass over the benchmark corpus grew from 52 to 241 MB that way."""
    import gc

    from loopbound.rules import ALL_RULES

    data = (FIXTURES / "rules" / name).read_bytes()
    every_code = frozenset(rule.code for rule in ALL_RULES)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        check_source(data, name, Settings(), every_code, prefilter=False)
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()
