"""LB309: a mark keyword or config option that a pytest-asyncio release the project runs on does not know.

A suite written for a newer pytest-asyncio fails on an older one without saying why: 0.23 ignores
`loop_scope=` on the mark, keys it does not know are only an "Unknown config option" warning, and a
value it does not know stops it. Reported only when the project declares (or the user states) the
releases it runs on and one of them lacks what is written; with nothing known, nothing is reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from loopbound.asyncio_versions import AsyncioVersions, Feature, since
from loopbound.findings import Finding
from loopbound.module_facts import FIXTURE_SCOPE, Module
from loopbound.project import Project
from loopbound.pytest_config import PytestConfig
from loopbound.rules.base import Rule
from loopbound.rules.lb3_findings import config_finding, python_finding

CHANGELOG = "pytest-asyncio changelog: https://pytest-asyncio.readthedocs.io/en/stable/reference/changelog.html"

UNSUPPORTED = Rule(
    code="LB309",
    name="unsupported-by-pytest-asyncio-version",
    summary="A loop-scope keyword, option or value that a pytest-asyncio release the project runs on does not know.",
    what_it_does=(
        "Finds the pytest-asyncio releases the project runs on (lock files, pins and ranges it declares, or "
        "`target-pytest-asyncio` in `[tool.loopbound]`; see docs/pytest-asyncio-versions.md) and reports what one "
        "of them does not know: `loop_scope=` on an asyncio mark or on `@pytest_asyncio.fixture` before 0.24, "
        "`asyncio_default_fixture_loop_scope` before 0.24, `asyncio_default_test_loop_scope` before 0.26, and "
        "the `fixture-scope` value before 1.5. Silent when the project declares nothing."
    ),
    why_bad=(
        "The older release does something else, quietly: 0.23 ignores `loop_scope=` on the mark and runs the test "
        "on a function-scoped loop (every test after the first then fails with `attached to a different loop`); "
        "its `@pytest_asyncio.fixture` hands `loop_scope=` to `pytest.fixture`, which raises TypeError when the "
        "module is imported; an option it does not know is only a `PytestConfigWarning: Unknown config option` "
        "and its default applies; since 1.2 an unknown value stops pytest with a UsageError."
    ),
    example=('# requirements-dev.txt: pytest-asyncio>=0.23\n'
             '@pytest.mark.asyncio(loop_scope="module")\nasync def test_one(): ...\n'),
    use_instead=('# requirements-dev.txt: pytest-asyncio>=0.24\n'
                 '@pytest.mark.asyncio(loop_scope="module")\nasync def test_one(): ...\n'),
    fix_safety=("No fix: either the declared range is raised (a decision about the project's dependencies) or the "
                "code is written for the oldest release, which loses what the newer ones offer."),
    references=(CHANGELOG + " (0.24.0, 0.26.0, 1.2.0, 1.5.0)",
                "loopbound docs: docs/pytest-asyncio-versions.md"),
)


def _older(versions: AsyncioVersions, feature: Feature) -> str:
    return (f"pytest-asyncio {versions.describe()} includes releases before {since(feature)}, "
            f"where {feature.value} does not exist")


def check_module(project: Project, module: Module) -> Iterator[Finding]:
    versions = project.asyncio_versions(module)
    if not versions.lacks(Feature.LOOP_SCOPE):
        return
    for mark in module.marks:
        if mark.name == "asyncio" and "loop_scope" in mark.keywords:
            yield python_finding(
                UNSUPPORTED, module, mark.keywords["loop_scope"],
                f"{_older(versions, Feature.LOOP_SCOPE)}: 0.23 ignores `loop_scope=` on the mark and runs the test "
                "on a function-scoped loop (it reads `scope=`)", feature=Feature.LOOP_SCOPE.name)
    for fixture in module.all_fixtures:
        if fixture.loop_scope is not None and fixture.decorator == "pytest_asyncio.fixture":
            yield python_finding(
                UNSUPPORTED, module, fixture.loop_scope.node,
                f"{_older(versions, Feature.LOOP_SCOPE)}: there `@pytest_asyncio.fixture` passes `loop_scope=` to "
                "`pytest.fixture`, which raises TypeError when the module is imported",
                feature=Feature.LOOP_SCOPE.name)


_KEYS = (
    ("asyncio_default_fixture_loop_scope", Feature.FIXTURE_DEFAULT_KEY,
     ("pytest warns `Unknown config option` and each async fixture runs on the loop of the `event_loop` fixture "
     "(0.21) or of its own scope (0.23)")),
    ("asyncio_default_test_loop_scope", Feature.TEST_DEFAULT_KEY,
     "pytest warns `Unknown config option` and tests run on function-scoped loops unless their marks say otherwise"),
)


def check_config(config: PytestConfig, shown: str, versions: AsyncioVersions) -> Iterator[Finding]:
    for key, feature, instead in _KEYS:
        setting = config.keys.get(key)
        if setting is not None and versions.lacks(feature):
            yield config_finding(UNSUPPORTED, config, shown, setting.line, f"{_older(versions, feature)}: {instead}",
                                 key=key, feature=feature.name)
    setting = config.asyncio("asyncio_default_fixture_loop_scope")
    if (setting is not None and setting.value.strip() == FIXTURE_SCOPE and versions.lacks(Feature.FIXTURE_SCOPE_VALUE)
            and not versions.lacks(Feature.FIXTURE_DEFAULT_KEY)):
        yield config_finding(
            UNSUPPORTED, config, shown, setting.line,
            f"{_older(versions, Feature.FIXTURE_SCOPE_VALUE)}: 1.2 to 1.4 stop with a UsageError, and earlier "
            "releases fail when they set up an async fixture", key=setting.key,
            feature=Feature.FIXTURE_SCOPE_VALUE.name)
