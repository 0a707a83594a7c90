"""The floor of a cold `loopbound check --no-cache` run, set against `ruff check --select ASYNC --no-cache`.

Issue 14 asks for cold <= 2.5x ruff. Whatever else a sound run does, it must read and `ast.parse` the
files the per-file pre-filter lets through and the test modules and conftest.py files the LB3 pass reads.
This script works that set out with loopbound's own discovery and predicates (and checks it against the
files a real in-process run parses), then times, interleaved, in fresh processes: ruff, an oracle that
only reads and parses that list (no walk, no filter, no loopbound import; 2 processes and 1), the same
oracle reading every other checked file too (a checker cannot know what to parse without reading them;
2 processes and 1), that one walking once each tree the per-file rules check, and loopbound cold. The oracles' ratios to ruff bound from below what a checker built on CPython's `ast`
can reach on the tree; a second table splits the cost of `ast.parse` itself.

    python benchmarks/floor.py [TREE ...] [--repeat N] [--python PATH ...] [--no-trace]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# benchmarks/ is no package: its sibling run.py is imported by path.
from run import BIN, compile_bytecode, loopbound, ruff

TARGET = 2.5  # issue 14: cold <= 2.5x ruff --no-cache
READING_ORACLE = "oracle reading every checked file, 2 processes"
READING_ORACLE_ALONE = "oracle reading every checked file, 1 process"
WALKING_ORACLE = "the same, walking the per-file pass's trees once, 2 processes"
RUFF = "ruff --select ASYNC --no-cache"
ORACLE_CHUNKS_PER_PROCESS = 8

# The oracle: stdlib only, so that any interpreter can run it. The list comes sorted by size, largest
# first, so that dealing it out round-robin gives chunks of about equal bytes, handed out one at a time.
# With a fourth argument, a second list: the other checked files, which it only reads (a checker must read
# every file to know which to parse); they follow the parsed ones, dealt out the same way. With a fifth,
# a third: the files the per-file rules check, each of whose trees it walks once (`ast.walk`, nothing done
# per node), as any rule that finds calls wherever they are must at least do.
ORACLE = """\
import ast, gc, sys
def work(paths):
    gc.disable()
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            data = f.read()
        if path in READ_ONLY:
            continue
        try:
            tree = ast.parse(data, path)
        except (SyntaxError, ValueError):
            continue
        if path in WALKED:
            for node in ast.walk(tree):
                pass
    return len(paths)
READ_ONLY, WALKED = set(), set()
if __name__ == "__main__":
    gc.disable()
    with open(sys.argv[1], encoding="utf-8") as f:
        files = f.read().split("\\n")
    if len(sys.argv) > 4:
        with open(sys.argv[4], encoding="utf-8") as f:
            READ_ONLY.update(f.read().split("\\n"))
        files += sorted(READ_ONLY)
    if len(sys.argv) > 5:
        with open(sys.argv[5], encoding="utf-8") as f:
            WALKED.update(f.read().split("\\n"))
    processes, chunks = int(sys.argv[2]), int(sys.argv[2]) * int(sys.argv[3])
    if processes == 1:
        work(files)
    else:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pool.map(work, [files[i::chunks] for i in range(chunks)], chunksize=1)
"""

# Where ast.parse's time goes, one process, gc off, the sources already in memory: CPU time of this
# process, the ways interleaved round by round and the best round of each kept (the machine may be
# shared). symtable parses to the C-level AST and builds a symbol table without making Python objects:
# what ast.parse costs beyond it is the conversion to `ast` nodes (and their release).
PARSE_COST = """\
import ast, gc, json, symtable, sys, time
gc.disable()
with open(sys.argv[1], encoding="utf-8") as f:
    paths = f.read().split("\\n")
rounds = int(sys.argv[2])
start = time.process_time()
datas = []
for path in paths:
    with open(path, "rb", buffering=0) as f:
        datas.append(f.read())
best = {"read the files": time.process_time() - start}
texts = [data.decode("utf-8", "replace") for data in datas]
ways = {
    "decode UTF-8": lambda path, data, text: data.decode("utf-8", "replace"),
    "ast.parse(bytes)": lambda path, data, text: ast.parse(data, path),
    "compile(..., PyCF_ONLY_AST)": lambda path, data, text: compile(data, path, "exec", ast.PyCF_ONLY_AST),
    "symtable: C parser + symbol table, no ast objects": lambda path, data, text: symtable.symtable(text, path, "exec"),
    "compile to bytecode (not a floor)": lambda path, data, text: compile(data, path, "exec"),
}
if hasattr(ast, "PyCF_OPTIMIZED_AST"):
    ways["compile(..., PyCF_ONLY_AST with PyCF_OPTIMIZED_AST)"] = (
        lambda path, data, text: compile(data, path, "exec", ast.PyCF_ONLY_AST | ast.PyCF_OPTIMIZED_AST))
for _ in range(rounds):
    for name, way in ways.items():
        start = time.process_time()
        for path, data, text in zip(paths, datas, texts):
            try:
                way(path, data, text)
            except (SyntaxError, ValueError):
                pass
        best[name] = min(best.get(name, float("inf")), time.process_time() - start)
print(json.dumps({"python": sys.version.split()[0], "seconds": best}))
"""

# A fresh helper process per run reports the child's wall time and CPU time (user + sys, its workers
# included): with other work on the machine, CPU time is the steadier of the two.
TIMER = """\
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps([wall, usage.ru_utime + usage.ru_stime, code]))
"""


@contextmanager
def chdir(directory: Path) -> Iterator[None]:
    """contextlib.chdir, which Python 3.10 lacks: `loopbound check` discovers from the directory it runs in."""
    before = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


@dataclass(frozen=True)
class FileSet:
    """Files with their size in bytes and in lines."""

    paths: frozenset[str]

    def measure(self) -> tuple[int, int, int]:
        sizes = [Path(path).read_bytes() for path in self.paths]
        return len(sizes), sum(len(data) for data in sizes), sum(data.count(b"\n") for data in sizes)


@dataclass
class Needed:
    """What a sound cold run of the tree must parse: the per-file pass's files and the LB3 pass's modules."""

    checked: int
    per_file: frozenset[str]
    lb3: frozenset[str]
    every: frozenset[str] = frozenset()  # every checked file, as real paths

    @property
    def union(self) -> frozenset[str]:
        return self.per_file | self.lb3


def needed(tree: Path) -> Needed:
    """The files loopbound discovers in `tree` as `loopbound check` run inside it does, and of them the
    ones its passes parse with the default selection: those the per-file pre-filter (engine.needs_parse,
    after per-file-ignores) lets through, and the modules project.build reads for the LB3 pass (test
    modules as their pytest config names them, passing module_facts.may_matter; every conftest.py
    above them)."""
    from loopbound.asyncio_declarations import target
    from loopbound.config import load_settings
    from loopbound.discovery import discover
    from loopbound.engine import needs_parse, per_file_selected
    from loopbound.module_facts import Module, may_matter, read_facts
    from loopbound.project import build
    from loopbound.selection import select_codes
    from loopbound.source import SourceError, read_bytes

    with chdir(tree):
        settings = load_settings(None, start=Path("."))
        selected = select_codes(list(settings.select), list(settings.extend_select), list(settings.ignore))
        found = discover([Path(".")], settings)
        per_file = set()
        for file in found.python_files:
            try:
                data = read_bytes(file.path)
            except SourceError:
                continue
            if needs_parse(data, settings, per_file_selected(file.relative, settings, selected)):
                per_file.add(str(file.real))
        lb3: set[str] = set()

        def reader(path: Path, is_test: bool) -> Module | None:
            try:
                if not is_test or may_matter(read_bytes(path)):
                    lb3.add(str(path))
            except SourceError:
                pass
            return read_facts(path, is_test, settings.registry)

        stated = settings.target_pytest_asyncio
        build([file.path for file in found.python_files], found.config_files, settings.project_root,
              target(stated) if stated else None, settings.registry, reader)
    return Needed(len(found.python_files), frozenset(per_file), frozenset(lb3),
                  frozenset(str(file.real) for file in found.python_files))


def trace_run(tree: Path, output: Path, jobs: str | None) -> None:
    """Run `loopbound check --no-cache` in this process (and the workers it forks) with every `ast.parse`
    call noted by caller, one JSON line each: what a real run parses, to hold `needed` to. Source text
    parsed without a file (a string annotation) is only counted."""
    original = ast.parse

    def traced(source: str | bytes, filename: str = "<unknown>", *args: object, **kwargs: object) -> ast.AST:
        caller = sys._getframe(1)
        module = Path(caller.f_code.co_filename)
        kind = module.parent.name if module.parent.name == "index" else module.stem
        path = caller.f_locals.get("path") if kind == "asyncio_declarations" else filename
        with output.open("a", encoding="utf-8") as calls:  # appended at once: a forked worker writes here too
            calls.write(json.dumps([kind, os.path.realpath(str(path)) if path != "<unknown>" else path]) + "\n")
        return original(source, filename, *args, **kwargs)  # type: ignore[call-overload, no-any-return]

    ast.parse = traced  # type: ignore[assignment]
    from loopbound.cli import cli

    with chdir(tree):
        try:
            cli.main(["check", "--no-cache", *(["-j", jobs] if jobs else []), "--output-format", "concise",
                      "--quiet", "--exit-zero", "."], standalone_mode=False)
        except SystemExit:
            pass


@dataclass
class Trace:
    """The `ast.parse` calls of a real run, by the module that made them."""

    calls: list[tuple[str, str]]

    def files(self, *kinds: str) -> frozenset[str]:
        return frozenset(path for kind, path in self.calls if kind in kinds and path != "<unknown>")

    def count(self, kind: str) -> int:
        return sum(1 for called, _ in self.calls if called == kind)

    def parsed_again(self) -> int:
        """Calls on a file parsed before in the same run (by another pass, or another process)."""
        files = [path for _, path in self.calls if path != "<unknown>"]
        return len(files) - len(set(files))


def traced(tree: Path, jobs: str | None) -> Trace:
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "trace.jsonl"
        jobs_given = ["--trace-jobs", jobs] if jobs else []
        subprocess.run([sys.executable, __file__, "--trace-into", str(output), *jobs_given, str(tree)], check=True,
                       stdout=subprocess.DEVNULL)
        lines = output.read_text(encoding="utf-8").splitlines() if output.exists() else []
        return Trace([(str(kind), str(path)) for kind, path in map(json.loads, lines)])


def trace_notes(need: Needed, trace: Trace, default: Trace) -> list[str]:
    """How the files a real run parsed compare with `needed`'s sets; how many a run with the default
    number of processes (one per CPU) parses more than once."""
    files = trace.files("engine", "module_facts")
    index_files = trace.files("index")
    elsewhere = sum(1 for kind, _ in trace.calls if kind not in KNOWN_CALLERS)
    calls = (f"A real run (`loopbound check --no-cache -j1`, in process) made {len(trace.calls)} `ast.parse` calls: "
             f"{trace.count('engine')} per-file, {trace.count('module_facts')} by the LB3 pass (in one process it "
             f"takes the test modules the per-file pass parsed), {trace.count('index')} by the project index, "
             f"{trace.count('asyncio_declarations')} of setup.py files, {trace.count('lifecycle')} of string "
             f"annotations, {elsewhere} elsewhere.")
    if files == need.union:
        compared = "Its per-file and LB3 calls parsed exactly the needed set above."
    else:
        compared = (f"Its per-file and LB3 calls parsed {len(files - need.union)} files outside the needed set "
                    f"({_some(files - need.union)}) and left {len(need.union - files)} of it "
                    f"({_some(need.union - files)}).")
    index = (f"The project index parsed {len(index_files)} files again or for the first time, "
             f"{len(index_files - need.union)} of them outside the needed set: the oracle leaves those and the "
             "setup.py files out, so that its time stays a lower bound.")
    again = (f"A run with the default number of processes made {len(default.calls)} `ast.parse` calls, "
             f"{default.parsed_again()} of them on a file parsed before in the run (the LB3 pass, in a worker, takes "
             "only the test modules that worker parsed; the index parses some files again).")
    return [calls, compared, index, again]


KNOWN_CALLERS = ("engine", "module_facts", "index", "asyncio_declarations", "lifecycle")


def _some(paths: frozenset[str]) -> str:
    return ", ".join(sorted(paths)[:3]) + (", ..." if len(paths) > 3 else "")


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def timed(command: Sequence[str], cwd: Path) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", TIMER, json.dumps(list(command))], cwd=cwd, capture_output=True,
                         text=True, check=True).stdout
    wall, cpu, code = json.loads(out)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} exited with {code} in {cwd}")
    return float(wall), float(cpu)


def commands(listing: Path, unparsed: Path, walked: Path, pythons: Sequence[str]) -> dict[str, list[str]]:
    chunks = str(ORACLE_CHUNKS_PER_PROCESS)
    runs = {RUFF: ruff("--no-cache")} if (BIN / "ruff").exists() else {}
    runs |= {"oracle, 2 processes": [sys.executable, "-c", ORACLE, str(listing), "2", chunks],
            "oracle, 1 process": [sys.executable, "-c", ORACLE, str(listing), "1", chunks],
            READING_ORACLE: [sys.executable, "-c", ORACLE, str(listing), "2", chunks, str(unparsed)],
            READING_ORACLE_ALONE: [sys.executable, "-c", ORACLE, str(listing), "1", chunks, str(unparsed)],
            WALKING_ORACLE: [sys.executable, "-c", ORACLE, str(listing), "2", chunks, str(unparsed), str(walked)],
            "loopbound cold (--no-cache)": loopbound("--no-cache"),
            # What any run of a Python checker pays before reading a file.
            "Python start (`python -c pass`)": [sys.executable, "-c", "pass"]}
    for python in pythons:
        runs[f"oracle, 2 processes, {version(python)}"] = [python, "-c", ORACLE, str(listing), "2", chunks]
    return runs


def version(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                         text=True, check=True).stdout
    return f"Python {out.strip()}"


def time_runs(runs: dict[str, list[str]], tree: Path, repeat: int) -> dict[str, Timing]:
    """Each command once per round, rounds interleaved so that every command meets the same machine."""
    timings = {name: Timing() for name in runs}
    for _ in range(repeat):
        for name, command in runs.items():
            wall, cpu = timed(command, tree)
            timings[name].wall.append(wall)
            timings[name].cpu.append(cpu)
    return timings


def parse_cost(listing: Path, python: str, rounds: int) -> tuple[str, dict[str, float]]:
    out = subprocess.run([python, "-c", PARSE_COST, str(listing), str(rounds)], capture_output=True, text=True,
                         check=True).stdout
    answer = json.loads(out)
    return str(answer["python"]), {str(name): float(seconds) for name, seconds in answer["seconds"].items()}


def _ratio(seconds: float, base: float | None) -> str:
    return f"{seconds / base:.2f}" if base else "n/a"


def report(tree: Path, need: Needed, notes: list[str], timings: dict[str, Timing], repeat: int,
           costs: list[tuple[str, dict[str, float]]]) -> Iterator[str]:
    yield f"## {tree}"
    yield ""
    yield "| files | count | bytes | lines |"
    yield "|---|---:|---:|---:|"
    yield f"| checked (discovered) | {need.checked} | | |"
    for name, paths in (("needed: per-file pre-filter passes", need.per_file),
                        ("needed: LB3 pass reads", need.lb3),
                        ("needed: in both", need.per_file & need.lb3),
                        ("needed: union (the oracle's list)", need.union)):
        count, size, lines = FileSet(paths).measure()
        yield f"| {name} | {count} | {size:,} | {lines:,} |"
    yield ""
    for note in notes:
        yield f"- {note}"
    if notes:
        yield ""
    ruff_timing = timings.get(RUFF)
    base = statistics.median(ruff_timing.wall) if ruff_timing else None
    base_cpu = statistics.median(ruff_timing.cpu) if ruff_timing else None
    yield (f"| run (median of {repeat}, fresh processes, interleaved) | wall s | CPU s | wall / ruff "
           "| CPU / ruff |")
    yield "|---|---:|---:|---:|---:|"
    for name, timing in timings.items():
        wall, cpu = statistics.median(timing.wall), statistics.median(timing.cpu)
        yield f"| {name} | {wall:.3f} | {cpu:.3f} | {_ratio(wall, base)} | {_ratio(cpu, base_cpu)} |"
    yield ""
    for name in ("oracle, 2 processes", READING_ORACLE, READING_ORACLE_ALONE, WALKING_ORACLE,
                 "loopbound cold (--no-cache)"):
        if base is None:
            yield f"- {name} / ruff --no-cache: n/a, ruff is not installed next to this Python"
            continue
        ratio = statistics.median(timings[name].wall) / base
        verdict = "within" if ratio <= TARGET else "above"
        yield f"- {name} / ruff --no-cache (wall): **{ratio:.2f}**, {verdict} the {TARGET} target"
    yield ""
    if costs:
        names = list(dict.fromkeys(name for _, seconds in costs for name in seconds))
        yield "| the union, 1 process, gc off, sources in memory: CPU s, best round | " + " | ".join(
            f"Python {python}" for python, _ in costs) + " |"
        yield "|---|" + "---:|" * len(costs)
        for name in names:
            yield f"| {name} | " + " | ".join(f"{seconds[name]:.3f}" if name in seconds else "n/a"
                                             for _, seconds in costs) + " |"
        yield ""


def floor(tree: Path, repeat: int, pythons: Sequence[str], trace: bool, rounds: int,
          echo: Callable[[str], None]) -> None:
    shown, tree = tree, tree.resolve()
    need = needed(tree)
    notes = trace_notes(need, traced(tree, "1"), traced(tree, None)) if trace else []
    with tempfile.TemporaryDirectory() as scratch:
        listing = Path(scratch) / "needed.txt"
        largest_first = sorted(need.union, key=lambda path: (-os.path.getsize(path), path))
        listing.write_text("\n".join(largest_first), encoding="utf-8")
        unparsed = Path(scratch) / "read_only.txt"
        unparsed.write_text("\n".join(sorted(need.every - need.union)), encoding="utf-8")
        walked = Path(scratch) / "walked.txt"
        walked.write_text("\n".join(sorted(need.per_file)), encoding="utf-8")
        load_before = os.getloadavg()[0]
        timings = time_runs(commands(listing, unparsed, walked, pythons), tree, repeat)
        load_after = os.getloadavg()[0]
        costs = [parse_cost(listing, python, rounds) for python in (sys.executable, *pythons)] if rounds else []
    for line in report(shown, need, notes, timings, repeat, costs):
        echo(line)
    echo(f"Load average (1 min) before and after the timed runs: {load_before:.2f}, {load_after:.2f} "
         f"on {os.cpu_count()} CPUs.")
    echo("")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="*", type=Path, default=[HERE / "corpus" / "src", HERE / "corpus" / "apps"],
                        metavar="TREE")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command (median)")
    parser.add_argument("--python", action="append", default=[], metavar="PATH",
                        help="another interpreter to run the oracle and the parse-cost split under (repeatable)")
    parser.add_argument("--parse-rounds", type=int, default=3,
                        help="rounds of the parse-cost split, best kept (0: skip it)")
    parser.add_argument("--no-trace", action="store_true",
                        help="skip checking the needed set against a real run's ast.parse calls")
    parser.add_argument("--trace-into", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace-jobs", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.trace_into is not None:
        trace_run(args.trees[0], args.trace_into, args.trace_jobs)
        return 0
    compile_bytecode()
    for tree in args.trees:
        if not tree.is_dir():
            raise SystemExit(f"{tree}: no such directory")
        floor(tree, args.repeat, args.python, not args.no_trace, args.parse_rounds,
              lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
