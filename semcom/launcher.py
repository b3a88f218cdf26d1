"""`semcom up`: the three services as local processes on loopback, without Docker.

Starts channel, receiver and transmitter (`python -m ...`), waits until each health
service says SERVING, and on Ctrl-C / SIGTERM stops them with SIGTERM (in-flight work
finishes) before exiting. ``ServiceProcesses`` is the same thing as a context manager,
for tests and benchmarks.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.endpoints import DEFAULT_PORTS, tls_from_env
from shared.flags import add_model_flags
from shared.security import Security

ORDER = ("channel", "receiver", "transmitter")


def health_status(addr: str, timeout: float = 2.0, security: Security = Security()) -> str:
    """SERVING / NOT_SERVING / UNAVAILABLE (no answer) of the overall health of the server at addr."""
    with security.channel(addr) as ch:
        try:
            r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
            return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)
        except grpc.RpcError:
            return "UNAVAILABLE"


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on (or holds) host:port: a bind without SO_REUSEPORT fails then, even
    against a gRPC server that set it. With SO_REUSEADDR, as every server sets it, so that the closed
    connections of a server that just stopped (TIME_WAIT, a minute on Linux) do not count: a service started
    right after another on the same port binds then."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


class ServiceProcesses:
    def __init__(self, ports: dict[str, int] | None = None, host: str = "127.0.0.1", extra_args: list[str] = (),
                 env: dict[str, str] | None = None, log_dir: str | Path | None = None,
                 per_service_args: dict[str, list[str]] | None = None, security: Security = Security(),
                 serving_timeout: float = 300.0) -> None:
        self.security = security
        self.serving_timeout = serving_timeout
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.host = host
        self.extra_args = list(extra_args)
        self.per_service_args = per_service_args or {}
        self.env = {**os.environ, **(env or {})}
        self.log_dir = Path(log_dir) if log_dir else None
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs = []

    def addr(self, name: str) -> str:
        return f"{self.host}:{self.ports[name]}"

    def command(self, name: str) -> list[str]:
        cmd = [sys.executable, "-m", name, "--host", self.host, "--port", str(self.ports[name])]
        if name in ("channel", "transmitter"):
            cmd += ["--receiver-addr", self.addr("receiver")]
        if name == "transmitter":
            cmd += ["--channel-addr", self.addr("channel")]
        if name != "channel":
            cmd += self.extra_args
        else:  # the channel takes only the preset and weights (their config: image caps and symbol grid)
            for flag in ("--preset", "--weights"):
                if flag in self.extra_args[:-1]:
                    cmd += [flag, self.extra_args[self.extra_args.index(flag) + 1]]
        return cmd + self.per_service_args.get(name, [])

    def start(self, name: str) -> subprocess.Popen:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
            self._logs.append(out)
        proc = subprocess.Popen(self.command(name), env=self.env, stdout=out, stderr=subprocess.STDOUT if out else None)
        self.procs[name] = proc
        return proc

    def check_ports(self, names=ORDER) -> None:
        """RuntimeError naming every port already taken: a health check there would reach someone else's server
        and report it as ours."""
        taken = [f"{self.ports[n]} ({n})" for n in names if port_in_use(self.host, self.ports[n])]
        if taken:
            flags = " ".join(f"--{n}-port N" for n in names if any(f"({n})" in t for t in taken))
            raise RuntimeError(f"port{'s' if len(taken) > 1 else ''} {', '.join(taken)} on {self.host} "
                               f"{'are' if len(taken) > 1 else 'is'} in use (another `semcom up`?): stop what "
                               f"holds {'them' if len(taken) > 1 else 'it'}, or choose others with {flags}")

    def wait_serving(self, names=ORDER, timeout: float = 300.0) -> None:
        """Until each service answers SERVING; the answer counts only while our own process still runs."""
        end = time.monotonic() + timeout
        for name in names:
            proc = self.procs.get(name)
            while True:
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode} before serving")
                if health_status(self.addr(name), security=self.security) == "SERVING":
                    break
                if time.monotonic() > end:
                    raise TimeoutError(f"{name} at {self.addr(name)} not SERVING after {timeout:.0f} s")
                time.sleep(0.2)
        dead = [f"{n} (exit code {self.procs[n].returncode})" for n in names
                if n in self.procs and self.procs[n].poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited while the others came up")

    def stop(self, name: str, timeout: float = 60.0) -> int | None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def kill(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> "ServiceProcesses":
        self.check_ports()
        try:
            for name in ORDER:
                self.start(name)
            self.wait_serving(timeout=self.serving_timeout)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        for name in reversed(ORDER):
            self.stop(name)
        for f in self._logs:
            f.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom up", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address every service binds (default 127.0.0.1)")
    for name, port in DEFAULT_PORTS.items():
        p.add_argument(f"--{name}-port", type=int, default=port, help=f"{name} port (default {port})")
    add_model_flags(p)  # passed to the services: the same flags, the same defaults
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for SERVING (default 300)")
    p.add_argument("--web", action="store_true", help="also serve the browser page (semcom web) once all are SERVING")
    p.add_argument("--web-port", type=int, default=8080, help="the page's port with --web (default 8080)")
    p.add_argument("--examples", action="append", default=[], metavar="PATH",
                   help="with --web: a folder of PNG/JPEG photographs the page offers as examples (semcom web --examples)")
    args = p.parse_args(argv)
    if args.examples and not args.web:
        p.error("--examples is the page's: add --web")
    if args.examples:  # checked before the services start, not minutes later when the page does
        from semcom.web.examples import ExampleError, add_examples

        try:
            add_examples(args.examples)
        except ExampleError as exc:
            print(f"semcom up: {exc}", file=sys.stderr)
            return 2
    extra = []
    for flag in ("preset", "weights", "device"):
        extra += [f"--{flag}", getattr(args, flag)]
    ports = {n: getattr(args, f"{n}_port") for n in DEFAULT_PORTS}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    services = ServiceProcesses(ports, args.host, extra, security=tls_from_env(), serving_timeout=args.timeout)
    if args.web and port_in_use(args.host, args.web_port):
        print(f"semcom up: port {args.web_port} (the page) on {args.host} is in use: stop what holds it, or choose "
              "another with --web-port N", file=sys.stderr)
        return 1
    try:
        with services:
            print("semcom up: " + ", ".join(f"{n} {services.addr(n)}" for n in ORDER) + " - all SERVING "
                  "(Ctrl-C stops them)", flush=True)
            procs = dict(services.procs)
            if args.web:
                procs["web"] = web = subprocess.Popen(
                    [sys.executable, "-m", "semcom.web.app", "--host", args.host, "--port", str(args.web_port),
                     "--transmitter", services.addr("transmitter"), "--receiver", services.addr("receiver")]
                    + [arg for path in args.examples for arg in ("--examples", path)])
            try:
                while not stop.is_set():
                    for name, proc in procs.items():
                        if proc.poll() is not None:
                            print(f"semcom up: {name} exited with code {proc.returncode}; stopping",
                                  file=sys.stderr)
                            return 1
                    stop.wait(0.5)
            finally:
                if args.web and web.poll() is None:
                    web.terminate()
                    web.wait(10)
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"semcom up: {exc}", file=sys.stderr)
        return 1
    print("semcom up: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
