"""Start-up figures (issue 12): the wall time of the commands a user runs, against their baselines.

Three figures, each side measured as a fresh process, runs interleaved (baseline, ours, baseline,
ours...) so a noisy neighbour hurts both alike; best of N and median are printed with the ratio:

1. ``dataproduct-mcp --version`` (goal <= 0.15 s), with ``python -c pass`` for reference;
2. stdio, spawn to first answered tool call: an ``mcp`` Client launches the server over stdio,
   initializes and calls one cheap real tool (``list_file_formats``; ``get_server_status`` is
   printed too) on a fresh DPMCP_DATA_DIR, against the SDK echo server (bench/echo_server.py,
   its ``echo`` tool) -- goal <= 1.3x;
3. ``dataproduct-mcp validate --json FILE`` on a 200 MB CSV (bench/gen_csv.py) against a plain
   pyarrow script streaming the same file with ``pyarrow.csv.open_csv`` (bench/arrow_csv.py,
   the reader bench_csv.py times in-process) -- goal <= 1.0x. Ours is timed with inferred types
   (no ``--schema``) and with the declared schema (``--schema``), like bench_csv's two ratios.
   The page cache is warmed first; each report is checked (valid, every row).

With ``--breakdown``, where the server's start-up goes: each phase of what ``serve`` does before
it reads stdin, timed inside fresh processes (best and median of ``--runs``), the echo server's
own start beside it.

The spawned commands import this checkout's ``src`` (first on PYTHONPATH; the path is printed),
whichever checkout the shared virtualenv's console script was installed from.

Bounded: ``--runs`` runs per side, each with ``--timeout`` seconds; everything on 127.0.0.1.
The load average is printed before and after (take figures when it is low).

    .venv/bin/python bench/bench_startup.py [--runs 7] [--mb 200] [--timeout 60] [--only version,stdio,validate]
                                            [--breakdown]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

BENCH = Path(__file__).resolve().parent
SRC = BENCH.parent / "src"
sys.path.insert(0, str(BENCH))

from bench_csv import SCHEMA  # noqa: E402
from gen_csv import generate  # noqa: E402

PY = sys.executable
EXE = str(Path(PY).with_name("dataproduct-mcp"))


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without DPMCP_* settings, and with bytecode caching on: an installed
    package has its .pyc files (pip compiles them), so no side recompiles its sources per run.
    This checkout's ``src`` comes first on PYTHONPATH: the console script of a shared virtualenv
    (installed from another checkout) still runs the code being measured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPMCP_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def measured_code() -> str:
    """Where the spawned commands import dataproduct_mcp from (printed with the figures)."""
    probe = [PY, "-c", "import dataproduct_mcp; print(dataproduct_mcp.__file__)"]
    return subprocess.run(probe, env=clean_env(), capture_output=True, text=True, check=True).stdout.strip()


def command(argv: list[str], timeout: float, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> float:
    """Wall time of one run of ``argv`` (spawn to exit)."""
    started = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    if out.returncode not in ok:
        raise SystemExit(f"{argv} exited {out.returncode}: {out.stderr.decode()[-2000:]}")
    return seconds


async def first_call(params: StdioServerParameters, tool: str, args: dict[str, object], timeout: float) -> float:
    """Spawn the server, initialize, call ``tool`` once: seconds until the answer is in."""
    with open(os.devnull, "w") as errlog, anyio.fail_after(timeout):
        started = time.perf_counter()
        async with Client(stdio_client(params, errlog=errlog)) as client:
            result = await client.call_tool(tool, args)
            seconds = time.perf_counter() - started
            if result.is_error:
                raise SystemExit(f"{tool} failed: {result.content}")
    return seconds


def stdio_run(kind: str, timeout: float) -> float:
    if kind == "echo":
        params = StdioServerParameters(command=PY, args=[str(BENCH / "echo_server.py")], env=clean_env())
        return anyio.run(first_call, params, "echo", {"text": "x"}, timeout)
    tool = {"ours": "list_file_formats", "ours-status": "get_server_status"}[kind]
    with tempfile.TemporaryDirectory() as tmp:  # a fresh data dir: the database is created and migrated
        env = clean_env(DPMCP_DATA_DIR=str(Path(tmp) / "data"), DPMCP_HTTP_HOST="127.0.0.1", DPMCP_HTTP_PORT="0")
        params = StdioServerParameters(command=EXE, args=["serve"], env=env, cwd=tmp)
        return anyio.run(first_call, params, tool, {}, timeout)


# Phases of `serve` up to reading stdin, in its order (cli/serve.py, server/run.py): collection off
# until ready, settings, logging, the application, the transports' module, the MCP server, start,
# the HTTP side's socket; then the first calls. The echo server's own start beside it.
BREAKDOWN_CHILD = """
import gc, json, sys, tempfile, time
from pathlib import Path
marks, t0 = [], time.perf_counter()
def mark(name):
    marks.append((name, time.perf_counter()))
if sys.argv[1] != "echo":
    gc.disable()  # as `serve` does until it is ready (the echo server keeps the default)
import mcp.server.mcpserver; mark("import mcp")
if sys.argv[1] == "echo":
    sys.path.insert(0, sys.argv[2])
    import echo_server; mark("echo: MCPServer + 1 tool")
else:
    import anyio
    from dataproduct_mcp.config import load_settings
    from dataproduct_mcp.logs import configure_logging
    mark("import config")
    settings = load_settings(data_dir=Path(tempfile.mkdtemp()) / "data", log_level="WARNING"); mark("load_settings")
    configure_logging("WARNING")
    from dataproduct_mcp.app import Application; mark("import app (services, stores, domain)")
    from dataproduct_mcp.server import run; mark("import server.run (uvicorn, HTTP side)")
    app = Application.build(settings); mark("Application.build")
    async def serve():
        server = run.build_server(app); mark(f"build_server ({len(server._tool_manager._tools)} tools)")
        await app.start(); mark("app.start (data dir, database, migrations, workers)")
        sock, _ = run._bind(settings.http_host, 0); mark("HTTP side's socket bound")
        gc.freeze(); gc.enable(); mark("ready (gc.freeze)")
        await server.call_tool("list_file_formats", {}); mark("first list_file_formats")
        await server.call_tool("get_server_status", {}); mark("first get_server_status")
        sock.close()
        await app.close()
    anyio.run(serve)
prev, out = t0, []
for name, t in marks:
    out.append([name, t - prev])
    prev = t
print(json.dumps(out))
"""


def breakdown(runs: int, timeout: float) -> dict[str, dict[str, float]]:
    phases: dict[str, list[float]] = {}
    for _ in range(runs + 1):  # the first run compiles and warms: not counted
        for kind in ("echo", "ours"):
            argv = [PY, "-c", BREAKDOWN_CHILD, kind, str(BENCH)]
            out = subprocess.run(argv, capture_output=True, timeout=timeout, check=True, env=clean_env(), text=True)
            for name, seconds in json.loads(out.stdout.strip().splitlines()[-1]):
                phases.setdefault(name, []).append(seconds)
    return {
        name: {"best_s": round(min(ts[1:]), 4), "median_s": round(statistics.median(ts[1:]), 4)}
        for name, ts in phases.items()
    }


def interleaved(sides: dict[str, Callable[[], float]], runs: int) -> dict[str, list[float]]:
    for fn in sides.values():  # one warm-up each (page cache, .pyc files)
        fn()
    out: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(runs):
        for name, fn in sides.items():
            out[name].append(fn())
    return out


def summary(times: dict[str, list[float]], base: str) -> dict[str, dict[str, float]]:
    best_base, med_base = min(times[base]), statistics.median(times[base])
    return {
        name: {
            "best_s": round(min(ts), 4),
            "median_s": round(statistics.median(ts), 4),
            "ratio_best": round(min(ts) / best_base, 3),
            "ratio_median": round(statistics.median(ts) / med_base, 3),
        }
        for name, ts in times.items()
    }


def show(title: str, s: dict[str, dict[str, float]], base: str) -> None:
    print(f"\n== {title}")
    for name, m in s.items():
        ratio = (
            "" if name == base else f"  ratio vs {base}: best {m['ratio_best']:.2f}x, median {m['ratio_median']:.2f}x"
        )
        print(f"  {name:28s} best {m['best_s']:.3f} s  median {m['median_s']:.3f} s{ratio}")


def check_report(path: Path, schema: Path | None, timeout: float) -> None:
    """Ours must really validate the file: every row, valid."""
    argv = [EXE, "validate", "--json", *(["--schema", str(schema)] if schema else []), str(path)]
    out = subprocess.run(argv, capture_output=True, timeout=timeout, check=True, env=clean_env())
    (report,) = json.loads(out.stdout)
    rows = int(subprocess.run([PY, str(BENCH / "arrow_csv.py"), str(path)], capture_output=True, check=True).stdout)
    if not report["valid"] or report["rows"] != rows:
        raise SystemExit(f"unexpected report: valid={report['valid']} rows={report['rows']} (expected {rows})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs per side (default 7)")
    parser.add_argument("--mb", type=float, default=200, help="CSV size for the validate figure (default 200)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds allowed per run (default 60)")
    parser.add_argument("--only", default="version,stdio,validate", help="comma-separated figures to take")
    parser.add_argument("--breakdown", action="store_true", help="also time the phases of the server's start-up")
    args = parser.parse_args()
    if not 1 <= args.runs <= 50:
        raise SystemExit("--runs: expected 1..50")
    only = set(args.only.split(","))
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load_before": load(),
        "runs": args.runs,
    }
    print(f"{results['machine']}, {results['date']}, {results['load_before']}, {args.runs} runs per side")
    results["code"] = measured_code()
    print(f"measuring {results['code']}")
    env = clean_env()
    if "version" in only:
        times = interleaved(
            {
                "python -c pass": lambda: command([PY, "-c", "pass"], args.timeout, env),
                "dataproduct-mcp --version": lambda: command([EXE, "--version"], args.timeout, env),
            },
            args.runs,
        )
        results["version"] = s = summary(times, "python -c pass")
        show("1. dataproduct-mcp --version (goal <= 0.15 s)", s, "python -c pass")
    if "stdio" in only:
        sides = {name: (lambda n=name: stdio_run(n, args.timeout)) for name in ("echo", "ours", "ours-status")}
        results["stdio"] = s = summary(interleaved(sides, args.runs), "echo")
        show("2. stdio spawn -> initialize -> first tool answer (goal <= 1.3x echo)", s, "echo")
        print("     (ours: list_file_formats; ours-status: get_server_status; each on a fresh DPMCP_DATA_DIR)")
    if "validate" in only:
        csv = Path(f"/tmp/bench_{args.mb:g}mb.csv")
        if not csv.exists():
            print(f"generating {csv} ({args.mb:g} MB)...", flush=True)
            generate(csv, args.mb)
        with tempfile.TemporaryDirectory() as tmp:
            schema = Path(tmp) / "schema.json"
            schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
            check_report(csv, None, args.timeout)
            check_report(csv, schema, args.timeout)
            ref = [PY, str(BENCH / "arrow_csv.py"), str(csv)]
            ours = [EXE, "validate", "--json", str(csv)]
            times = interleaved(
                {
                    "pyarrow open_csv script": lambda: command(ref, args.timeout, env),
                    "validate --json": lambda: command(ours, args.timeout, env),
                    "validate --json --schema": lambda: command(
                        ours[:3] + ["--schema", str(schema), str(csv)], args.timeout, env
                    ),
                },
                args.runs,
            )
        results["validate"] = s = summary(times, "pyarrow open_csv script")
        show(
            f"3. validate --json on {csv} ({csv.stat().st_size / 1e6:.0f} MB) (goal <= 1.0x)",
            s,
            "pyarrow open_csv script",
        )
    if args.breakdown:
        results["breakdown"] = b = breakdown(args.runs, args.timeout)
        print("\n== server start-up phases (in-process, fresh process per run; import mcp is shared)")
        for name, m in b.items():
            print(f"  {name:52s} best {m['best_s'] * 1000:7.1f} ms  median {m['median_s'] * 1000:7.1f} ms")
    results["load_after"] = load()
    print(f"\n{results['load_after']}")
    out = Path("/tmp/bench_startup_results.json")
    out.write_text(json.dumps(results, indent=2))
    print(f"results in {out}")


if __name__ == "__main__":
    main()
