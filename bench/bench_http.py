"""The API over loopback HTTP with 1 and 16 concurrent clients, and the server's memory.

Run: .venv/bin/python bench/bench_http.py [--seconds 20] [--clients 1 16]

Starts `recovery serve` (offline engine, a fresh data folder, one API key of tenant `bench`,
the per-key rate limit lifted) on a free loopback port, then for each client count runs a
fixed-time loop of mixed requests (classify 50%, draft 25%, history ingest 15%, history read
10%) and prints requests/s, p50/p99 latency, errors, and the server's peak RSS."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.chromaserver import wait_for_http  # noqa: E402
from tests.pgserver import _free_port as free_port  # noqa: E402

TEXTS = [
    "My order arrived three days late and the box was damaged.",
    "Ni har dragit pengar två gånger för samma beställning.",
    "Pakken er ikke kommet, og ingen svarer på mine mails.",
    "Dere har trukket meg to ganger for bestillingen.",
    "Die App stürzt bei jedem Start ab.",
    "The salad came without the blue cheese.",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # peak resident set size
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_env(env: dict[str, str], recovery: str) -> tuple[dict[str, str], str]:
    """The demo history in tenant `bench`, and a key of that tenant; no per-key limit, since
    the benchmark measures the server, not the limiter."""
    env = {**env, "RECOVERY_RATE_LIMIT_PER_MINUTE": "100000000"}
    subprocess.run([recovery, "ingest", "knowledge/demo/history.jsonl", "--tenant", "bench"],
                   env=env, check=True, capture_output=True)
    made = subprocess.run([recovery, "keys", "create", "--tenant", "bench"], env=env,
                          check=True, capture_output=True, text=True)
    return env, made.stdout.strip()


def run_clients(bases: list[str], clients: int, seconds: float, key: str) -> None:
    """Client n talks to instance n % len(bases) (a round-robin load balancer)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        with httpx.Client(base_url=bases[number % len(bases)], timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as http:
            i = number
            while time.monotonic() < stop:
                text = TEXTS[i % len(TEXTS)]
                kind = i % 20
                t0 = time.perf_counter()
                if kind < 10:
                    r = http.post("/v1/classify", json={"text": text, "customer_id": "guest-214"})
                elif kind < 15:
                    r = http.post("/v1/drafts", json={"text": text, "customer_id": "guest-214"})
                elif kind < 18:
                    r = http.post(f"/v1/customers/load-{number}-{i % 50}/history", json={
                        "kind": "ticket", "at": "2026-11-20", "text": text})
                else:
                    r = http.get("/v1/customers/guest-214/history")
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if r.status_code >= 400:
                        errors.append(f"{r.status_code} {r.text[:80]}")
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    print(f"{clients:>2} clients: {len(latencies) / wall:6.1f} req/s, p50 {p50:6.1f} ms, "
          f"p99 {p99:7.1f} ms, {len(latencies)} requests, {len(errors)} errors")
    for error in errors[:5]:
        print("   ", error)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "RECOVERY_DATA_DIR": folder, "RECOVERY_ENGINE": "offline",
               "RECOVERY_PORT": str(port)}
        recovery = str(Path(sys.executable).parent / "recovery")
        env, key = bench_env(env, recovery)
        server = subprocess.Popen([recovery, "serve"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(base + "/healthz", server)
            print(f"server up; RSS after start {rss_mb(server.pid):.0f} MB")
            for clients in args.clients:
                run_clients([base], clients, args.seconds, key)
                print(f"   server peak RSS so far {rss_mb(server.pid):.0f} MB")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
