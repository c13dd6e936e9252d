"""A real Chroma server (`chroma run`, from the chromadb package) on loopback for the
server-mode tests, and a fresh PostgreSQL database per test."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.pgserver import _free_port


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
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chroma run exited: {(folder / 'log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chroma run did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new, empty database on the PostgreSQL server, so each test starts clean."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)
