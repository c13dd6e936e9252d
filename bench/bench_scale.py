"""Server mode: one and two API instances behind the same Chroma server and PostgreSQL.

Run: .venv/bin/python bench/bench_scale.py [--seconds 20] [--clients 16]

Starts a real `chroma run` and a real PostgreSQL on loopback (the test helpers), ingests the
demo history through the CLI, then starts N `recovery serve` processes (offline engine) and
spreads the clients over them round-robin, as a load balancer would; the same mixed load as
bench_http.py (classify 60%, draft 30%, history read 10%). On a machine with few cores, the
instances share those cores: the numbers show what one machine gives, not what N machines
would."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_http import bench_env, free_port, rss_mb, run_clients  # noqa: E402
from tests.chromaserver import chroma_server, fresh_database, wait_for_http  # noqa: E402
from tests.pgserver import postgres_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    recovery = str(Path(sys.executable).parent / "recovery")
    with chroma_server() as chroma, postgres_server() as pg, \
            tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "RECOVERY_ENGINE": "offline", "RECOVERY_CHROMA_URL": chroma,
               "RECOVERY_COLLECTION": f"b{uuid.uuid4().hex[:8]}",
               "RECOVERY_DATABASE_URL": fresh_database(pg), "RECOVERY_DATA_DIR": folder}
        env, key = bench_env(env, recovery)
        for instances in (1, 2):
            servers, bases = [], []
            for n in range(instances):
                port = free_port()
                servers.append(subprocess.Popen(
                    [recovery, "serve", "--port", str(port)],
                    env={**env, "RECOVERY_DATA_DIR": f"{folder}/i{n}"},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                bases.append(f"http://127.0.0.1:{port}")
            try:
                for base, server in zip(bases, servers, strict=True):
                    wait_for_http(base + "/healthz", server)
                print(f"{instances} instance(s), Chroma server + PostgreSQL:", end=" ")
                run_clients(bases, 1, args.seconds / 2, key)
                print(f"{instances} instance(s), Chroma server + PostgreSQL:", end=" ")
                run_clients(bases, args.clients, args.seconds, key)
                print("   peak RSS per instance:",
                      ", ".join(f"{rss_mb(s.pid):.0f} MB" for s in servers))
            finally:
                for server in servers:
                    server.terminate()
                    server.wait(timeout=30)


if __name__ == "__main__":
    main()
