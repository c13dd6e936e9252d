"""Real servers on loopback for the tests: Chroma (`chroma run`, from the chromadb package),
a fresh PostgreSQL database per test, and our own API under uvicorn."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.pgserver import _free_port


def wait_for_http(url: str, process: subprocess.Popen[bytes] | subprocess.Popen[str],
                  seconds: float = 90) -> None:
    """Until `url` answers 200; fails when the process exits first or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the process behind {url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {seconds:g} s")
        time.sleep(0.2)


def chroma_binary() -> str:
    found = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("the chroma command is missing; it comes with the chromadb package")
    return found


@contextmanager
def chroma_server() -> Iterator[str]:
    """Yields the URL of a fresh server; stops it and removes its folder afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="recovery-chroma-"))
    port = _free_port()
    log = (folder / "log").open("w")
    process = subprocess.Popen(
        [chroma_binary(), "run", "--path", str(folder / "data"), "--host", "127.0.0.1",
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(f"{url}/api/v2/heartbeat", process, seconds=60)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {(folder / 'log').read_text()[-2000:]}") from exc
        yield url
    finally:
        stop(process)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Asks a server to stop; kills it when it has not within 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def fresh_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server, so each test starts clean."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The ASGI app under a real uvicorn on a free loopback port, in a thread; yields its URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
