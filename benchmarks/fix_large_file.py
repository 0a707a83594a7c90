"""`check --fix --unsafe-fixes` on one generated 7,500-line module with several hundred findings.

Issue 13 measured 49 s for 160 findings in a 400-line file and no end in 15 minutes for 436 findings
in 7,500 lines: the cost grew with findings x file size. This writes such a module into a temporary
folder (LB101 globals read by functions, LB202 un-awaited and LB203 unguarded releases, LB201 clients
never released), runs the real CLI on it once and prints one line: findings, lines, seconds.

    python benchmarks/fix_large_file.py [--functions 430]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HEADER = "import httpx\nfrom sqlalchemy.ext.asyncio import create_async_engine\n\n"

_GLOBAL = """
engine_{n} = create_async_engine("postgresql+asyncpg://localhost/db{n}")


async def count_{n}():
    async with engine_{n}.connect() as connection:
        return await connection.scalar("select {n}")
"""

_UNGUARDED = """

async def fetch_{n}(url):
    client = httpx.AsyncClient()
    response = await client.get(url)
    data = response.json()
    await client.aclose()
    return data
"""

_UNAWAITED = """

async def ping_{n}(url):
    client = httpx.AsyncClient()
    try:
        await client.get(url)
    finally:
        client.aclose()
"""


_PLAIN = """

def describe_{n}(values):
    \"\"\"Ordinary code between the findings: what makes the file long.\"\"\"
    total = 0
    for value in values:
        if value > {n}:
            total += value
    return total
"""


def module(functions: int) -> str:
    parts = [_HEADER]
    for n in range(functions):
        parts.append((_GLOBAL, _UNGUARDED, _UNAWAITED)[n % 3].format(n=n))
        parts.append(_PLAIN.format(n=n))
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=430)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "big_module.py"
        target.write_text(module(options.functions), encoding="utf-8")
        (Path(folder) / ".git").mkdir()
        command = [sys.executable, "-m", "loopbound", "check", "--no-cache", "--output-format", "concise"]
        before = subprocess.run([*command, "big_module.py"], cwd=folder, capture_output=True, text=True)
        findings = sum(1 for line in before.stdout.splitlines() if ": LB" in line)
        started = time.perf_counter()
        fixed = subprocess.run([*command, "--fix", "--unsafe-fixes", "big_module.py"], cwd=folder,
                               capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        lines = target.read_text(encoding="utf-8").count("\n")
        summary = (fixed.stdout.strip().splitlines() or fixed.stderr.strip().splitlines() or [""])[-1]
        print(f"fix_large_file: {findings} findings, {options.functions} functions, {lines} lines after the fix, "
              f"{elapsed:.1f} s (exit {fixed.returncode}): {summary}")


if __name__ == "__main__":
    main()
