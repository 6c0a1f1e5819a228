"""Loopback helpers shared by the tests and the benchmarks (no pytest needed)."""

import socket
import subprocess
import time


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    address: str, process: subprocess.Popen, timeout: float = 20, interval: float = 0.05
) -> None:
    """Block until the server accepts connections, failing fast if it died."""
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"{process.args} exited with {process.returncode} before serving"
            raise RuntimeError(msg)
        try:
            with socket.create_connection((host, int(port)), timeout=0.2):
                return
        except OSError:
            time.sleep(interval)
    msg = f"{process.args} did not listen on {address} within {timeout}s"
    raise TimeoutError(msg)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, as Kubernetes sends it; SIGKILL if the server does not go in time."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
