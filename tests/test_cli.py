"""End-to-end tests of `loopbound check` and `loopbound rule`: exit codes, formats, selection, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import run_loopbound

BAD = "import httpx\n\nclient = httpx.AsyncClient()\n"
WARN = "import asyncio\n\nlock = asyncio.Lock()\n"
CLEAN = "import httpx\n\n\nasync def main():\n    async with httpx.AsyncClient() as client:\n        await client.get('/')\n"
# A pytest-asyncio suite that imports both modules: each test on its own loop, so their findings are errors.
SUITE = "from pkg.api import client\nfrom pkg.locks import lock\n\n\nasync def test_get():\n    await client.get('/')\n"
REACHED = ": tests/test_api.py runs each test on its own event loop and imports "


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "api.py").write_text(BAD)
    (tmp_path / "pkg" / "locks.py").write_text(WARN)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_api.py").write_text(SUITE)
    return tmp_path


def test_findings_exit_1_with_location_and_summary(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "concise", cwd=project)
    assert run.code == 1
    assert run.stdout.splitlines() == [
        "pkg/api.py:3:10: LB101 `httpx.AsyncClient` is created at import time and bound to the first event loop "
        f"that uses it{REACHED}pkg/api.py",
        "pkg/locks.py:3:8: LB106 `asyncio.Lock` is created at import time and binds to the event loop of its first "
        f"contended use{REACHED}pkg/locks.py",
    ]
    assert "Found 2 findings" in run.stderr


def test_a_lone_file_outside_any_repository_is_latent(project: Path) -> None:
    """Without a configuration or a repository, the folder a run starts in is not known to be a project:
    the rest of it is not read, so nothing shows that a multi-loop suite imports the file."""
    run = run_loopbound("check", "--output-format", "json", "pkg/api.py", cwd=project)
    assert run.code == 0
    assert [finding["severity"] for finding in json.loads(run.stdout)] == ["latent"]


def test_clean_tree_exits_0(project: Path) -> None:
    run = run_loopbound("check", "pkg/clean.py", cwd=project)
    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout == ""


def test_exit_zero_keeps_findings_but_exits_0(project: Path) -> None:
    run = run_loopbound("check", "--exit-zero", "--output-format", "concise", cwd=project)
    assert run.code == 0
    assert "LB101" in run.stdout


def test_missing_path_is_exit_2(project: Path) -> None:
    run = run_loopbound("check", "no/such/dir", cwd=project)
    assert run.code == 2
    assert "no/such/dir" in run.stderr and "no such file" in run.stderr


def test_full_format_shows_frame_and_help_without_colour(project: Path) -> None:
    (project / ".git").mkdir()  # a repository: the suite that imports pkg/api.py counts although not checked
    run = run_loopbound("check", "pkg/api.py", cwd=project)
    assert run.code == 1
    assert "3 | client = httpx.AsyncClient()" in run.stdout
    assert "^^^^^^^^^^^^^^^^^^^ LB101" in run.stdout
    assert "help:" in run.stdout
    assert "\x1b[" not in run.stdout


def test_json_has_ruff_field_names(project: Path) -> None:
    (project / ".git").mkdir()  # a repository: the suite that imports pkg/api.py counts although not checked
    run = run_loopbound("check", "--output-format", "json", "pkg/api.py", cwd=project)
    findings = json.loads(run.stdout)
    assert len(findings) == 1
    finding = findings[0]
    assert {"code", "name", "message", "filename", "location", "end_location", "severity", "fix", "url"} <= set(finding)
    assert finding["code"] == "LB101"
    assert finding["name"] == "module-level-async-resource"
    assert finding["filename"] == "pkg/api.py"
    assert finding["location"] == {"row": 3, "column": 10}
    assert finding["end_location"] == {"row": 3, "column": 29}
    assert finding["severity"] == "error"


def test_json_lines_is_one_object_per_line(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "json-lines", cwd=project)
    objects = [json.loads(line) for line in run.stdout.splitlines()]
    assert [item["code"] for item in objects] == ["LB101", "LB106"]
    assert objects[1]["severity"] == "warning"


@pytest.mark.parametrize(("option", "value", "codes"), [
    ("--select", "LB101", ["LB101"]),
    ("--select", "LB1", ["LB101", "LB106"]),
    ("--select", "module-level-asyncio-primitive", ["LB106"]),
    ("--ignore", "LB106", ["LB101"]),
    ("--ignore", "module-level-async-resource,LB106", []),
])
def test_selection_by_code_prefix_and_name(project: Path, option: str, value: str, codes: list[str]) -> None:
    run = run_loopbound("check", option, value, "--output-format", "json", cwd=project)
    assert [item["code"] for item in json.loads(run.stdout)] == codes


def test_unknown_selector_is_a_usage_error(project: Path) -> None:
    run = run_loopbound("check", "--select", "LB999", cwd=project)
    assert run.code == 2
    assert "LB999" in run.stderr


def test_output_file_and_statistics(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "concise", "--statistics", "--output-file", "out.txt",
                        cwd=project)
    assert run.code == 1
    assert run.stdout == ""
    text = (project / "out.txt").read_text()
    assert "pkg/api.py:3:10: LB101" in text
    assert "1  LB101  module-level-async-resource" in text


def test_stdin_with_filename(project: Path) -> None:
    run = run_loopbound("check", "--output-format", "concise", "--stdin-filename", "app/db.py", "-",
                        cwd=project, stdin=BAD)
    assert run.code == 1
    assert run.stdout.startswith("app/db.py:3:10: LB101")


def test_config_select_per_file_ignores_and_extend_exclude(project: Path) -> None:
    (project / "generated").mkdir()
    (project / "generated" / "client.py").write_text(BAD)
    (project / "pyproject.toml").write_text(
        '[tool.loopbound]\nextend-exclude = ["generated"]\n\n'
        '[tool.loopbound.per-file-ignores]\n"pkg/locks.py" = ["LB106"]\n'
    )
    run = run_loopbound("check", "--output-format", "concise", cwd=project)
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == ["pkg/api.py"]


def test_gitignore_is_respected(project: Path) -> None:
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("pkg/api.py\n")
    run = run_loopbound("check", "--output-format", "concise", cwd=project)
    assert "pkg/api.py" not in run.stdout
    assert "pkg/locks.py" in run.stdout


def test_default_excludes_skip_virtualenvs_and_build_dirs(project: Path) -> None:
    for folder in ("node_modules", "dist", ".tox", "venv-custom/lib/python3.11/site-packages"):
        (project / folder).mkdir(parents=True)
        (project / folder / "x.py").write_text(BAD)
    (project / "venv-custom" / "pyvenv.cfg").write_text("home = /usr\n")
    run = run_loopbound("check", "--output-format", "concise", cwd=project)
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == ["pkg/api.py", "pkg/locks.py"]


def test_noqa_and_file_level_noqa(project: Path) -> None:
    (project / "pkg" / "api.py").write_text(BAD.replace("AsyncClient()", "AsyncClient()  # noqa: LB101"))
    (project / "pkg" / "locks.py").write_text("# loopbound: noqa: LB106\n" + WARN)
    run = run_loopbound("check", cwd=project)
    assert run.code == 0, run.stdout


@pytest.mark.parametrize(("config", "expected"), [
    ("[tool.loopbound\nselect = 1\n", "invalid TOML"),
    ("[tool.loopbound]\nslect = []\n", "unknown key `slect`"),
    ("[tool.loopbound]\nselect = \"LB1\"\n", "`select` must be a list of strings"),
    ("[tool.loopbound]\nignore = [\"LB999\"]\n", "unknown rule `LB999`"),
    ("[tool.loopbound.resources]\n\"my.client\" = { release = 3 }\n", "`resources.my.client.release`"),
])
def test_broken_config_is_exit_2_naming_file_and_key(project: Path, config: str, expected: str) -> None:
    (project / "pyproject.toml").write_text(config)
    run = run_loopbound("check", cwd=project)
    assert run.code == 2
    assert "pyproject.toml" in run.stderr
    assert expected in run.stderr
    assert "Traceback" not in run.stderr


def test_config_extends_registry_and_marks_calls_safe(project: Path) -> None:
    (project / "pkg" / "custom.py").write_text("import mycompany.http\n\nclient = mycompany.http.make_client()\n")
    (project / "loopbound.toml").write_text(
        '[resources]\n"mycompany.http.make_client" = { release = "aclose", awaited = true }\n\n'
        '[safe]\nnames = ["httpx.AsyncClient"]\n'
    )
    run = run_loopbound("check", "--output-format", "concise", "--select", "LB101", cwd=project)
    assert run.stdout.splitlines() == [
        "pkg/custom.py:3:10: LB101 (latent) `mycompany.http.make_client` is created at import time and bound to the "
        "first event loop that uses it; latent: nothing in the project imports it and it runs no event loop itself; "
        "as library code, its users' loops are unknown"
    ]


def test_isolated_ignores_config(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.loopbound]\nignore = ["LB1"]\n')
    assert run_loopbound("check", cwd=project).code == 0
    assert run_loopbound("check", "--isolated", cwd=project).code == 1


def test_rule_prints_documentation() -> None:
    run = run_loopbound("rule", "LB101", cwd=Path.cwd())
    assert run.code == 0
    for section in ("# LB101 module-level-async-resource", "## What it does", "## Why is this bad?", "## Example",
                    "## Use instead", "## Fix safety"):
        assert section in run.stdout
    every = run_loopbound("rule", "--all", cwd=Path.cwd())
    assert every.stdout.count("## What it does") >= 8
    assert run_loopbound("rule", "LB999", cwd=Path.cwd()).code == 2


def test_version_and_module_entry_point() -> None:
    run = run_loopbound("--version", cwd=Path.cwd())
    assert run.code == 0
    assert run.stdout.startswith("loopbound, version ")
