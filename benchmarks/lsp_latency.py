"""How fast `loopbound server` answers an editor: didChange -> publishDiagnostics and didSave -> project diagnostics.

    python benchmarks/lsp_latency.py                 # the corpus of benchmarks/README.md (built on first use)
    python benchmarks/lsp_latency.py --changes 40 --saves 10 --readme README.md

The server runs as `python -m loopbound server`, spoken to over stdio by a pygls client, as an
editor would. Two measurements, each the median of several rounds:

- change: the module (3,000+ lines, with findings) is open; each round sends a whole-document
  didChange (a comment line edited) and times until the diagnostics of that version arrive. The
  server's CPU time for the same span is read from /proc, so a loaded machine shows as wall > CPU.
- save: a test module of the corpus is edited, written and saved; the server checks it again, grades
  it by the project index (resolved again only if its summary changed) and re-runs the project rules
  (LB3) over the workspace folder through its results cache (warm: filled by an earlier save), and
  publishes; timed until the saved document's diagnostics arrive.

Opening the first module checks the whole folder as `loopbound check` would (not timed), and the
first change resolves the project index (not counted: the median is over the rounds).

Targets (issue 15): change <= 100 ms, save <= 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

HERE = Path(__file__).resolve().parent
CHANGED_MODULE = "redis-5.2.1/tests/test_asyncio/test_cluster.py"  # 3,040 lines, LB203 findings
SAVED_MODULE = "pytest_asyncio-0.25.0/tests/test_simple.py"  # a test module: an input of the LB3 pass
TARGETS = {"change": 0.100, "save": 1.0}


@dataclass
class Waiter:
    """The publishes seen per URI, so a round waits for the one that answers it."""

    published: dict[str, list[tuple[float, int | None, int]]] = field(default_factory=dict)
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, params: types.PublishDiagnosticsParams) -> None:
        self.published.setdefault(params.uri, []).append((time.perf_counter(), params.version,
                                                          len(params.diagnostics)))
        self.event.set()

    async def next(self, uri: str, seen: int, version: int | None = None) -> tuple[float, int]:
        """The time and number of diagnostics of the first publish of `uri` after `seen` (of `version`)."""
        while True:
            for at, published_version, count in self.published.get(uri, [])[seen:]:
                if version is None or published_version == version:
                    return at, count
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), 120)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(root: Path, changes: int, saves: int, profile: Path | None = None, changed: str = CHANGED_MODULE,
                  saved: str = SAVED_MODULE) -> dict[str, dict[str, float]]:
    client = LanguageClient("lsp-latency", "1")
    waiter = Waiter()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def publish(params: types.PublishDiagnosticsParams) -> None:
        waiter.record(params)

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log(params: types.LogMessageParams) -> None:
        pass

    command = ["-m", "loopbound", "server"]
    if profile is not None:  # where the server's time goes: cProfile stats written when it exits
        command = ["-c", f"import cProfile; cProfile.run('from loopbound.server import serve; serve()', {str(profile)!r})"]
    await client.start_io(sys.executable, *command, cwd=str(root))
    assert client._server is not None
    pid = client._server.pid
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=root.as_uri(),
        workspace_folders=[types.WorkspaceFolder(root.as_uri(), root.name)]))
    client.initialized(types.InitializedParams())
    results = {"change": await _changes(client, waiter, pid, root / changed, changes),
               "save": await _saves(client, waiter, pid, root / saved, saves)}
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return results


async def _open(client: LanguageClient, waiter: Waiter, path: Path) -> tuple[str, str]:
    uri, text = path.as_uri(), path.read_text(encoding="utf-8")
    seen = len(waiter.published.get(uri, []))
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
    await waiter.next(uri, seen)
    return uri, text


async def _changes(client: LanguageClient, waiter: Waiter, pid: int, path: Path, rounds: int) -> dict[str, float]:
    uri, text = await _open(client, waiter, path)
    walls, cpus, findings = [], [], 0
    for version in range(2, rounds + 2):
        edited = f"# edit {version}\n{text}"
        seen = len(waiter.published.get(uri, []))
        cpu, started = cpu_seconds(pid), time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version, uri), [types.TextDocumentContentChangeWholeDocument(edited)]))
        at, findings = await waiter.next(uri, seen, version)
        walls.append(at - started)
        cpus.append(cpu_seconds(pid) - cpu)
        await asyncio.sleep(0.05)  # typing pauses: each change is checked on its own, not coalesced
    return {"median_s": statistics.median(walls), "cpu_median_s": statistics.median(cpus), "rounds": rounds,
            "lines": text.count("\n") + 1, "findings": findings}


async def _saves(client: LanguageClient, waiter: Waiter, pid: int, path: Path, rounds: int) -> dict[str, float]:
    original = path.read_bytes()
    uri, text = await _open(client, waiter, path)
    walls, cpus, findings = [], [], 0
    try:
        for version in range(2, rounds + 3):
            edited = f"{text}\n# saved {version}\n"
            seen = len(waiter.published.get(uri, []))
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version, uri), [types.TextDocumentContentChangeWholeDocument(edited)]))
            await waiter.next(uri, seen, version)
            path.write_text(edited, encoding="utf-8")
            seen = len(waiter.published.get(uri, []))
            cpu, started = cpu_seconds(pid), time.perf_counter()
            client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
            at, findings = await waiter.next(uri, seen)
            if version > 2:  # the first save fills the project cache: the rounds measured are warm
                walls.append(at - started)
                cpus.append(cpu_seconds(pid) - cpu)
    finally:
        path.write_bytes(original)
    return {"median_s": statistics.median(walls), "cpu_median_s": statistics.median(cpus), "rounds": rounds,
            "findings": findings}


def table(results: dict[str, dict[str, float]], root: Path, changed: str = CHANGED_MODULE,
          saved: str = SAVED_MODULE) -> str:
    change, save = results["change"], results["save"]
    load = os.getloadavg()[0]
    return "\n".join([
        f"Corpus: `{root.relative_to(HERE.parent) if root.is_relative_to(HERE.parent) else root}`; "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {load:.1f} at the end.",
        "",
        "| measurement | median wall ms | median server CPU ms | rounds | target | met |",
        "|---|---:|---:|---:|---|---|",
        f"| didChange → publishDiagnostics, `{changed}` ({int(change['lines'])} lines, "
        f"{int(change['findings'])} findings) | {change['median_s'] * 1000:.0f} | {change['cpu_median_s'] * 1000:.0f} "
        f"| {int(change['rounds'])} | ≤ 100 ms | {'yes' if change['median_s'] <= TARGETS['change'] else 'NO'} |",
        f"| didSave → project diagnostics, `{saved}` (warm cache) | {save['median_s'] * 1000:.0f} "
        f"| {save['cpu_median_s'] * 1000:.0f} | {int(save['rounds'])} | ≤ 1 s "
        f"| {'yes' if save['median_s'] <= TARGETS['save'] else 'NO'} |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="the corpus root (default: build benchmarks/corpus/src)")
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--saves", type=int, default=7)
    parser.add_argument("--changed", default=CHANGED_MODULE, help="the module edited, relative to the corpus")
    parser.add_argument("--saved", default=SAVED_MODULE, help="the test module saved, relative to the corpus")
    parser.add_argument("--profile", type=Path, help="run the server under cProfile, writing its stats here")
    parser.add_argument("--readme", type=Path, help="put the table in this file between its lsp-latency markers")
    args = parser.parse_args()
    if args.corpus is None:
        sys.path.insert(0, str(HERE))
        from run import CORPUS, build_corpus

        root = build_corpus(CORPUS)
    else:
        root = args.corpus.resolve()
    results = asyncio.run(measure(root, args.changes, args.saves, args.profile, args.changed, args.saved))
    text = table(results, root, args.changed, args.saved)
    print(text)
    if args.readme:
        readme = args.readme.read_text(encoding="utf-8")
        replaced = re.sub(r"(<!-- lsp-latency:start -->\n).*?(<!-- lsp-latency:end -->)",
                          lambda match: match.group(1) + text + "\n" + match.group(2), readme, flags=re.DOTALL)
        args.readme.write_text(replaced, encoding="utf-8")


if __name__ == "__main__":
    main()
