#!/usr/bin/env python3
"""``nullsmb probe`` over many hosts: wall time and peak memory for 200 loopback targets.

    python bench/probe.py                    # 200 targets (and a 50-target run to compare memory)
    python bench/probe.py --targets 400 --concurrency 64
    python bench/probe.py --json             # machine-readable results on stdout

The targets are ``--servers`` nullsmb processes from this checkout, each listening on its own
loopback address (127.0.0.2, 127.0.0.3, ...; never any other address) on as many ports as it
takes to make ``--targets`` address:port pairs. The servers run different null-session policies
(Windows' defaults, everything open, RestrictAnonymous 2, the demo's), so the probe does the
full work: every step, RPC on the open pipes, RID cycling, share listings.

One ``python -m nullsmb probe @targets --jsonl`` process probes them all; the figures are its
wall-clock time and its peak RSS (``wait4``'s ru_maxrss). Memory is bounded by --concurrency,
not by the number of targets, which the smaller comparison run shows.

Rules:
1. The figures are printed only if the output is right: one JSON line per target, every host
   reachable and assessed, and every host of one server with the same findings (exit code 1
   otherwise).
2. Only what we started is stopped, by PID; everything listens on 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import BenchError, log, tail

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"

POLICIES = {
    "windows-default": "",
    "open": """[policy]
RestrictAnonymous = 0
RestrictAnonymousSAM = 0
TurnOffAnonymousBlock = 1
LSAAnonymousNameLookup = 1
NullSessionPipes = ["srvsvc", "samr", "lsarpc", "wkssvc"]
NullSessionShares = ["public"]
""",
    "restrict-anonymous-2": """[policy]
RestrictAnonymous = 2
NullSessionPipes = ["srvsvc"]
NullSessionShares = ["public"]
""",
    "demo": """[policy]
NullSessionPipes = ["srvsvc"]
NullSessionShares = ["public"]
""",
}

CONFIG = """\
[server]
listen = [{listen}]
map_to_guest = "bad_user"
max_connections = 10000

[admin]
enabled = false

[audit]
enabled = false

[users.alice]
password = "Passw0rd!"

[shares.public]
path = "./share"
access = {{ "Everyone" = "read", "ANONYMOUS LOGON" = "read", "alice" = "full" }}

{policy}"""


@dataclass
class Server:
    name: str
    address: str
    ports: list[int]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def targets(self) -> list[str]:
        return [f"{self.address}:{p}" for p in self.ports]


def _free_port(address: str, taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((address, 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_servers(root: Path, count: int, targets: int) -> list[Server]:
    servers = []
    names = list(POLICIES)
    taken: set[int] = set()
    for i in range(count):
        name = names[i % len(names)]
        address = f"127.0.0.{2 + i}"
        per = targets // count + (1 if i < targets % count else 0)
        ports = [_free_port(address, taken) for _ in range(per)]
        workdir = root / f"server{i}-{name}"
        (workdir / "share").mkdir(parents=True)
        for n in range(3):
            (workdir / "share" / f"file{n}.txt").write_text("bench\n")
        listen = ", ".join(f'"{address}:{p}"' for p in ports)
        (workdir / "server.toml").write_text(CONFIG.format(listen=listen, policy=POLICIES[name]))
        servers.append(Server(name, address, ports, workdir))
    env = dict(os.environ, PYTHONPATH=str(SRC), PYTHONUNBUFFERED="1")
    for s in servers:
        with open(s.workdir / "server.log", "wb") as out:
            s.proc = subprocess.Popen([sys.executable, "-m", "nullsmb", "serve", "--config", "server.toml"],
                                      cwd=s.workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    for s in servers:
        assert s.proc is not None
        while not all(_accepts(s.address, p) for p in (s.ports[0], s.ports[-1])):
            if s.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{s.name} on {s.address} did not start:\n{tail(s.workdir / 'server.log')}")
            time.sleep(0.1)
    return servers


def stop_servers(servers: list[Server]) -> None:
    for s in servers:
        proc, s.proc = s.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_probe(root: Path, targets: list[str], concurrency: int, timeout: float) -> dict[str, object]:
    """One probe process over ``targets``; wall time, peak RSS and the JSON lines."""
    tag = f"{len(targets)}-{concurrency}"
    target_file = root / f"targets-{tag}.txt"
    target_file.write_text("\n".join(targets) + "\n")
    out_path = root / f"probe-{tag}.jsonl"
    env = dict(os.environ, PYTHONPATH=str(SRC))
    argv = [sys.executable, "-m", "nullsmb", "probe", f"@{target_file}", "--jsonl", "--concurrency",
            str(concurrency), "--timeout", str(timeout)]
    with open(out_path, "wb") as out, open(root / f"probe-{tag}.stderr", "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [json.loads(line) for line in out_path.read_text().splitlines()]
    return {"targets": len(targets), "concurrency": concurrency, "wall_s": round(wall, 2),
            "hosts_per_s": round(len(targets) / wall, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "exit_code": proc.returncode, "lines": lines,
            "stderr": (root / f"probe-{tag}.stderr").read_text(errors="replace")}


def check(result: dict[str, object], servers: list[Server], targets: list[str]) -> list[str]:
    """Rule 1: what must hold before a figure means anything."""
    problems = []
    lines = result["lines"]
    assert isinstance(lines, list)
    if "Traceback" in str(result["stderr"]):
        problems.append("the probe printed a traceback")
    if sorted(f"{h['host']}:{h['port']}" for h in lines) != sorted(targets):
        problems.append(f"{len(lines)} JSON lines for {len(targets)} targets")
    for h in lines:
        if not h["reachable"] or h["verdict"]["status"] != "assessed" or h["incomplete"]:
            problems.append(f"{h['host']}:{h['port']}: {h['verdict']['status']} {h['connect']} {h['incomplete']}")
    for s in servers:
        mine = [h for h in lines if h["host"] == s.address]
        kinds = {tuple(sorted(f["id"] for f in h["verdict"]["findings"])) for h in mine}
        if len(kinds) > 1:
            problems.append(f"{s.name}: hosts of one server disagree: {sorted(kinds)}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=200, help="address:port targets (default: %(default)s)")
    ap.add_argument("--servers", type=int, default=4, help="nullsmb processes, one address each (default: 4)")
    ap.add_argument("--concurrency", type=int, default=32, help="the probe's --concurrency (default: 32)")
    ap.add_argument("--timeout", type=float, default=10.0, help="the probe's --timeout (default: 10)")
    ap.add_argument("--compare", type=int, default=50,
                    help="a second, smaller run to compare peak memory with (0: none; default: 50)")
    ap.add_argument("--json", action="store_true", help="results as JSON on stdout")
    args = ap.parse_args()
    if not 1 <= args.servers <= 200 or args.targets < args.servers:
        ap.error("need 1-200 servers and at least one target per server")
    root = Path(tempfile.mkdtemp(prefix="nullsmb-bench-probe-"))
    servers: list[Server] = []
    try:
        log(f"starting {args.servers} nullsmb servers on 127.0.0.2..127.0.0.{1 + args.servers} "
            f"({args.targets} address:port targets) in {root}")
        servers = start_servers(root, args.servers, args.targets)
        every = []  # round robin over the servers: every run probes all policies at once
        for i in range(max(len(s.ports) for s in servers)):
            every += [s.targets[i] for s in servers if i < len(s.ports)]
        results = []
        sizes = [args.targets] + ([args.compare] if 0 < args.compare < args.targets else [])
        for size in sizes:
            log(f"probing {size} targets, --concurrency {args.concurrency}")
            result = run_probe(root, every[:size], args.concurrency, args.timeout)
            problems = check(result, servers, every[:size])
            if problems:
                for p in problems[:20]:
                    log(f"problem: {p}")
                return 1
            results.append(result)
        per_server = {}
        for s in servers:
            hosts = [h for h in results[0]["lines"] if h["host"] == s.address]  # type: ignore[union-attr]
            per_server[s.name] = sorted(f["id"] for f in hosts[0]["verdict"]["findings"]) if hosts else []
        table = [{k: v for k, v in r.items() if k not in ("lines", "stderr")} for r in results]
        machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
        if args.json:
            print(json.dumps({"runs": table, "findings_per_policy": per_server, "machine": machine}, indent=1))
        else:
            print(f"\nnullsmb probe, {args.servers} nullsmb servers on loopback ({machine['cpus']} CPUs, "
                  f"Python {machine['python']})\n")
            print("| targets | concurrency | wall time | hosts/s | peak RSS of the probe | CPU time | exit |")
            print("|--------:|------------:|----------:|--------:|----------------------:|---------:|-----:|")
            for r in table:
                print(f"| {r['targets']} | {r['concurrency']} | {r['wall_s']} s | {r['hosts_per_s']} | "
                      f"{r['peak_rss_mib']} MiB | {r['cpu_s']} s | {r['exit_code']} |")
            print("\nfindings per policy (the same on every host of a server):")
            for name, ids in per_server.items():
                print(f"  {name}: {', '.join(ids) or 'none'}")
        return 0
    except BenchError as exc:
        log(f"error: {exc}")
        return 1
    finally:
        stop_servers(servers)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
