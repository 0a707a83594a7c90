"""Benchmark loopbound against ruff's ASYNC rules and Fixit on a corpus of pinned PyPI sdists.

    python benchmarks/run.py            # build the corpus (once), time everything, write RESULTS.md
    python benchmarks/run.py --smoke    # the repo's fixtures, one repeat: CI checks that it runs
    python benchmarks/run.py --corpus benchmarks/corpus/apps --output /tmp/APPS.md   # the second corpus

Runs are interleaved (warm, ruff cached, cold, ruff --no-cache, cold with the default output, single
file, one file changed, one test module changed, one file changed with the default output, then again) and the median of --repeat runs is reported; Fixit is run once with
a timeout. Peak memory is the max RSS of the
child (resource.getrusage(RUSAGE_CHILDREN) measured per run in a fresh helper process).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = HERE / "corpus"
PINS = ("SQLAlchemy==2.0.36", "aiohttp==3.11.11", "httpx==0.28.1", "redis==5.2.1", "pytest==8.3.4",
        "pytest-asyncio==0.25.0", "Django==5.1.4", "libcst==1.5.1", "click==8.1.8")
BIN = Path(sys.executable).parent
# The corpus lives under this (git-ignored) directory: a `.git` marker and a config file make both
# tools walk all of it instead of honouring the outer repository's .gitignore.
CORPUS_CONFIG = "respect-gitignore = false\n"


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)
    peak_mib: float = 0.0
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


def build_corpus(root: Path) -> Path:
    """Download the pinned sdists (no dependencies) and extract them; reused when present."""
    source = root / "src"
    downloads = root / "downloads"
    if not (source / ".complete").exists():
        downloads.mkdir(parents=True, exist_ok=True)
        # Source distributions of the pins only: `--no-binary :all:` would also build their build
        # dependencies (Cython...) from source, which takes many minutes.
        names = ",".join(pin.split("==")[0] for pin in PINS)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", names,
                        "-d", str(downloads), *PINS], check=True)
        source.mkdir(parents=True, exist_ok=True)
        for archive in sorted(downloads.glob("*.tar.gz")):
            with tarfile.open(archive) as tar:
                tar.extractall(source, filter="data")
        (source / ".complete").write_text("\n".join(PINS) + "\n")
    _mark_root(source)
    return source


def double_corpus(source: Path, double: Path, *, config: bool = True) -> Path:
    """Two hard-linked copies of the corpus, for the 2x / 1x scaling ratio."""
    if not double.exists():
        for copy in ("a", "b"):
            shutil.copytree(source, double / copy, copy_function=os.link, ignore=shutil.ignore_patterns(".git"))
    _mark_root(double, config=config)
    return double


def project_corpus(root: Path) -> Path:
    """A corpus of projects as their authors keep them (tests, .gitignore files): a `.git` folder makes
    it a repository root, so that both tools honour its .gitignore files as in a checkout."""
    if not root.is_dir():
        raise SystemExit(f"{root}: no such directory (benchmarks/README.md says how to build the second corpus)")
    _mark_root(root, config=False)
    return root


def _mark_root(directory: Path, *, config: bool = True) -> None:
    (directory / ".git").mkdir(exist_ok=True)
    if config:
        (directory / "loopbound.toml").write_text(CORPUS_CONFIG)


def count_lines(directory: Path) -> tuple[int, int]:
    files = [path for path in directory.rglob("*.py") if ".git" not in path.parts]
    return len(files), sum(path.read_bytes().count(b"\n") for path in files)


def run(command: list[str], cwd: Path, timeout: float | None = None) -> tuple[float, float, bool]:
    """Wall seconds, peak RSS in MiB, and whether it finished, measured in a fresh helper process."""
    # The command runs in a session of its own so that a timeout kills its worker processes too
    # (Fixit's workers outlived their parent and loaded the machine for the runs after it).
    helper = ("import json,os,resource,signal,subprocess,sys,time\n"
              "start=time.perf_counter()\n"
              "p=subprocess.Popen(json.loads(sys.argv[1]),stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL,"
              "start_new_session=True)\n"
              "try:\n"
              " p.wait(timeout=float(sys.argv[2]) if sys.argv[2] else None);done=True\n"
              "except subprocess.TimeoutExpired:\n"
              " os.killpg(p.pid,signal.SIGKILL);p.wait();done=False\n"
              "print(time.perf_counter()-start,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024,done)\n")
    out = subprocess.run([sys.executable, "-c", helper, json.dumps(command), str(timeout or "")], cwd=cwd,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), out[2] == "True"


def loopbound(*args: str) -> list[str]:
    return [str(BIN / "loopbound"), "check", "--output-format", "concise", "--quiet", "--exit-zero", *args, "."]


def loopbound_default(*args: str) -> list[str]:
    """What `loopbound check .` prints by default: each finding with its lines, fixable ones marked (so
    every fix is built, with libcst)."""
    return [str(BIN / "loopbound"), "check", "--quiet", "--exit-zero", *args, "."]


def ruff(*args: str) -> list[str]:
    return [str(BIN / "ruff"), "check", "--isolated", "--select", "ASYNC", "--exit-zero", "--quiet", *args, "."]


def largest_file_with_findings(tree: Path) -> Path:
    out = subprocess.run(loopbound("--output-format", "json"), cwd=tree, capture_output=True,
                         text=True, check=False).stdout
    paths = {item["filename"] for item in json.loads(out or "[]")} if out.strip().startswith("[") else set()
    candidates = [tree / path for path in paths if (tree / path).suffix == ".py"]
    return max(candidates, key=lambda path: path.stat().st_size) if candidates else next(tree.rglob("*.py"))


RACY_SECONDS = 2.1  # loopbound neither caches nor replays what changed in the last two seconds


def measure(tree: Path, repeat: int, fixit_timeout: float, double: Path | None) -> tuple[dict[str, Timing], Path]:
    timings = {name: Timing(name) for name in (
        "loopbound cold (--no-cache)", "loopbound warm (cache)", "loopbound, one file changed",
        "loopbound, one test module changed", "loopbound cold, default output", "loopbound, one file changed, default output", "ruff --select ASYNC --no-cache", "ruff --select ASYNC (cached)",
        "single file: loopbound", "single file: libcst import+parse floor")}
    single = largest_file_with_findings(tree)
    changed = next(path for path in sorted(tree.rglob("*.py")) if ".git" not in path.parts)
    test_modules = [path for path in sorted(tree.rglob("test_*.py")) if b"async def" in path.read_bytes()]
    test_module = next((path for path in test_modules if "tests" in path.parts), test_modules[0] if test_modules
                       else next(path for path in sorted(tree.rglob("*.py")) if path != changed))
    originals = {path: path.read_bytes() for path in (changed, test_module)}
    floor = [sys.executable, "-c", f"import libcst; libcst.parse_module(open({str(single)!r}).read())"]
    single_check = [str(BIN / "loopbound"), "check", "--no-cache", "--output-format", "concise", "--quiet",
                    "--exit-zero", str(single)]
    # A first run makes the cache folder, which moves the tree's stamp: the runs in the seconds after it
    # could not be replayed, and the first round's warm runs were full runs (their peak memory showed).
    subprocess.run(loopbound(), cwd=tree, capture_output=True, check=False)
    edited = time.time()
    try:
        for round_number in range(repeat):
            # Warm means nothing changed since the last run: let the last round's edits settle, then
            # run once unmeasured, as a user's previous run would have.
            time.sleep(max(0.0, edited + RACY_SECONDS - time.time()))
            subprocess.run(loopbound(), cwd=tree, capture_output=True, check=False)
            subprocess.run(loopbound_default(), cwd=tree, capture_output=True, check=False)
            subprocess.run(ruff(), cwd=tree, capture_output=True, check=False)
            steps = [("loopbound warm (cache)", loopbound()),
                     ("ruff --select ASYNC (cached)", ruff()),
                     ("loopbound cold (--no-cache)", loopbound("--no-cache")),
                     ("ruff --select ASYNC --no-cache", ruff("--no-cache")),
                     ("loopbound cold, default output", loopbound_default("--no-cache")),
                     ("single file: loopbound", single_check),
                     ("single file: libcst import+parse floor", floor)]
            if double is not None:  # in every round, so that 2x and 1x meet the same machine
                steps.append(("loopbound cold, 2x corpus", loopbound("--no-cache")))
            for name, command in steps:
                _record(timings.setdefault(name, Timing(name)), command,
                        double if name.endswith("2x corpus") and double is not None else tree)
            for name, path, command in (("loopbound, one file changed", changed, loopbound()),
                                        ("loopbound, one test module changed", test_module, loopbound()),
                                        ("loopbound, one file changed, default output", changed, loopbound_default())):
                path.write_bytes(originals[path] + f"\n# benchmark edit {name} {round_number} {time.time()}\n".encode())
                edited = time.time()
                _record(timings[name], command, tree)
    finally:
        for path, original in originals.items():
            path.write_bytes(original)
    timings["loopbound, one file changed"].note = f"`{changed.relative_to(tree).as_posix()}`"
    timings["loopbound, one file changed, default output"].note = "the same file"
    timings["loopbound, one test module changed"].note = (f"`{test_module.relative_to(tree).as_posix()}`; "
                                                         f"load average {_load():.1f} before Fixit")
    fixit = Timing("fixit lint (one run)")
    seconds, peak, done = run([str(BIN / "fixit"), "lint", "."], tree, timeout=fixit_timeout)
    fixit.seconds.append(seconds)
    fixit.peak_mib = peak
    fixit.note = "" if done else f"did not finish: ≥ {fixit_timeout:.0f} s"
    timings[fixit.name] = fixit
    return timings, single


def _record(timing: Timing, command: list[str], cwd: Path) -> None:
    seconds, peak, _ = run(command, cwd)
    timing.seconds.append(seconds)
    timing.peak_mib = max(timing.peak_mib, peak)


def ratios(t: dict[str, Timing]) -> list[tuple[str, float, str, bool]]:
    def ratio(a: str, b: str) -> float:
        return t[a].median / t[b].median if a in t and b in t else float("nan")

    fixit = t["fixit lint (one run)"]
    rows = [  # the targets of issue 14; the default output (what `loopbound check .` prints) held to the same
        ("warm / ruff cached", ratio("loopbound warm (cache)", "ruff --select ASYNC (cached)"), "≤ 1.0"),
        ("one file changed / ruff cached", ratio("loopbound, one file changed", "ruff --select ASYNC (cached)"),
         "≤ 1.5"),
        ("one test module changed / ruff cached",
         ratio("loopbound, one test module changed", "ruff --select ASYNC (cached)"), "≤ 2.0"),
        ("cold / ruff --no-cache", ratio("loopbound cold (--no-cache)", "ruff --select ASYNC --no-cache"), "≤ 2.5"),
        ("one file changed, default output / ruff cached",
         ratio("loopbound, one file changed, default output", "ruff --select ASYNC (cached)"), "≤ 1.5"),
        ("cold, default output / ruff --no-cache",
         ratio("loopbound cold, default output", "ruff --select ASYNC --no-cache"), "≤ 2.5"),
        ("single file / libcst floor", ratio("single file: loopbound", "single file: libcst import+parse floor"),
         "≤ 0.5"),
        ("peak MiB, cold", t["loopbound cold (--no-cache)"].peak_mib, "≤ 150"),
        ("2x corpus / 1x corpus (cold)", ratio("loopbound cold, 2x corpus", "loopbound cold (--no-cache)"), "≤ 2.05"),
        ("fixit / loopbound cold" + (" (fixit timed out: lower bound)" if fixit.note else ""),
         ratio("fixit lint (one run)", "loopbound cold (--no-cache)"), "≥ 50"),
    ]
    return [(name, value, target, _met(value, target)) for name, value, target in rows]


def _met(value: float, target: str) -> bool:
    bound = float(target.split()[1])
    return value <= bound if target.startswith("≤") else value >= bound


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def table(timings: dict[str, Timing], files: int, lines: int, single: Path, tree: Path, repeat: int,
          described: str) -> str:
    out = [(f"Corpus: {files} files, {lines} lines of Python ({described}); {os.cpu_count()} CPUs, "
            f"Python {sys.version.split()[0]}; median of {repeat} interleaved runs (Fixit: one run). "
            f"Single file: `{single.relative_to(tree).as_posix()}`."), "",
           "| run | median s | runs | peak MiB | note |", "|---|---:|---:|---:|---|"]
    for timing in timings.values():
        out.append(f"| {timing.name} | {timing.median:.3f} | {len(timing.seconds)} | {timing.peak_mib:.0f} "
                   f"| {timing.note} |")
    out += ["", "| ratio | measured | target | met |", "|---|---:|---|---|"]
    for name, value, target, met in ratios(timings):
        out.append(f"| {name} | {value:.2f} | {target} | {'yes' if met else 'NO'} |")
    return "\n".join(out) + "\n"


def smoke_tree(directory: Path) -> Path:
    shutil.copytree(REPO / "fixtures" / "rules", directory / "rules")
    _mark_root(directory)
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="the repo's fixtures, one run each, short timeouts")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fixit-timeout", type=float, default=1800.0)
    parser.add_argument("--no-double", action="store_true", help="skip the 2x corpus run")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="time this tree of projects instead of the pinned sdists (its .gitignore files apply)")
    parser.add_argument("--readme", type=Path, default=None,
                        help=f"also put the table between the {README_START} markers of this file (the README)")
    args = parser.parse_args(argv)
    compile_bytecode()
    with tempfile.TemporaryDirectory() as scratch:
        described = ", ".join(PINS)
        if args.smoke:
            tree, double, repeat = smoke_tree(Path(scratch)), None, 1
        elif args.corpus is not None:
            tree, repeat = project_corpus(args.corpus.resolve()), args.repeat
            double = None if args.no_double else double_corpus(tree, tree.with_name(f"{tree.name}-double"),
                                                                config=False)
            described = f"`{tree.name}/`: " + ", ".join(sorted(path.name for path in tree.iterdir()
                                                            if path.is_dir() and path.name != ".git"))
        else:
            tree = build_corpus(CORPUS)
            double = None if args.no_double else double_corpus(tree, tree.parent / "double")
            repeat = args.repeat
        files, lines = count_lines(tree)
        timings, single = measure(tree, repeat, 60.0 if args.smoke else args.fixit_timeout, double)
        text = table(timings, files, lines, single, tree, repeat, described)
    print(text)
    args.output.write_text(("# Benchmark results (smoke run)\n\n" if args.smoke else "# Benchmark results\n\n") + text)
    if args.readme is not None:
        embed(args.readme, text)
    return 0


README_START, README_END = "<!-- benchmark-table:start -->", "<!-- benchmark-table:end -->"


def embed(readme: Path, text: str) -> None:
    """Replace what lies between the two markers of the README with the new table."""
    content = readme.read_text(encoding="utf-8")
    start, end = content.index(README_START) + len(README_START), content.index(README_END)
    readme.write_text(content[:start] + "\n" + text + content[end:], encoding="utf-8")


def compile_bytecode() -> None:
    """An installed package ships compiled bytecode; an editable one run with PYTHONDONTWRITEBYTECODE
    would compile every module on each run and time that instead."""
    spec = importlib.util.find_spec("loopbound")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            subprocess.run([sys.executable, "-m", "compileall", "-q", location], check=False,
                           stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    sys.exit(main())
