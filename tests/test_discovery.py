"""Which files a directory walk checks: the same as ruff, templates aside, and broken configs that
govern nothing do not fail the run."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_loopbound

from loopbound.config import Settings
from loopbound.discovery import checked_file, discover

BAD = "import httpx\nclient = httpx.AsyncClient()\n"
RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")

# Each layout: files to create (a path ending in "/" is a folder), and the files git tracks.
LAYOUTS = {
    "tracked sources beside a pyvenv.cfg": (
        ["app/pyvenv.cfg", "app/src/service.py", "app/lib/python3.11/site-packages/dep/mod.py", "main.py"],
        ["app/pyvenv.cfg", "app/src/service.py", "main.py"]),
    "a virtual environment that is not ignored": (
        ["myenv/pyvenv.cfg", "myenv/lib/python3.12/site-packages/dep/mod.py", "myenv/bin/activate_this.py",
         "pkg/__init__.py", "pkg/core.py"], ["pkg/__init__.py", "pkg/core.py"]),
    "nested .gitignore files and default excludes": (
        [".gitignore", "pkg/.gitignore", "pkg/keep.py", "pkg/generated.py", "logs/debug.py", "node_modules/x/y.py",
         "dist/pkg/core.py", ".tox/py/t.py", "build/lib/pkg/core.py", "docs/conf.py", "stubs/pkg.pyi"],
        [".gitignore", "pkg/.gitignore", "pkg/keep.py", "docs/conf.py", "stubs/pkg.pyi"]),
}
IGNORES = {".gitignore": "logs/\n", "pkg/.gitignore": "generated.py\n"}


def _build(root: Path, files: list[str], tracked: list[str]) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(IGNORES.get(name, "home = /usr\n" if name.endswith(".cfg") else BAD), encoding="utf-8")
    subprocess.run(["git", "add", "-f", *tracked], cwd=root, check=True)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_same_files_as_ruff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str) -> None:
    if not Path(RUFF).exists():
        pytest.skip("ruff is not installed (it comes with the test extras)")
    _build(tmp_path, *LAYOUTS[layout])
    monkeypatch.chdir(tmp_path)
    ruff = subprocess.run([RUFF, "check", "--isolated", "--show-files", "."], capture_output=True, text=True,
                          check=True).stdout
    ruff_files = sorted(Path(line).relative_to(tmp_path).as_posix() for line in ruff.splitlines() if line.strip())
    found = discover([Path(".")], Settings(project_root=tmp_path))
    assert sorted(file.path.as_posix() for file in found.python_files) == ruff_files


def test_template_folders_are_skipped_with_a_note(tmp_path: Path) -> None:
    template = tmp_path / "{{cookiecutter.project_slug}}"
    (template / "src").mkdir(parents=True)
    (template / "src" / "app.py").write_text("import {{ cookiecutter.module }}\n", encoding="utf-8")
    (template / "pyproject.toml").write_text("[tool.pytest.ini_options]\nname = {{ cookiecutter.name }}\n",
                                             encoding="utf-8")
    (tmp_path / "{% if docker %}docker{% endif %}").mkdir()
    (tmp_path / "hooks.py").write_text("print('post-gen')\n", encoding="utf-8")
    run = run_loopbound("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "loopbound: note: {{cookiecutter.project_slug}}: skipped, its name is a template" in run.stderr
    assert "{% if docker %}docker{% endif %}: skipped" in run.stderr
    assert "1 file checked" in run.stderr
    explicit = run_loopbound("check", "--output-format", "concise", str(template / "src"), cwd=tmp_path)
    assert "(1 file checked)" in explicit.stderr, "a template named on the command line is checked"
    assert "pyproject.toml:2:" in explicit.stderr, "and the config that governs it is read"


def test_a_broken_config_that_governs_nothing_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "docs" / "example").mkdir(parents=True)
    (tmp_path / "docs" / "example" / "pytest.ini").write_text("[pytest\nasyncio_mode = auto\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_ok.py").write_text("def test_ok():\n    pass\n", encoding="utf-8")
    run = run_loopbound("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "loopbound: warning: docs/example/pytest.ini:1:" in run.stderr
    assert "governs none of the checked files" in run.stderr


def test_a_broken_config_that_governs_a_checked_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest\nasyncio_mode = auto\n", encoding="utf-8")
    (tmp_path / "test_ok.py").write_text("async def test_ok():\n    pass\n", encoding="utf-8")
    run = run_loopbound("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert run.code == 2
    assert "loopbound: error: " in run.stderr and "pytest.ini:1:" in run.stderr


@pytest.mark.parametrize("cwd", ["root", "inside", "outside"])
def test_a_walked_file_is_described_as_checked_file_describes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 cwd: str) -> None:
    """The walk builds each CheckedFile from strings it already has; `checked_file` works each field out
    from the path alone: symlinked files and folders, a project root reached through a symlink, a file
    named just `.py`, test files by folder and by name, and a working folder inside, at or outside the
    walked one must all come out alike."""
    real_root = tmp_path / "real"
    for name in ["pkg/__init__.py", "tests/helpers.py", "pkg/test_core.py", "pkg/core_test.py", "pkg/.py",
                 "pkg/deep/er/mod.pyi", "elsewhere/shared.py", "pkg/pytest.ini", "tox.ini"]:
        (real_root / name).parent.mkdir(parents=True, exist_ok=True)
        (real_root / name).write_text(BAD, encoding="utf-8")
    (tmp_path / "outside.py").write_text(BAD, encoding="utf-8")
    (real_root / "pkg" / "linked.py").symlink_to(tmp_path / "outside.py")
    (real_root / "pkg" / "same.py").symlink_to(real_root / "elsewhere" / "shared.py")
    (real_root / "pkg" / "linked_folder").symlink_to(real_root / "elsewhere", target_is_directory=True)
    (tmp_path / "root").symlink_to(real_root, target_is_directory=True)
    settings = Settings(project_root=real_root)
    start = {"root": tmp_path / "root", "inside": real_root / "pkg", "outside": tmp_path}[cwd]
    monkeypatch.chdir(start)
    walked = Path("root") if cwd == "outside" else Path("..") if cwd == "inside" else Path(".")
    found = discover([walked], settings)
    texts = [file.path_text for file in found.python_files]  # as the walk wrote them: `.path` makes Paths
    assert texts == [str(file.path) for file in found.python_files], "as a Path writes each"
    assert [os.path.realpath(text) for text in texts] == [str(file.real) for file in found.python_files]
    assert [file.path for file in found.python_files] == sorted(file.path for file in found.python_files)
    assert found.python_files == [checked_file(file.path, settings) for file in found.python_files]
    names = [file.path.name for file in found.python_files]
    assert {"linked.py", "helpers.py", "mod.pyi", "shared.py"} <= set(names)
    assert ".py" not in names and "same.py" not in names, "a name without a suffix, a second path to a file"
    assert {path.name for path in found.config_files} == {"pytest.ini", "tox.ini"}
    assert {file.path.name for file in found.python_files if file.is_test} == {"helpers.py", "test_core.py",
                                                                               "core_test.py"}


def _pathspec_regex(pattern: str) -> str:
    """pathspec's own regex for one pattern, its named group unnamed as discovery's matcher has it."""
    import pathspec

    from loopbound.patterns import NAMED_GROUP

    compiled = [item for item in pathspec.GitIgnoreSpec.from_lines([pattern]).patterns if item.include is not None]
    if not compiled or compiled[0].regex is None:
        return ""
    assert compiled[0].include and compiled[0].regex.flags == re.compile("").flags
    return NAMED_GROUP.sub("(?:", compiled[0].regex.pattern)


SIMPLE_ALPHABET = "a_.-*é1"
PATTERNS = ["".join(letters) for size in range(1, 4) for letters in itertools.product(SIMPLE_ALPHABET, repeat=size)]
PATTERNS += [f"{pattern}/**" for pattern in PATTERNS[:60]]
PATTERNS += ["", "test_*.py", "*_test.py", "conftest.py", "tests/**", "test/**", "*", "**", "a/**/b", "a/b", "x/",
             "/x", "!x", "#x", "x ", "a*/**", "[ab].py", "a?.py", "a\\*"]


def test_the_simple_patterns_get_pathspecs_regex_without_pathspec() -> None:
    """A one-file run matches its test-file patterns without importing pathspec: the regex it makes for
    them is pathspec's, for every pattern of the kinds it takes (the others go to pathspec)."""
    from loopbound.patterns import simple_regex

    taken = [pattern for pattern in PATTERNS if simple_regex(pattern) is not None]
    assert {"test_*.py", "*_test.py", "conftest.py", "tests/**", "test/**"} <= set(taken)
    assert len(taken) > 300
    assert [(pattern, simple_regex(pattern)) for pattern in taken] == [
        (pattern, _pathspec_regex(pattern)) for pattern in taken]


@pytest.mark.parametrize("patterns", [("test_*.py", "*_test.py", "conftest.py", "tests/**", "test/**"),
                                      ("a*b", "", "c.py"), ("x/**", "!x/keep.py"), ("a/b", "tests/**")])
def test_matching_is_pathspecs(patterns: tuple[str, ...]) -> None:
    import pathspec

    from loopbound.patterns import _matcher

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    paths = ["test_a.py", "a/test_b.py", "a_test.py", "tests/x.py", "test/y/z.py", "src/tests/x.py", "conftest.py",
             "a/conftest.py/x", "./tests/a.py", "/test_x.py", "x/keep.py", "x/other.py", "a/b", "a/b/c", "acb",
             "d/axb", "c.py", "", "test_.py\nx", "atest_x.py"]
    assert [_matcher(patterns)(path) for path in paths] == [spec.match_file(path) for path in paths]


GITIGNORES = [
    ["# build output", "/build", "*.py[cod]", "__pycache__/", "*.egg-info/", "", "docs/_build", "foo/**/bar", "/*.py"],
    [".venv", "node_modules", "**/logs", "src/**/gen/", "x?z", "[!a]bc", "\\#hash", "trailing\\ "],
    ["*.log", "!keep.log", "out/", "!out/keep/"],
]
GITIGNORED = ["build", "build/", "a/build/", "m.pyc", "a/m.pyo", "__pycache__/", "a/__pycache__/", "__pycache__",
              "p.egg-info/", "docs/_build/", "foo/bar", "foo/a/b/bar/", "top.py", "sub/top.py", ".venv/", "a/.venv",
              "x/logs/", "logs", "src/a/gen/", "src/gen", "xyz", "abc", "zbc", "q/zbc", "#hash", "trailing ",
              "a.log", "d/keep.log", "out/", "out/keep/", "out/x.py"]


@pytest.mark.parametrize("lines", GITIGNORES)
def test_a_gitignore_is_matched_as_pathspecs_gitignorespec_matches_it(tmp_path: Path, lines: list[str]) -> None:
    """The walk matches a .gitignore with one regex where it has no negation (patterns.matcher_of), not
    pattern by pattern with pathspec: the same answers, for files and for folders (a trailing slash)."""
    import pathspec

    from loopbound.discovery import _read_gitignore

    (tmp_path / ".gitignore").write_text("\n".join(lines), encoding="utf-8")
    matcher = _read_gitignore(tmp_path)
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    assert matcher is not None
    assert [(path, matcher(path)) for path in GITIGNORED] == [(path, spec.match_file(path)) for path in GITIGNORED]
    assert any(matcher(path) for path in GITIGNORED) and not all(matcher(path) for path in GITIGNORED)


PART_PATTERNS = [f"{star}{name}{slash}" for name in PATTERNS[:400] if "*" not in name and "/" not in name
                 for star in ("", "*") for slash in ("", "/")]
PART_PATTERNS += ["__pycache__/", "*.egg-info/", "*.py", ".env", "build", "-x", "é.py", ".", "..", "*.", "./", ".a."]


def test_a_gitignore_pattern_naming_one_path_part_has_the_regex_that_part_lookup_stands_for() -> None:
    """patterns.gitignore_matcher looks a pattern of one path part up by the path's parts instead of compiling
    pathspec's regex: for every pattern it takes, that regex is the one its lookup stands for."""
    from loopbound.patterns import _PART_PATTERN

    taken = [pattern for pattern in PART_PATTERNS if _PART_PATTERN.fullmatch(pattern)]
    assert {"__pycache__/", "*.egg-info/", "*.py", ".env", "build", "-x", "é.py", ".a."} <= set(taken)
    assert not {".", "..", "*.", "./"} & set(taken)
    assert len(taken) > 500

    def expected(pattern: str) -> str:
        star, name, slash = _PART_PATTERN.fullmatch(pattern).groups()  # type: ignore[union-attr]
        return "^(?:.+/)?" + ("[^/]*" if star else "") + re.escape(name) + ("(?:/)" if slash else "(?:(?:/)|$)")

    assert [(pattern, _pathspec_regex(pattern)) for pattern in taken] == [(pattern, expected(pattern))
                                                                          for pattern in taken]


PART_GITIGNORES = [
    ["__pycache__/", "*.py[cod]", "build/", "# a comment", "#x", "", "*.egg-info/", ".env", "*.log", "/site",
     "docs/_build/"],
    ["node_modules", "x.py", "*_gen.py", "cache/"],
    ["*.log", "!keep.log", "out/"],
    ["a/b", "#x", "", "\\#y"],
]
PART_PATHS = ["build", "build/", "a/build/", "a/build/x.py", "a/build", "m.pyc", "a/m.pyo", "__pycache__/",
              "a/__pycache__/x",
              "__pycache__", "p.egg-info/", "p.egg-info", "q/p.egg-info/r.py", ".env", "a/.env/", "a/.env/b", "x.log",
              "site", "site/", "a/site", "docs/_build/", "node_modules", "a/node_modules/", "x.py", "a/x.py/",
              "z/y_gen.py", "_gen.py", "cache", "cache/", "cache/x.py", "keep.log", "out/", "a/b", "#y", "",
              "./build/", "././build", "/build/", "//build/", "/a/build/x", "a//build/", "x\nbuild/", "build\n",
              "a\n/x.log", "out/\n", "é/build/", "a/b/", ".", "./", "/", "#x", "a/#x/", "# a comment"]


@pytest.mark.parametrize("lines", PART_GITIGNORES)
def test_a_gitignore_looked_up_by_path_parts_matches_as_pathspec(lines: list[str]) -> None:
    """The path-part lookup of patterns.gitignore_matcher answers as pathspec's GitIgnoreSpec does, with the
    patterns it does not take, paths pathspec reads apart (`./`, a leading slash, a newline) and folders."""
    import pathspec

    from loopbound.patterns import gitignore_matcher

    matcher = gitignore_matcher(tuple(lines))
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    assert [(path, matcher(path)) for path in PART_PATHS] == [(path, spec.match_file(path)) for path in PART_PATHS]
    assert any(matcher(path) for path in PART_PATHS) and not all(matcher(path) for path in PART_PATHS)


def test_a_named_file_with_the_default_patterns_does_not_import_pathspec(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("import httpx\n\nclient = httpx.AsyncClient()\n")
    probe = ("import sys\nfrom pathlib import Path\nfrom loopbound.config import Settings\n"
             "from loopbound.discovery import discover\n"
             f"found = discover([Path({str(tmp_path / 'test_one.py')!r})], Settings(project_root=Path({str(tmp_path)!r})))\n"
             "assert found.python_files[0].is_test\n"
             "print('pathspec' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False"
