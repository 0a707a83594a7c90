"""The command's entry point, and the warm run: when nothing a run read has changed, print what it printed.

A `loopbound check` that only reports (no --fix, --diff, --add-noqa, --write-baseline,
--output-file, --no-cache, nor source read from stdin) records its output, its exit status and the
stamp (stamps.py) of every path that decided them: each file it checked or read, each folder it
walked (a folder's stamp moves when an entry is added, removed or renamed, so a new file, a new
.gitignore or a new pytest config in a walked folder is seen), the config, conftest.py and
.gitignore files that could exist above the project (the files, not those folders, which change
all the time), the files named on the command line, loopbound's own modules and the folders of
`sys.path` (installing or removing a distribution changes them).

The next run with the same arguments, working directory, environment (the variables that can
change a report), terminal and interpreter stats those paths, and when every stamp is unchanged it
writes the recorded output and exits with the recorded status, having imported nothing but this
module. Any difference, or any doubt (a path changed in the seconds before the recorded run, an
error, a progress bar) means a full run, except two: when only the contents of a few checked
Python files moved and each still holds nothing the checker could act on, or the per-file pass, run on
it alone, finds what it found (see unseen_edits.py), the recorded output is still the answer and is
replayed without a run; otherwise, when only
such contents moved (see Partial), the run reuses the recorded discovery and the other files'
results, checks those files again, reruns the LB3 pass if it read one of them and the facts it reads
from it changed, and reports.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # typing itself costs a warm run a fifth of its time

from loopbound import recorder
from loopbound.snapshots import file_name, load_rest, load_state, write_head, write_snapshot
from loopbound.stamps import Stamp, is_settled, stamp

if TYPE_CHECKING:  # this module is the whole of a warm run: it imports only what it uses
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any, TextIO

FORMAT = 7
# Options after which a run has effects besides its report, or reads what no stamp covers.
_NOT_REPLAYED = frozenset({"-", "--fix", "--diff", "--add-noqa", "--write-baseline", "--output-file", "--no-cache",
                           "--stdin-filename", "--help", "-h", "--version"})
_FIXING = frozenset({"--fix", "--diff", "--add-noqa"})
# The environment variables that can change a report: colour and terminal settings (rich, click),
# click's shell completion, loopbound's and Python's own, the locale. Others (hyperfine sets a random
# one on every run, shells change OLDPWD) would make no two runs alike.
_RELEVANT_WORDS = ("COLOR", "TERM", "COLUMNS", "LINES", "TTY", "JUPYTER", "LOOPBOUND", "PYTHON")
_RELEVANT_PREFIXES = ("LANG", "LC_", "COMP_", "CI")


def now() -> float:
    import time

    return time.time()


def main() -> None:
    """`loopbound ...`: a recorded run replayed when it is still valid, else the command: a plain check
    read here (options.py), anything else through the click command line."""
    import gc

    arguments = sys.argv[1:]
    if not _FIXING.intersection(arguments):
        # A check builds syntax trees and findings and keeps them until it exits: the cyclic collector
        # would only rescan them (a tenth of a cold run). Fixing runs libcst pass after pass and keeps it.
        gc.disable()
    key = run_key(arguments) if replayable(arguments) else None
    if key is not None:
        snapshot = _find(key, arguments)
        changed = _changes(snapshot) if snapshot is not None else None
        if snapshot is not None and changed == {}:
            _replay(snapshot)
        partial = Partial.of(snapshot, changed) if snapshot is not None else None
        from loopbound.unseen_edits import same_outcome  # not imported by a replay of an unchanged tree

        if partial is not None and same_outcome(partial.snapshot, partial.changed):
            _save_restamped(partial.snapshot, partial.changed)
            _replay(partial.snapshot)
        _start_recording(key, partial if partial is not None and partial.load_state() else None)
    from loopbound.unseen_edits import quiet_parse_warnings

    quiet_parse_warnings()  # what follows parses the checked code
    from loopbound.options import plain_check

    options = plain_check(arguments)
    try:
        if options is not None:  # a plain check: the command itself, without click
            from loopbound.command import main as check

            check(options)
        from loopbound.cli import cli

        cli(args=arguments, prog_name="loopbound")
    except SystemExit as exit:
        _finish_recording(exit.code)
        raise


def entry() -> None:
    """The `loopbound` command: `main`, then out at once (`_exit_now`)."""
    try:
        main()
    except SystemExit as exit:
        _exit_now(exit.code)
        raise


def _exit_now(status: object) -> None:
    """Leave without freeing the run's objects one by one: after a cold check, tearing down its trees,
    summaries and findings took a tenth of the wall time (mypy leaves the same way). The workers are
    waited for and the streams flushed first; a status Python would print, or a stream that cannot be
    flushed, takes the normal way out."""
    if status is not None and not isinstance(status, int):
        return
    processes = sys.modules.get("multiprocessing")
    if processes is not None:  # the workers have done their part by now, and are leaving
        for child in processes.active_children():
            child.join()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(status or 0)


def replayable(arguments: list[str]) -> bool:
    if not arguments or arguments[0] != "check":
        return False
    return not any(argument.split("=", 1)[0] in _NOT_REPLAYED for argument in arguments)


def run_key(arguments: list[str]) -> str:
    """What must be equal for two runs to print the same, apart from the files they read."""
    terminal = [stream.isatty() for stream in (sys.stdout, sys.stderr)]
    try:
        size = tuple(os.get_terminal_size(sys.__stdout__.fileno())) if any(terminal) and sys.__stdout__ else None
    except (OSError, ValueError):
        size = None
    environment = sorted(item for item in os.environ.items()
                         if item[0].startswith(_RELEVANT_PREFIXES) or any(word in item[0] for word in _RELEVANT_WORDS))
    return repr((FORMAT, arguments, os.getcwd(), environment, terminal, size, sys.executable, sys.version,
                 sys.stdout.encoding, sys.stderr.encoding))


def _candidate_folders(arguments: list[str]) -> Iterable[str]:
    """Where the run's cache folder may be: the working directory or a folder above it or above a
    path on the command line (the project root is the folder of the nearest config file)."""
    starts = [os.getcwd(), *(argument for argument in arguments[1:] if not argument.startswith("-"))]
    for index, argument in enumerate(arguments):
        if argument.startswith("--cache-dir="):
            yield argument.split("=", 1)[1]
        elif argument == "--cache-dir" and index + 1 < len(arguments):
            yield arguments[index + 1]
    seen: set[str] = set()
    for start in starts:
        folder = os.path.abspath(start)
        while folder not in seen:
            seen.add(folder)
            yield os.path.join(folder, ".loopbound_cache")
            folder = os.path.dirname(folder)


def _find(key: str, arguments: list[str]) -> dict[str, Any] | None:
    import marshal

    for folder in _candidate_folders(arguments):
        try:
            with open(os.path.join(folder, file_name(key)), "rb") as stream:
                snapshot = marshal.loads(stream.read())  # marshal.load(stream) reads in small pieces: 4x the CPU
        except (OSError, EOFError, ValueError, TypeError):
            continue
        if isinstance(snapshot, dict) and snapshot.get("format") == FORMAT and snapshot.get("key") == key:
            return snapshot
    return None


def _changes(snapshot: dict[str, Any]) -> dict[str, Stamp] | None:
    """The recorded paths whose stamps moved, with their new stamps; None when a watched path
    appeared or went (a `.git` folder)."""
    if not all(os.path.exists(path) == present for path, present in snapshot["presence"]):
        return None
    changed: dict[str, Stamp] = {}
    for path, recorded in zip(snapshot["paths"], snapshot["stamps"]):
        current = stamp(path)
        if current != recorded:
            changed[path] = current
    return changed


def _save_restamped(snapshot: dict[str, Any], changed: dict[str, Stamp]) -> None:
    """The snapshot with the changed files' new stamps, once an edit in the same clock tick could not keep them."""
    if all(is_settled(recorded, now()) for recorded in changed.values()) and snapshot.get("cache_dir") is not None:
        stamps = [changed.get(path, recorded) for path, recorded in zip(snapshot["paths"], snapshot["stamps"])]
        write_head(snapshot["cache_dir"], file_name(snapshot["key"]), {**snapshot, "stamps": stamps})


class Partial:
    """A recorded run of which only the contents of a few checked files changed (no folder, config nor
    loopbound module moved): discovery and the findings of the other files are the recorded ones, the
    changed files are checked again, and the LB3 pass reruns (from its per-module cache) only when it
    read one of them and the facts it reads from it changed."""

    LIMIT = 16  # more changed files than this: the full run, with its cache and workers

    def __init__(self, snapshot: dict[str, Any], changed: dict[str, Stamp]) -> None:
        self.snapshot = snapshot
        self.changed = changed
        self.reruns_project = not set(changed).isdisjoint(snapshot["project_inputs"])
        self._changed_names = {os.path.basename(path) for path in changed}
        self._pickled_state: bytes | None = None
        self._state: tuple[Any, list[tuple[str, str, frozenset[str], bool, Any]], Any] | None = None

    @classmethod
    def of(cls, snapshot: dict[str, Any], changed: dict[str, Stamp] | None) -> Partial | None:
        if not changed or len(changed) > cls.LIMIT or not load_rest(snapshot) or snapshot.get("state") is None:
            return None
        if None in changed.values() or not set(changed) <= set(snapshot["replaceable"]):
            return None
        return cls(snapshot, changed)

    def load_state(self) -> bool:
        """Read the recorded state (snapshots.load_state): a run in part needs it, an edit's replay does not;
        False when it is gone or from another write (the run is then a full one)."""
        self._pickled_state = load_state(self.snapshot)
        return self._pickled_state is not None

    def state(self) -> tuple[Any, list[tuple[str, str, frozenset[str], bool, Any]], Any]:
        """((the discovery, the real paths it knew), each checked file's job and result, the LB3 result)."""
        if self._state is None:
            import pickle

            pickled = self._pickled_state if self._pickled_state is not None else load_state(self.snapshot)
            if pickled is None:
                raise ValueError("the recorded state of this run in part is gone")
            self._state = pickle.loads(pickled)
        return self._state

    def keeps_lb3_facts(self) -> bool:
        """Whether the LB3 pass reads from each changed file it read the facts it read (lb3_digest.py):
        then its recorded result stands."""
        barred = set(self.snapshot["project_inputs"])
        read = {name for path in self.changed for name in (path, os.path.realpath(path))} & barred
        from loopbound.unseen_edits import same_lb3_facts

        return same_lb3_facts(self.snapshot, read)

    def is_changed(self, path: str) -> bool:
        # The name first: an absolute path per checked file costs more than the rest of the lookup.
        return os.path.basename(path) in self._changed_names and os.path.abspath(path) in self.changed


def _replay(snapshot: dict[str, Any]) -> None:
    streams = (sys.stdout, sys.stderr)
    for index, text in snapshot["output"]:
        streams[index].write(text)
    for stream in streams:
        stream.flush()
    sys.exit(snapshot["status"])


class _Tee:
    """A text stream that passes everything through and keeps a copy, in order across both streams."""

    def __init__(self, stream: TextIO, index: int, output: list[tuple[int, str]]) -> None:
        self._stream = stream
        self._index = index
        self._output = output

    def write(self, text: str) -> int:
        written = self._stream.write(text)  # raises for bytes, as the real stream does
        self._output.append((self._index, text))
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Recording:
    """What one run printed and read. Discovery, the checker and the progress bar note what they see."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.started = now()
        self.output: list[tuple[int, str]] = []
        self.inputs: dict[str, Stamp] = {}
        self.presence: dict[str, bool] = {}
        self.cache_dir: str | None = None
        self.unrepeatable = False
        self.streams = (sys.stdout, sys.stderr)
        self.partial: Partial | None = None  # set when this run re-checks only the changed files
        self.discovered: object = None  # what the next run replays in part: discovery, results, LB3
        self.results: list[tuple[str, str, frozenset[str], bool, object]] = []
        self.project: object = None
        self.project_inputs: set[str] = set()  # the files the LB3 pass read: a change reruns it
        # The files the project index's resolution read, with the words whose absence was all it learnt from
        # one (none: all its bytes count); None when not known (a run that did not resolve the index).
        self.index_reads: dict[str, tuple[bytes, ...]] | None = None
        # The registry's modules with the names under each: what the pre-filter looks for
        # (unseen_edits.pre_filter_clears).
        self.module_names: dict[str, list[str]] = {}
        self.registry: bytes | None = None  # pickled: what the LB3 pass read each module's facts with
        # The digest of each module the LB3 pass read (absolute path, read as a test module): an edit that
        # keeps it leaves the pass's answer as it was (lb3_digest.py).
        self.lb3_digests: dict[tuple[str, bool], str] = {}
        self.sources_read: set[str] = set()  # the files whose lines the report showed (absolute paths)
        # What the fixes built for the report depend on (fixes/cache.py FixCache.inputs_known): the files, and
        # the names whose mention in a file would change one; None when not known.
        self.fix_inputs: tuple[list[str], list[str]] | None = None

    def note(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        for path in paths:
            text = os.fspath(path)
            if text not in self.inputs:
                self.inputs[text] = stamp(text)

    def note_stamped(self, path: str, path_stamp: Stamp) -> None:
        self.inputs.setdefault(path, path_stamp)

    def note_presence(self, path: str | os.PathLike[str]) -> None:
        """A path whose existence matters but whose stamp moves all the time (a `.git` folder)."""
        self.presence.setdefault(os.path.abspath(path), os.path.exists(path))

    def keep(self, results: Sequence[tuple[str, str, frozenset[str], bool, object]], project: object,
             module_names: Mapping[str, Iterable[str]] | None = None, registry: object = None) -> None:
        """Each checked file's job (path, shown path, codes, test or not) and result, the LB3 result, the
        registry's modules with the names under each (what the pre-filter looks for) and the registry itself."""
        import pickle

        self.results = list(results)
        self.project = project
        self.module_names = {module: sorted(names) for module, names in (module_names or {}).items()}
        self.registry = None if registry is None else pickle.dumps(registry, protocol=pickle.HIGHEST_PROTOCOL)

    def save(self, status: int) -> None:
        if self.partial is not None:
            self._save_partial(status)
            return
        if self.unrepeatable or self.cache_dir is None or status not in (0, 1):
            return
        self._note_surroundings()
        if not all(is_settled(recorded, self.started) for recorded in self.inputs.values()):
            return
        # One entry per file however it was named; a missing file in a noted folder needs no stat of
        # its own: its appearance changes the folder.
        inputs = {os.path.abspath(path): recorded for path, recorded in self.inputs.items()}
        paths = [path for path, recorded in inputs.items() if recorded is not None or os.path.dirname(path) not in inputs]
        snapshot = {"format": FORMAT, "key": self.key, "paths": paths, "stamps": [inputs[path] for path in paths],
                    "presence": list(self.presence.items()), "output": self.output, "status": status,
                    "cache_dir": self.cache_dir, **self._state()}
        write_snapshot(self.cache_dir, file_name(self.key), snapshot)

    def _state(self, replaceable: list[str] | None = None, project_inputs: list[str] | None = None,
               lb3_digests: dict[tuple[str, bool], str] | None = None) -> dict[str, Any]:
        """What a later run needs to check only the files that changed: which files those may be (the
        checked ones), which of them the LB3 pass read, and the digests of their facts."""
        if self.discovered is None or not self.results:
            return {"state": None, "replaceable": [], "project_inputs": []}
        if replaceable is None:
            replaceable = [os.path.abspath(result[0]) for result in self.results]
            project_inputs = sorted({os.path.abspath(path) for path in self.project_inputs})
        base, again = (self.partial.snapshot, set(self.partial.changed)) if self.partial is not None else ({}, set())
        from loopbound.unseen_edits import outcomes, trigger_words

        fast = {**outcomes(self.results, replaceable, base, again), "module_names": self.module_names,
                "triggers": trigger_words(), "index_reads": self.index_reads,
                "fixes": self._fixes(), "registry": self.registry,
                "lb3_digests": self.lb3_digests or lb3_digests or {}, "sources_read": sorted(self.sources_read)}
        import pickle

        try:
            state = pickle.dumps((self.discovered, self.results, self.project), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return {"state": None, "replaceable": [], "project_inputs": []}  # replayed whole or not at all
        return {"state": state, "replaceable": replaceable, "project_inputs": project_inputs, **fast}

    def _fixes(self) -> bool | tuple[list[str], list[str]]:
        """False when the report needed no fixes; what they depend on, when known; True when not."""
        if "loopbound.fixes.command" not in sys.modules:
            return False
        return True if self.fix_inputs is None else self.fix_inputs

    def _save_partial(self, status: int) -> None:
        """The recorded snapshot with the changed files' new stamps, this run's output and results."""
        partial = self.partial
        assert partial is not None
        if self.unrepeatable or status not in (0, 1) or partial.snapshot.get("cache_dir") is None:
            return
        if not all(is_settled(recorded, self.started) for recorded in partial.changed.values()):
            return
        base = partial.snapshot
        stamps = [partial.changed.get(path, recorded) for path, recorded in zip(base["paths"], base["stamps"])]
        snapshot = {**base, "stamps": stamps, "output": self.output, "status": status,
                    **self._state(base["replaceable"], base["project_inputs"], base.get("lb3_digests"))}
        write_snapshot(base["cache_dir"], file_name(self.key), snapshot)

    def _note_surroundings(self) -> None:
        """The paths every run depends on besides its files: configs above, the command line, the tool."""
        from loopbound.config import CONFIG_FILES

        arguments = sys.argv[1:]
        starts = [os.getcwd(), *(os.path.abspath(argument) for argument in arguments if os.path.exists(argument))]
        for start in starts:
            folder = start if os.path.isdir(start) else os.path.dirname(start)
            while True:
                # Files, not the folders above: /tmp or a home folder changes all the time.
                self.note(os.path.join(folder, name) for name in (*CONFIG_FILES, "conftest.py"))
                parent = os.path.dirname(folder)
                if parent == folder:
                    break
                folder = parent
        self.note(os.path.abspath(argument) for argument in arguments if os.path.isfile(argument))
        package = os.path.dirname(os.path.abspath(__file__))
        for folder, folders, names in os.walk(package):
            folders[:] = [name for name in folders if name != "__pycache__"]  # compiled bytecode comes and goes
            self.note([folder, *(os.path.join(folder, name) for name in names if name.endswith(".py"))])
        self.note(folder for folder in sys.path if folder and os.path.isdir(folder))


_recording = recorder.RECORDINGS


def _start_recording(key: str, partial: Partial | None = None) -> None:
    recording = Recording(key)
    recording.partial = partial
    _recording.append(recording)
    sys.stdout = _Tee(sys.stdout, 0, recording.output)
    sys.stderr = _Tee(sys.stderr, 1, recording.output)


def _finish_recording(status: object) -> None:
    if not _recording:
        return
    recording = _recording.pop()
    sys.stdout, sys.stderr = recording.streams
    recording.save(status if isinstance(status, int) else 0 if status is None else 2)
