"""A model server inside the service, for teams whose complaints may not leave the machine:
llama.cpp's own OpenAI-compatible HTTP server (`xllamacpp`, the `local` extra) on a free
loopback port, serving one GGUF file. The LLM engine then talks to it like to any server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

_SERVERS: list[Any] = []  # kept for the life of the process: the server stops with it


def start_local_server(model: Path, slots: int = 1, threads: int = 1) -> str:
    """Starts llama.cpp on `model`; returns its OpenAI base URL (`http://127.0.0.1:PORT/v1`)."""
    if not model.is_file():
        raise InvalidInput(f"no such model file: {model}")
    try:
        import xllamacpp
    except ImportError as exc:
        raise InvalidInput("--local-model needs llama.cpp's server: pip install "
                           "'recovery-assistant[local]' (the xllamacpp package)") from exc
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.model_alias = {model.stem}
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_parallel = slots
    params.n_ctx = 4096 * slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    _SERVERS.append(xllamacpp.Server(params))
    return f"http://127.0.0.1:{port}/v1"
