"""A Hugging Face Hub stand-in on 127.0.0.1 for tests: the HEAD and GET requests
hf_hub_download makes for /<repo>/resolve/<revision>/<file>, answered from a dict."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class HubHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (path in the repo -> bytes) of ``repo`` at revision main; logs requests."""

    repo = "hugggof/vampnet"
    files: dict[str, bytes] = {}
    requests: list[str] = []
    commit = "0123456789abcdef0123456789abcdef01234567"

    def _file(self) -> bytes | None:
        prefix = f"/{self.repo}/resolve/main/"
        return self.files.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None

    def _headers(self, body: bytes | None) -> None:
        if body is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
        else:
            self.send_response(200)
            self.send_header("X-Repo-Commit", self.commit)
            self.send_header("ETag", '"' + hashlib.sha1(body).hexdigest() + '"')
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def do_HEAD(self) -> None:
        self.requests.append("HEAD " + self.path)
        self._headers(self._file())

    def do_GET(self) -> None:
        self.requests.append("GET " + self.path)
        body = self._file()
        self._headers(body)
        if body is not None:
            self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serve_hub(monkeypatch, cache: str, repo: str, files: dict[str, bytes]) -> Iterator[type[HubHandler]]:
    """Point ``HF_ENDPOINT`` and vampkit's cache at a fresh stand-in serving ``files`` of ``repo``."""
    handler = type("Hub", (HubHandler,), {"repo": repo, "files": dict(files), "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("VAMPKIT_CACHE", cache)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("VAMPKIT_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()
