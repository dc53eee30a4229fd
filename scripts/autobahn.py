"""Run the Autobahn TestSuite (through `kosoku`) against sockeye and check the report.

Invoked by `scripts/autobahn`; see `scripts/autobahn --help`. Standard library only, so it
runs under any Python 3.9+; kosoku itself is run from `.venv/bin/kosoku`.

Modes:
  server  start the server under test on a free loopback port, drive it with
          `kosoku -m fuzzingclient`, stop it, check `reports/server/index.json`.
  client  start `kosoku -m fuzzingserver`, run the client under test against it, make sure
          `/updateReports` was called (calling it ourselves if the client did not get that
          far), check `reports/client/index.json`.
  check   only check an existing report directory.

A case passes only when `behavior` is OK (INFORMATIONAL is accepted for 7.1.6, 7.13.1 and
7.13.2, which are informational for every implementation) and `behaviorClose` is OK or
INFORMATIONAL. NON-STRICT is a failure. Cases matching a glob in the allowance list
(`--allow-unimplemented` / AUTOBAHN_ALLOW_UNIMPLEMENTED) may be UNIMPLEMENTED instead.

kosoku's own exit status is not used as the verdict: it counts NON-STRICT as a pass.
"""

from __future__ import annotations

import argparse
import base64
import collections
import fnmatch
import json
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KOSOKU = ROOT / ".venv" / "bin" / "kosoku"

DEFAULT_SERVER_CMD = "target/release/sockeye serve {addr}"
DEFAULT_CLIENT_CMD = "target/release/examples/autobahn-client {url}"

# behavior INFORMATIONAL is the expected outcome for these cases, whoever runs them.
INFORMATIONAL_CASES = {"7.1.6", "7.13.1", "7.13.2"}
OK_CLOSE = {"OK", "INFORMATIONAL"}


def env_num(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        sys.exit(f"autobahn: {name}={value!r} is not a number")


def log(msg: str) -> None:
    print(f"autobahn: {msg}", flush=True)


# --------------------------------------------------------------------------- processes

_children: list[subprocess.Popen] = []


def spawn(cmd: list[str], logfile: Path, **kwargs) -> subprocess.Popen:
    """Start `cmd` in its own process group, output to `logfile`."""
    out = open(logfile, "wb")
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )
    except OSError as e:
        sys.exit(f"autobahn: cannot start {shlex.join(cmd)}: {e}")
    finally:
        out.close()
    _children.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 5.0) -> int | None:
    """Stop one child we started: SIGTERM to its process group (by its pid), then SIGKILL."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        # The leader is gone; anything it left in its group goes too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if proc in _children:
        _children.remove(proc)
    return proc.returncode


def stop_all() -> None:
    for proc in list(_children):
        stop(proc, grace=2.0)


def _on_signal(signum, _frame):
    log(f"got signal {signum}; stopping the processes it started")
    stop_all()
    sys.exit(128 + signum)


def wait_for(proc: subprocess.Popen, timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def note(problems: list[str], msg: str) -> None:
    log(msg)
    problems.append(msg)


def display(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def tail(path: Path, lines: int = 30) -> None:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return
    if not text:
        return
    log(f"last {min(lines, len(text))} lines of {display(path)}:")
    for line in text[-lines:]:
        print(f"    {line}")


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_tcp(host: str, port: int, timeout: float, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def command(template: str, **fields: str) -> list[str]:
    try:
        argv = [arg.format(**fields) for arg in shlex.split(template)]
    except (KeyError, IndexError, ValueError) as e:
        sys.exit(f"autobahn: bad command template {template!r}: {e}")
    if not argv:
        sys.exit("autobahn: empty command template")
    exe = argv[0]
    if "/" in exe:
        if not (ROOT / exe).exists():
            sys.exit(
                f"autobahn: {exe} not found; build it first with "
                "`cargo build --release --workspace --bins --examples`"
            )
    elif shutil.which(exe) is None:
        sys.exit(f"autobahn: {exe} not found on PATH")
    return argv


def kosoku_args(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    for case in args.include or []:
        out += ["-i", case]
    for case in args.exclude or []:
        out += ["-x", case]
    return out


def fresh_dir(path: Path) -> None:
    # kosoku never clears its output directory: remove it so a stale index.json can
    # never be mistaken for this run's. Only ever remove what looks like a report directory.
    if path.exists():
        if path.is_dir() and not any(path.iterdir()):
            pass
        elif not (path.is_dir() and ((path / "index.json").exists() or (path / "logs").is_dir())):
            sys.exit(f"autobahn: refusing to clear {path}: it does not look like a report directory")
        shutil.rmtree(path)
    (path / "logs").mkdir(parents=True)


# --------------------------------------------------------------------------- tiny ws client


class WsError(Exception):
    pass


def ws_open(url: str, timeout: float) -> tuple[socket.socket, bytes]:
    """Open a WebSocket to `ws://host:port/path` and return the socket and leftover bytes."""
    if not url.startswith("ws://"):
        raise WsError(f"unsupported URL {url!r}")
    rest = url[len("ws://") :]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            sock.close()
            raise WsError("connection closed during the handshake")
        buf += chunk
        if len(buf) > 65536:
            sock.close()
            raise WsError("handshake response too large")
    head, _, leftover = buf.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 101" not in status:
        sock.close()
        raise WsError(f"handshake refused: {status.decode(errors='replace')}")
    return sock, leftover


def ws_read_frame(sock: socket.socket, buf: bytes) -> tuple[int, bytes, bytes]:
    def need(n: int) -> None:
        nonlocal buf
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise WsError("connection closed")
            buf += chunk

    need(2)
    opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
    pos = 2
    if length == 126:
        need(4)
        (length,) = struct.unpack("!H", buf[2:4])
        pos = 4
    elif length == 127:
        need(10)
        (length,) = struct.unpack("!Q", buf[2:10])
        pos = 10
    need(pos + length)
    return opcode, buf[pos : pos + length], buf[pos + length :]


def ws_close(sock: socket.socket, buf: bytes) -> None:
    """Send a masked 1000 close and wait (briefly) for the peer's close or EOF."""
    try:
        mask = os.urandom(4)
        payload = struct.pack("!H", 1000)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x88, 0x80 | len(payload)]) + mask + masked)
        while True:
            opcode, _, buf = ws_read_frame(sock, buf)
            if opcode == 0x8:
                break
    except (OSError, WsError):
        pass
    finally:
        sock.close()


def get_case_count(base: str, timeout: float = 10.0) -> int:
    sock, buf = ws_open(f"{base}/getCaseCount", timeout)
    try:
        opcode, payload, buf = ws_read_frame(sock, buf)
    except BaseException:
        sock.close()
        raise
    ws_close(sock, buf)
    if opcode != 0x1:
        raise WsError(f"getCaseCount: expected a text message, got opcode {opcode}")
    return int(payload.decode())


def update_reports(base: str, agent: str, timeout: float = 10.0) -> None:
    sock, buf = ws_open(f"{base}/updateReports?agent={agent}", timeout)
    ws_close(sock, buf)


# --------------------------------------------------------------------------- report check


def case_key(case_id: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def parse_patterns(text: str | None) -> list[str]:
    if not text:
        return []
    return [p for p in text.replace(",", " ").split() if p]


def check(outdir: Path, allow_unimplemented: list[str], expected_cases: int | None = None) -> list[str]:
    """Print the report's summary; return the reasons it falls short (empty: it passes)."""
    index_path = outdir / "index.json"
    rel = display(index_path)
    print(f"\n== Autobahn report: {rel}")
    if not index_path.is_file():
        print("no report: kosoku writes one only when at least one case ran")
        return [f"no report at {rel}"]
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as e:
        return [f"cannot read {rel}: {e}"]
    if allow_unimplemented:
        print(f"allowed UNIMPLEMENTED: {' '.join(allow_unimplemented)}")

    problems = []
    total = 0
    for agent, cases in sorted(index.items()):
        behaviors: collections.Counter = collections.Counter()
        closes: collections.Counter = collections.Counter()
        passed = allowed = 0
        failures = []
        for case_id in sorted(cases, key=case_key):
            entry = cases[case_id]
            b, bc = entry.get("behavior"), entry.get("behaviorClose")
            behaviors[b] += 1
            closes[bc] += 1
            good_behavior = b == "OK" or (b == "INFORMATIONAL" and case_id in INFORMATIONAL_CASES)
            unimpl_allowed = b == "UNIMPLEMENTED" and any(
                fnmatch.fnmatchcase(case_id, p) for p in allow_unimplemented
            )
            if bc in OK_CLOSE and good_behavior:
                passed += 1
            elif bc in OK_CLOSE and unimpl_allowed:
                allowed += 1
            else:
                failures.append((case_id, entry))
        total += len(cases)

        print(f"agent: {agent}   cases: {len(cases)}")
        width = max([len(str(k)) for k in list(behaviors) + list(closes)] + [14])
        print(f"  {'behavior':<{width}} {'count':>5}    {'behaviorClose':<{width}} {'count':>5}")
        left = sorted(behaviors.items(), key=lambda kv: -kv[1])
        right = sorted(closes.items(), key=lambda kv: -kv[1])
        for i in range(max(len(left), len(right))):
            lcol = f"{left[i][0]!s:<{width}} {left[i][1]:>5}" if i < len(left) else " " * (width + 6)
            rcol = f"{right[i][0]!s:<{width}} {right[i][1]:>5}" if i < len(right) else ""
            print(f"  {lcol}    {rcol}".rstrip())
        print(f"  passed {passed}, allowed UNIMPLEMENTED {allowed}, failing {len(failures)}")
        if failures:
            problems.append(f"{len(failures)} of {len(cases)} cases failing for agent {agent!r}")
            print(f"  failing cases ({len(failures)}):")
            for case_id, entry in failures:
                print(
                    f"    {case_id:<10} behavior={entry.get('behavior')}"
                    f"  behaviorClose={entry.get('behaviorClose')}"
                    f"  remoteCloseCode={entry.get('remoteCloseCode')}"
                    f"  {rel.parent / str(entry.get('reportfile'))}"
                )

    if total == 0:
        problems.append("the report holds zero cases")
    elif expected_cases is not None and total != expected_cases:
        problems.append(f"the report holds {total} cases but {expected_cases} were selected")
    return problems


# --------------------------------------------------------------------------- modes


def start_server(host: str, startup: float, server_log: Path) -> tuple[subprocess.Popen, str, bool]:
    """Start the server under test on a free port (AUTOBAHN_PORT, else one found free).

    Returns the process, its address and whether it accepts connections. A port found
    free may be taken by another process before the server binds it (the test command runs
    other checks at the same time): a server that exits saying its address is in use is
    started again on another port.
    """
    fixed = int(env_num("AUTOBAHN_PORT", 0))
    template = os.environ.get("AUTOBAHN_SERVER_CMD") or DEFAULT_SERVER_CMD
    for attempt in range(1, 4):
        port = fixed or free_port(host)
        addr = f"{host}:{port}"
        argv = command(template, addr=addr, host=host, port=str(port), url=f"ws://{addr}")
        log(f"starting server under test: {shlex.join(argv)}")
        server = spawn(argv, server_log)
        # Whoever took the port answers too: the server must still be running a moment after
        # the port first accepted (one that could not bind it exits at once).
        if wait_tcp(host, port, startup, server) and wait_for(server, 0.5) is None:
            return server, addr, True
        in_use = "in use" in server_log.read_text(errors="replace").lower()
        if fixed or server.poll() is None or not in_use or attempt == 3:
            return server, addr, False
        log(f"port {port} was taken before the server bound it; trying another")
        stop(server)
    raise AssertionError("unreachable")


def run_server(args: argparse.Namespace, outdir: Path) -> list[str]:
    host = "127.0.0.1"
    startup = env_num("AUTOBAHN_STARTUP_TIMEOUT", 20)
    run_timeout = env_num("AUTOBAHN_RUN_TIMEOUT", 900)
    problems: list[str] = []

    fresh_dir(outdir)
    server_log = outdir / "logs" / "server.log"
    server, addr, accepting = start_server(host, startup, server_log)
    try:
        if not accepting:
            if server.poll() is not None:
                note(problems, f"the server exited with status {server.returncode} before accepting connections")
            else:
                note(problems, f"the server did not accept TCP connections on {addr} within {startup:g} s")
            tail(server_log)
            return problems
        log(f"server pid {server.pid} accepts connections on {addr}")

        cmd = [str(KOSOKU), "-m", "fuzzingclient", addr, "-o", str(outdir), "-p", str(args.parallelism)]
        cmd += kosoku_args(args)
        log(f"running: {shlex.join(cmd)}")
        started = time.monotonic()
        kosoku_log = outdir / "logs" / "kosoku.log"
        kosoku = spawn(cmd, kosoku_log)
        rc = wait_for(kosoku, run_timeout)
        if rc is None:
            note(problems, f"kosoku did not finish within {run_timeout:g} s (AUTOBAHN_RUN_TIMEOUT)")
            stop(kosoku)
        else:
            _children.remove(kosoku)
            log(f"kosoku finished in {time.monotonic() - started:.1f} s with status {rc}")
            if rc not in (0, 1) or not (outdir / "index.json").exists():
                tail(kosoku_log)
            if rc not in (0, 1):
                note(problems, f"kosoku exited with status {rc}")
        if server.poll() is not None:
            note(problems, f"the server under test exited during the run (status {server.returncode})")
            tail(server_log)
    finally:
        src = stop(server)
        log(f"stopped server pid {server.pid} (status {src})")

    return check(outdir, args.allow_unimplemented) + problems


def run_client(args: argparse.Namespace, outdir: Path) -> list[str]:
    startup = env_num("AUTOBAHN_STARTUP_TIMEOUT", 20)
    client_timeout = env_num("AUTOBAHN_CLIENT_TIMEOUT", 900)
    report_timeout = env_num("AUTOBAHN_REPORT_TIMEOUT", 120)
    agent = os.environ.get("AUTOBAHN_AGENT") or "sockeye"
    template = os.environ.get("AUTOBAHN_CLIENT_CMD") or DEFAULT_CLIENT_CMD
    command(template, url="ws://127.0.0.1:1", addr="127.0.0.1:1", host="127.0.0.1", port="1", agent=agent)
    problems: list[str] = []

    fresh_dir(outdir)
    cmd = [str(KOSOKU), "-m", "fuzzingserver", "127.0.0.1:0", "-o", str(outdir)]
    cmd += kosoku_args(args)
    kosoku_log = outdir / "logs" / "kosoku.log"
    log(f"running: {shlex.join(cmd)}")
    kosoku = spawn(cmd, kosoku_log)
    try:
        # kosoku prints `fuzzingserver listening on ws://HOST:PORT` on stderr.
        base = None
        deadline = time.monotonic() + startup
        while base is None and time.monotonic() < deadline and kosoku.poll() is None:
            for line in kosoku_log.read_text(errors="replace").splitlines():
                if line.startswith("fuzzingserver listening on ws://"):
                    base = line.split(" on ", 1)[1].strip().rstrip("/")
                    break
            else:
                time.sleep(0.1)
        if base is None:
            tail(kosoku_log)
            if kosoku.poll() is not None:
                return [f"kosoku exited with status {kosoku.returncode} before listening"]
            return [f"kosoku did not report its listening address within {startup:g} s"]
        log(f"kosoku pid {kosoku.pid} listening on {base}")

        try:
            expected = get_case_count(base)
        except (OSError, WsError, ValueError) as e:
            return [f"cannot read {base}/getCaseCount: {e}"]
        log(f"{expected} cases selected")

        hostport = base[len("ws://") :]
        host, _, port = hostport.rpartition(":")
        argv = command(template, url=base, addr=hostport, host=host, port=port, agent=agent)
        client_log = outdir / "logs" / "client.log"
        log(f"running client under test: {shlex.join(argv)}")
        started = time.monotonic()
        client = spawn(argv, client_log)
        crc = wait_for(client, client_timeout)
        if crc is None:
            note(problems, f"the client did not finish within {client_timeout:g} s (AUTOBAHN_CLIENT_TIMEOUT)")
            stop(client)
            tail(client_log)
        else:
            _children.remove(client)
            log(f"client finished in {time.monotonic() - started:.1f} s with status {crc}")
            if crc != 0:
                note(problems, f"the client exited with status {crc}")
                tail(client_log)

        # A client that got through calls /updateReports itself; kosoku then stops listening,
        # writes the reports and exits. If kosoku is still waiting, call it ourselves, as
        # kosoku would wait forever otherwise. A call after the client's own is harmless.
        asked = time.monotonic()
        if wait_for(kosoku, 3.0) is None:
            log(f"calling {base}/updateReports?agent={agent} so that kosoku writes its reports")
            asked = time.monotonic()
            try:
                update_reports(base, agent)
            except (OSError, WsError) as e:
                # Refused once kosoku has stopped listening (it is writing its reports).
                log(f"/updateReports: {e}")
        rc = wait_for(kosoku, report_timeout)
        if rc is None:
            note(problems, f"kosoku did not exit within {report_timeout:g} s after /updateReports (AUTOBAHN_REPORT_TIMEOUT)")
            stop(kosoku)
        else:
            _children.remove(kosoku)
            log(f"kosoku exited with status {rc} ({time.monotonic() - asked:.1f} s)")
            if rc not in (0, 1) or not (outdir / "index.json").exists():
                tail(kosoku_log)
            if rc not in (0, 1):
                note(problems, f"kosoku exited with status {rc}")
    finally:
        stop_all()

    return check(outdir, args.allow_unimplemented, expected) + problems


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/autobahn",
        description="Run the Autobahn TestSuite (kosoku) against sockeye and check the report.",
        epilog=(
            "environment: AUTOBAHN_ALLOW_UNIMPLEMENTED (globs, default none), "
            "AUTOBAHN_SERVER_CMD (default %r; fields {addr} {host} {port} {url}), "
            "AUTOBAHN_CLIENT_CMD (default %r; fields {url} {addr} {host} {port} {agent}), "
            "AUTOBAHN_PARALLELISM (2), AUTOBAHN_PORT (free port), AUTOBAHN_AGENT (sockeye), "
            "AUTOBAHN_STARTUP_TIMEOUT (20), AUTOBAHN_RUN_TIMEOUT (900), "
            "AUTOBAHN_CLIENT_TIMEOUT (900), AUTOBAHN_REPORT_TIMEOUT (120); times in seconds"
        )
        % (DEFAULT_SERVER_CMD, DEFAULT_CLIENT_CMD),
    )
    parser.add_argument("mode", choices=["server", "client", "check"])
    parser.add_argument("dir", nargs="?", help="check mode: the report directory to check")
    parser.add_argument("-i", "--include", action="append", metavar="CASE", help="passed to kosoku (repeatable)")
    parser.add_argument("-x", "--exclude", action="append", metavar="CASE", help="passed to kosoku (repeatable)")
    parser.add_argument(
        "-p",
        "--parallelism",
        type=int,
        default=int(env_num("AUTOBAHN_PARALLELISM", 2)),
        help="cases kosoku runs at once in server mode (default: AUTOBAHN_PARALLELISM or 2)",
    )
    parser.add_argument("-o", "--outdir", help="report directory (default: reports/server or reports/client)")
    parser.add_argument(
        "--allow-unimplemented",
        metavar="GLOBS",
        default=os.environ.get("AUTOBAHN_ALLOW_UNIMPLEMENTED", ""),
        help="space/comma separated case globs that may be UNIMPLEMENTED "
        "(default: AUTOBAHN_ALLOW_UNIMPLEMENTED, else none)",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    args.allow_unimplemented = parse_patterns(args.allow_unimplemented)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    if args.mode == "check":
        if not args.dir:
            parser.error("check needs a report directory")
        problems = check(Path(args.dir).resolve(), args.allow_unimplemented)
    else:
        if args.dir:
            parser.error(f"unexpected argument {args.dir!r}")
        if args.parallelism < 1:
            parser.error("parallelism must be at least 1")
        if not KOSOKU.exists():
            sys.exit(f"autobahn: {display(KOSOKU)} not found; run scripts/setup-venv")
        outdir = Path(args.outdir).resolve() if args.outdir else ROOT / "reports" / args.mode
        run = run_server if args.mode == "server" else run_client
        try:
            problems = run(args, outdir)
        finally:
            stop_all()

    if problems:
        print(f"\nautobahn {args.mode}: FAIL: " + "; ".join(problems))
        return 1
    print(f"\nautobahn {args.mode}: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
