"""LB301, LB306 and LB307 on pytest configs: what a config's loop-scope keys say against the tests and
fixtures it governs (rules/loop_scope.py checks the modules). The references are shared by every LB3
rule's documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from loopbound.asyncio_versions import AsyncioVersions, Feature, since
from loopbound.findings import Applicability, Finding, Severity
from loopbound.module_facts import FIXTURE_SCOPE, SCOPES, wider
from loopbound.project import LoopDefaults, Project
from loopbound.pytest_config import PytestConfig
from loopbound.rules.base import Rule
from loopbound.rules.lb3_findings import config_finding, python_finding
from loopbound.rules.loop_model import (
    first_asyncio_user,
    handled_by_pytest_asyncio,
    versions_phrase,
)
from loopbound.rules.loop_scope_versions import check_config as check_config_versions

CHANGELOG = "pytest-asyncio changelog: https://pytest-asyncio.readthedocs.io/en/stable/reference/changelog.html"
CONCEPTS = ("pytest-asyncio concepts, event loop scopes: "
            "https://pytest-asyncio.readthedocs.io/en/stable/concepts.html#asyncio-event-loops")
CONFIG_REFERENCE = ("pytest-asyncio configuration reference: "
                    "https://pytest-asyncio.readthedocs.io/en/stable/reference/configuration.html")

CONFIG_MISMATCH = Rule(
    code="LB301",
    name="loop-scope-config-mismatch",
    summary="`asyncio_default_fixture_loop_scope` is wider than the loop scope tests run on.",
    what_it_does=(
        "Reads the pytest config that governs the tests (pytest.toml, pytest.ini, pyproject.toml, tox.ini or "
        "setup.cfg, found as pytest finds it) and reports `asyncio_default_fixture_loop_scope` when it names a "
        "wider scope than `asyncio_default_test_loop_scope` (unset means `function`). The finding points at the "
        "config line. It is an error when an async fixture on that default loop hands its tests something "
        "loop-bound (as LB302 judges it), latent otherwise."
    ),
    why_bad=(
        "Since pytest-asyncio 0.24 every async fixture without its own `loop_scope` runs on the loop named by "
        "`asyncio_default_fixture_loop_scope`; tests run on the `asyncio_default_test_loop_scope` loop (added in "
        "0.26, default `function`). With `session` for fixtures and nothing for tests, every connection, lock or "
        "future a fixture makes belongs to the session loop and every test awaits it on its own function loop: "
        "`Future attached to a different loop`."
    ),
    example='[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "session"\n',
    use_instead=('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "session"\n'
                 'asyncio_default_test_loop_scope = "session"\n'),
    fix_safety=("The fix adds `asyncio_default_test_loop_scope` with the same scope under the fixture key, written "
                "the way that key is written (indent, separator, quotes), comments kept. It is unsafe: every test "
                "governed by that config then runs on the wider loop and shares it with the other tests."),
    fix_applicability=Applicability.UNSAFE,
    references=(CONFIG_REFERENCE, CONCEPTS, CHANGELOG + " (0.24.0, 0.26.0)"),
)
UNSET_FIXTURE_SCOPE = Rule(
    code="LB306",
    name="unset-fixture-loop-scope",
    summary="pytest-asyncio is in use but `asyncio_default_fixture_loop_scope` is unset.",
    what_it_does=(
        "Reports the governing pytest config (or, without one, the first use of pytest-asyncio) when tests use "
        "pytest-asyncio and the config does not set `asyncio_default_fixture_loop_scope`."
    ),
    why_bad=(
        "Since 0.24 an unset value means each async fixture runs on a loop of its own scope, and pytest-asyncio "
        "announces that the default will change to `function`, which moves every session fixture to another loop. "
        "It says so once, with a PytestDeprecationWarning raised while pytest configures itself: printed before "
        "collection rather than in the warnings summary (checked on pytest 9.2 with pytest-asyncio 1.5), hidden "
        "entirely by the common `filterwarnings = ignore::DeprecationWarning`, and an INTERNALERROR under "
        "`filterwarnings = error`; this rule reports the missing setting where it belongs, in the config."
    ),
    example="[tool.pytest.ini_options]\nasyncio_mode = \"auto\"\n",
    use_instead="[tool.pytest.ini_options]\nasyncio_mode = \"auto\"\nasyncio_default_fixture_loop_scope = \"function\"\n",
    fix_safety="The fix sets it to `fixture-scope`, which keeps today's behaviour, so it is safe; any other value "
               "changes loops.",
    fix_applicability=Applicability.SAFE,
    references=(CONFIG_REFERENCE, CHANGELOG + " (0.24.0, 1.4.0)"),
    severity=Severity.WARNING,
)
INVALID_SCOPE = Rule(
    code="LB307",
    name="invalid-loop-scope",
    summary="A loop scope that pytest-asyncio does not know, such as `sesion`.",
    what_it_does=(
        "Reports `asyncio_default_fixture_loop_scope` and `asyncio_default_test_loop_scope` values, and "
        "`loop_scope=`/`scope=` literals on `asyncio` marks and `@pytest_asyncio.fixture`, that are not one of "
        "function, class, module, package, session (and `fixture-scope` for the fixture default, which pytest-asyncio 1.5 accepts)."
    ),
    why_bad=(
        "Since pytest-asyncio 1.2.0 an invalid config value stops pytest with a UsageError before any test runs; "
        "earlier versions and marks fail later and further from the typo."
    ),
    example='[tool.pytest.ini_options]\nasyncio_default_test_loop_scope = "sesion"\n',
    use_instead='[tool.pytest.ini_options]\nasyncio_default_test_loop_scope = "session"\n',
    references=(CHANGELOG + " (1.2.0)", CONFIG_REFERENCE),
)


def governing_configs(project: Project) -> list[PytestConfig]:
    """Configs of the checked modules and configs passed in, each once."""
    configs: dict[Path, PytestConfig] = {}
    resolved: set[int] = set()  # the configs resolved already: most checked modules share one
    for config in [*(project.configs.get(path) for path in project.checked), *project.explicit_configs]:
        if config is not None and id(config) not in resolved:
            resolved.add(id(config))
            configs.setdefault(config.path.resolve(), config)
    return list(configs.values())


def check_configs(project: Project, display: Callable[[Path], str]) -> Iterator[Finding]:
    for config in governing_configs(project):
        shown = display(config.path)
        versions = project.config_versions(config)
        yield from _invalid_config_values(config, shown)
        yield from check_config_versions(config, shown, versions)
        if versions.has(Feature.FIXTURE_DEFAULT_KEY, every=False):
            for finding in _config_mismatch(config, shown, _hook_scopes(project, config), versions):
                yield finding if _hands_over_bound(project, config) else replace(finding, severity=Severity.LATENT)
            yield from _unset_fixture_scope(project, config, shown, versions)
    yield from _unset_without_config(project)


def _invalid_config_values(config: PytestConfig, shown: str) -> Iterator[Finding]:
    for key, allowed in (("asyncio_default_fixture_loop_scope", (*SCOPES, FIXTURE_SCOPE)),
                         ("asyncio_default_test_loop_scope", SCOPES)):
        setting = config.asyncio(key)
        if setting is not None and setting.value.strip() not in allowed:
            yield config_finding(
                INVALID_SCOPE, config, shown, setting.line,
                f"`{key}` is {setting.value.strip()!r}, not a loop scope; pytest-asyncio 1.2+ stops with a "
                f"UsageError; expected one of {', '.join(allowed)}", key=key, value=setting.value.strip())


def _hook_scopes(project: Project, config: PytestConfig) -> set[str]:
    """Loop scopes that conftest.py hooks under this config put on every test."""
    return {module.hook_loop_scope.value for path, module in project.modules.items()
            if module.is_conftest and module.hook_loop_scope is not None and project.configs.get(path) is config}


def _config_mismatch(config: PytestConfig, shown: str, hook_scopes: set[str],
                     versions: AsyncioVersions) -> Iterator[Finding]:
    defaults = LoopDefaults.of(config)
    fixture_setting = config.asyncio("asyncio_default_fixture_loop_scope")
    test_setting = config.asyncio("asyncio_default_test_loop_scope")
    if fixture_setting is None or defaults.fixture_loop_scope is None:
        return
    if test_setting is not None and test_setting.value.strip() not in SCOPES:
        return
    if any(scope in SCOPES and not wider(defaults.fixture_loop_scope, scope) for scope in hook_scopes):
        return
    if wider(defaults.fixture_loop_scope, defaults.test_loop_scope):
        written = "is unset, so tests run on function-scoped loops" if test_setting is None else (
            f"is {defaults.test_loop_scope!r}")
        accepted = versions.key_accepted(Feature.TEST_DEFAULT_KEY, Feature.TEST_DEFAULT_KEY)
        instead = "" if accepted else (
            f"; {versions_phrase(versions)} includes releases without `asyncio_default_test_loop_scope` (it "
            f"came in {since(Feature.TEST_DEFAULT_KEY)}): give the tests `loop_scope=` on their asyncio marks")
        yield config_finding(
            CONFIG_MISMATCH, config, shown, fixture_setting.line,
            f"`asyncio_default_fixture_loop_scope` is {defaults.fixture_loop_scope!r} but "
            f"`asyncio_default_test_loop_scope` {written}: async fixtures and the tests using them run on "
            f"different event loops{instead}", key="asyncio_default_test_loop_scope",
            scope=defaults.fixture_loop_scope, test_key_accepted="yes" if accepted and has_header(config) else "",
            fixture_key_line=str(fixture_setting.line), via=fixture_setting.key,
            test_key_line=str(test_setting.line) if test_setting else "",
            test_via=test_setting.key if test_setting else "")


def _unset_fixture_scope(project: Project, config: PytestConfig, shown: str,
                         versions: AsyncioVersions) -> Iterator[Finding]:
    if config.asyncio("asyncio_default_fixture_loop_scope") is not None:
        return
    asyncio_keys = [config.asyncio(key) for key in ("asyncio_mode", "asyncio_default_test_loop_scope")]
    user = first_asyncio_user(project, config)
    if user is None and not any(asyncio_keys):
        return
    value = _behaviour_keeping_value(project, config, versions)
    advice = f"`{value}` keeps today's behaviour" if value else (
        "no value keeps today's behaviour on every release it runs on: `fixture-scope` needs 1.5, and its async "
        "fixtures have different scopes")
    yield config_finding(
        UNSET_FIXTURE_SCOPE, config, shown, config.section_line,
        "pytest-asyncio is used but `asyncio_default_fixture_loop_scope` is unset: the default is announced to "
        f"change to `function` in a warning `ignore::DeprecationWarning` hides; set it ({advice})",
        key="asyncio_default_fixture_loop_scope", value=value if has_header(config) else "")


def _hands_over_bound(project: Project, config: PytestConfig) -> bool:
    """Some async fixture that runs on the configured default loop hands a loop-bound object to its tests."""
    defaults = LoopDefaults.of(config)
    return any(fixture.loop_scope is None and handled_by_pytest_asyncio(fixture, defaults)
               and project.hands_over_loop_bound(fixture)
               for path, module in project.modules.items() if project.configs.get(path) is config
               for fixture in module.all_fixtures)


def has_header(config: PytestConfig) -> bool:
    """The pytest table is written as a `[section]` header the config fixes can write under; not when it is
    an inline table or dotted keys under another table, where a line below would land in the wrong table."""
    return config.section_line > 0


def _behaviour_keeping_value(project: Project, config: PytestConfig, versions: AsyncioVersions) -> str:
    """The value of `asyncio_default_fixture_loop_scope` that changes no loop on any release the project runs
    on, or '' when there is none. Unset, each async fixture without `loop_scope=` runs on a loop of its own
    scope: when they all share one scope, that scope says the same thing on every release that has the key;
    otherwise only `fixture-scope` (1.5) does."""
    if not versions.key_accepted(Feature.FIXTURE_DEFAULT_KEY, Feature.FIXTURE_DEFAULT_KEY):
        return ""
    defaults = LoopDefaults.of(config)
    scopes = {fixture.scope for path, module in project.modules.items() if project.configs.get(path) is config
              for fixture in module.all_fixtures
              if fixture.loop_scope is None and handled_by_pytest_asyncio(fixture, defaults)}
    if len(scopes) <= 1 and None not in scopes:
        return next(iter(scopes), None) or "function"
    if versions.key_accepted(Feature.FIXTURE_SCOPE_VALUE, Feature.FIXTURE_DEFAULT_KEY):
        return FIXTURE_SCOPE
    return ""


def _unset_without_config(project: Project) -> Iterator[Finding]:
    """Without any pytest config, the first pytest-asyncio use carries the finding."""
    user = first_asyncio_user(project, None)
    if user is None or not any(project.configs.get(path) is None for path in project.checked):
        return
    if not project.asyncio_versions(user).has(Feature.FIXTURE_DEFAULT_KEY, every=False):
        return
    yield python_finding(
        UNSET_FIXTURE_SCOPE, user, user.asyncio_use,  # type: ignore[arg-type]
        "pytest-asyncio is used but no pytest config sets `asyncio_default_fixture_loop_scope`: the default is "
        "announced to change to `function`; add a pytest config that sets it",
        key="asyncio_default_fixture_loop_scope", config_path="")
