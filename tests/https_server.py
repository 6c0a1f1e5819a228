"""A loopback HTTPS stand-in for a Kubernetes API server's `/version` endpoint.

Argo CD's connection check is `GetServerVersion`, i.e. `GET /version` over TLS with the
cluster's credentials. Serving exactly that on 127.0.0.1 lets tests prove a cluster Secret
really authenticates, not just that it has the right shape.
"""

from __future__ import annotations

import base64
import hmac
import json
import socketserver
import ssl
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import socket
    from types import TracebackType

    from tests.pki import Pki

VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.2",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-06-17T00:00:00Z",
    "goVersion": "go1.24.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Bounds every accepted connection so a stuck client cannot hang a test.
_CONN_TIMEOUT = 5.0


@dataclass(frozen=True)
class SeenRequest:
    """What the server saw, so tests can assert which credential actually arrived."""

    path: str
    authorization: str | None
    client_subject: tuple[tuple[str, str], ...] | None
    status: int

    @property
    def client_cn(self) -> str | None:
        for key, value in self.client_subject or ():
            if key == "commonName":
                return value
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _TlsHttpServer
    server_version = "fake-kube-apiserver"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence per-request logging; tests assert on `ApiServer.requests` instead."""

    def do_GET(self) -> None:
        owner = self.server.owner
        auth = self.headers.get("Authorization")
        if self.path.split("?", 1)[0] != "/version":
            status, body = 404, _status(404, "NotFound", "the server could not find the resource")
        elif owner.credential_ok(auth):
            status, body = 200, VERSION
        else:
            status, body = 401, _status(401, "Unauthorized", "Unauthorized")
        owner.record(
            SeenRequest(
                path=self.path,
                authorization=auth,
                client_subject=_subject(self.connection),
                status=status,
            )
        )
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _subject(conn: Any) -> tuple[tuple[str, str], ...] | None:
    peer = conn.getpeercert() if isinstance(conn, ssl.SSLSocket) else None
    if not peer:
        return None
    return tuple((k, v) for rdn in peer.get("subject", ()) for (k, v) in rdn)


class _TlsHttpServer(ThreadingHTTPServer):
    """Does the TLS handshake in the per-connection thread, not in the accept loop.

    Wrapping the listening socket would handshake inside `serve_forever`, so one silent
    client could block every other connection and a failed handshake would vanish unseen.
    """

    daemon_threads = True
    owner: ApiServer
    tls_context: ssl.SSLContext

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup we neither need nor want.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        sock: socket.socket = request
        sock.settimeout(_CONN_TIMEOUT)
        try:
            tls = self.tls_context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.owner.record_tls_error(exc)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError) as exc:
            self.owner.record_tls_error(exc)
        finally:
            tls.close()


class ApiServer:
    """Context manager serving `GET /version` over TLS on 127.0.0.1 (an ephemeral port).

    With `require_client_cert` the handshake demands a client cert signed by `pki`'s CA
    (like kube-apiserver's `--client-ca-file` with no other authenticator). Without it the
    server still asks for one (CERT_OPTIONAL), so tests can see whether a cert was sent.
    `bearer_token` / `basic_auth` make the matching `Authorization` header mandatory
    (either one is enough when both are configured).
    """

    _HOST: ClassVar[str] = "127.0.0.1"

    def __init__(
        self,
        pki: Pki,
        *,
        require_client_cert: bool = True,
        bearer_token: str | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self._pki = pki
        self._require_client_cert = require_client_cert
        self._accepted: list[str] = []
        if bearer_token is not None:
            self._accepted.append(f"Bearer {bearer_token}")
        if basic_auth is not None:
            pair = f"{basic_auth[0]}:{basic_auth[1]}".encode()
            self._accepted.append("Basic " + base64.b64encode(pair).decode("ascii"))
        self._httpd: _TlsHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._requests: list[SeenRequest] = []
        self._tls_errors: list[BaseException] = []

    # --- lifecycle -------------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # load_cert_chain only reads files; keep them just long enough to load.
        with tempfile.TemporaryDirectory(prefix="apiserver-tls-") as tmp:
            cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            cert.write_bytes(self._pki.server_cert)
            key.touch(mode=0o600)
            key.write_bytes(self._pki.server_key)
            ctx.load_cert_chain(cert, key)
        ctx.load_verify_locations(cadata=self._pki.ca_cert.decode("ascii"))
        ctx.verify_mode = ssl.CERT_REQUIRED if self._require_client_cert else ssl.CERT_OPTIONAL
        return ctx

    def __enter__(self) -> ApiServer:
        httpd = _TlsHttpServer((self._HOST, 0), _Handler)
        httpd.owner = self
        httpd.tls_context = self._context()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"apiserver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    # --- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            msg = "ApiServer is not running; use it as a context manager"
            raise RuntimeError(msg)
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self._HOST}:{self.port}"

    @property
    def address(self) -> str:
        """`host:port` to pass as `connect_to` when the Secret names another host."""
        return f"{self._HOST}:{self.port}"

    def url_for(self, host: str) -> str:
        """URL with another host name (for SNI / serverName tests); TCP still goes to loopback."""
        return f"https://{host}:{self.port}"

    # --- observations ----------------------------------------------------------------------

    def credential_ok(self, authorization: str | None) -> bool:
        if not self._accepted:
            return True  # the client cert (enforced by TLS, if required) is the credential
        given = (authorization or "").encode()
        return any(hmac.compare_digest(given, ok.encode()) for ok in self._accepted)

    def record(self, seen: SeenRequest) -> None:
        with self._cond:
            self._requests.append(seen)
            self._cond.notify_all()

    def record_tls_error(self, exc: BaseException) -> None:
        with self._cond:
            self._tls_errors.append(exc)
            self._cond.notify_all()

    @property
    def requests(self) -> list[SeenRequest]:
        with self._cond:
            return list(self._requests)

    def wait_tls_error(self, timeout: float = 2.0) -> BaseException | None:
        """First server-side handshake/connection error, waiting briefly for it to land.

        With TLS 1.3 the client finishes its handshake before the server has checked the
        client cert, so the server thread may record the rejection after the client fails.
        """
        with self._cond:
            self._cond.wait_for(lambda: bool(self._tls_errors), timeout=timeout)
            return self._tls_errors[0] if self._tls_errors else None
