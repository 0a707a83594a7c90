"""The language server's pieces that need no client: settings, positions, severities, related places."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from loopbound.config import Settings
from loopbound.findings import Finding, LatentPolicy, Location, Severity
from loopbound.server.convert import Positions, diagnostic, related_places
from loopbound.server.documents import Debouncer
from loopbound.server.projects import Projects
from loopbound.server.settings import ClientSettings, merged, parse_settings


def test_settings_bare_or_nested_and_bad_values_left_out() -> None:
    nested = parse_settings({"loopbound": {"select": ["LB1"], "unsafeFixes": True, "showLatent": False}})
    assert nested.settings == ClientSettings(select=("LB1",), unsafe_fixes=True, show_latent=False)
    assert nested.problems == []
    bad = parse_settings({"ignore": ["LB999", "LB2"], "unsafeFixes": "yes", "debounceMs": -1, "colour": 1})
    assert bad.settings.ignore == ("LB2",) and bad.settings.unsafe_fixes is False
    assert bad.settings.debounce_ms == ClientSettings().debounce_ms
    assert len(bad.problems) == 4 and any("LB999" in problem for problem in bad.problems)
    assert parse_settings(None).settings == ClientSettings()
    assert parse_settings([1]).problems


def test_positions_count_utf16_units_and_lines_as_python_does() -> None:
    positions = Positions("x = '\U0001f600'; y = 1\r\nz = 2\rw\n")
    assert positions.position(Location(1, 12)) == types.Position(0, 12)  # the emoji is two UTF-16 units
    assert positions.location(types.Position(0, 12)) == Location(1, 12)
    assert positions.position(Location(3, 1)) == types.Position(2, 0)  # a lone \\r ends a line too
    utf8 = Positions("é = 1\n", types.PositionEncodingKind.Utf8)
    assert utf8.position(Location(1, 2)) == types.Position(0, 2)
    point = positions.range(Location(2, 1), Location(2, 1))  # a point is widened to one character
    assert (point.start.character, point.end.character) == (0, 1)


def _finding(severity: Severity, code: str = "LB101", **data: str) -> Finding:
    return Finding(code, "name", "message", "a.py", Location(1, 1), Location(1, 2), severity,
                   data=tuple(sorted(data.items())))


def test_latent_findings_are_information_and_follow_policy_and_client() -> None:
    latent = _finding(Severity.LATENT)
    assert diagnostic(latent, Positions("x\n"), []).severity == types.DiagnosticSeverity.Information
    assert diagnostic(_finding(Severity.WARNING), Positions("x\n"), []).severity == types.DiagnosticSeverity.Warning
    projects = Projects()
    assert projects.shown([latent], Settings()) == [latent]
    assert projects.shown([latent], Settings(latent=LatentPolicy.HIDE)) == []
    assert projects.shown([latent], Settings(latent=LatentPolicy.ERROR))[0].severity is Severity.ERROR
    projects.reset(ClientSettings(show_latent=False))
    assert projects.shown([latent, _finding(Severity.ERROR)], Settings()) == [_finding(Severity.ERROR)]


def test_related_places_name_the_other_end() -> None:
    lb302 = _finding(Severity.ERROR, "LB302", targets="tests/test_a.py\t4\ntests/test_b.py\t9", fixture="db")
    assert [(path, row) for path, row, _ in related_places(lb302)] == [("tests/test_a.py", 4), ("tests/test_b.py", 9)]
    lb301 = _finding(Severity.ERROR, "LB301", config_path="pytest.ini", test_key_line="3")
    assert [(path, row) for path, row, _ in related_places(lb301)] == [("pytest.ini", 3)]


def test_each_folder_and_the_client_configuration(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "loopbound.toml").write_text('ignore = ["LB2"]\n')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "other.toml").write_text('ignore = ["LB1"]\n')
    projects = Projects(folders=[tmp_path / "a", tmp_path / "b"])
    assert "LB201" not in projects.setup(tmp_path / "a" / "x.py").selected
    assert projects.setup(tmp_path / "a" / "x.py").folder == tmp_path / "a"
    projects.reset(ClientSettings(configuration=Path("other.toml")))
    setup = projects.setup(tmp_path / "b" / "x.py")
    assert "LB101" not in setup.selected and "LB201" in setup.selected


def test_without_a_configuration_the_folder_is_the_project_root(tmp_path: Path) -> None:
    """`tests/**` must match as it does for `loopbound check` run in the folder, wherever the server runs."""
    (tmp_path / "tests").mkdir()
    projects = Projects(folders=[tmp_path])
    setup = projects.setup(tmp_path / "tests" / "helpers.py")
    assert setup.settings.project_root == tmp_path and setup.is_test


def test_a_configuration_change_goes_over_the_initialization_options() -> None:
    start = {"unsafeFixes": True, "ignore": ["LB2"]}
    assert merged(start, {}) == start and merged(start, None) == start  # Neovim's `{}`, VS Code's null
    assert merged(start, {"loopbound": {"ignore": []}}) == {"unsafeFixes": True, "ignore": []}
    assert merged(None, {"showLatent": False}) == {"showLatent": False}


def test_debouncer_checks_a_lone_edit_at_once_and_coalesces_a_burst() -> None:
    async def scenario() -> tuple[list[str], float, list[str]]:
        loop = asyncio.get_running_loop()
        debouncer, runs = Debouncer(), []
        started = loop.time()
        debouncer.schedule("doc", 0.2, lambda: runs.append("first"))
        await asyncio.sleep(0)  # one turn of the loop: no waiting for the delay
        waited = loop.time() - started
        lone = list(runs)
        for edit in ("second", "third", "fourth"):  # a burst right after a check
            debouncer.schedule("doc", 0.2, lambda edit=edit: runs.append(edit))
        await asyncio.sleep(0.05)
        assert runs == ["first"]  # the burst waits for the delay
        await asyncio.sleep(0.3)
        return lone, waited, runs

    lone, waited, runs = asyncio.run(scenario())
    assert lone == ["first"] and waited < 0.1
    assert runs == ["first", "fourth"]  # the burst became one check, of the last edit
