"""Downloads against a local HTTP server on 127.0.0.1: resume, checksum, offline message."""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vampkit import WeightsUnavailableError
from vampkit.download import download

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server:
    """Serves PAYLOAD with Range support; ``cut_after`` bytes then drops the connection."""

    def __init__(self):
        self.cut_after: int | None = None
        self.honour_range = True
        self.ranges: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                header = self.headers.get("Range")
                owner.ranges.append(header)
                start = int(header[6:-1]) if header and owner.honour_range else 0
                body = PAYLOAD[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if owner.cut_after is not None:
                    self.wfile.write(body[: owner.cut_after])
                    self.wfile.flush()
                    owner.cut_after = None
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/weights.pth"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    monkeypatch.delenv("VAMPKIT_OFFLINE", raising=False)


def test_downloads_and_verifies(tmp_path, server):
    dest = download(server.url, tmp_path / "w.pth", sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth"]


def test_interrupted_transfer_resumes_with_a_range_request(tmp_path, server):
    server.cut_after = 300_000
    dest = tmp_path / "w.pth"
    with pytest.raises(WeightsUnavailableError, match=r"interrupted after .* bytes.*resumes"):
        download(server.url, dest, sha256=SHA, progress=False)
    part = tmp_path / "w.pth.part"
    assert not dest.exists() and 0 < part.stat().st_size < len(PAYLOAD)
    kept = part.stat().st_size
    download(server.url, dest, sha256=SHA, progress=False)
    assert server.ranges[-1] == f"bytes={kept}-"
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts_cleanly(tmp_path, server):
    (tmp_path / "w.pth.part").write_bytes(b"garbage")
    server.honour_range = False
    download(server.url, tmp_path / "w.pth", sha256=SHA, progress=False)
    assert (tmp_path / "w.pth").read_bytes() == PAYLOAD


def test_checksum_mismatch_discards_the_file(tmp_path, server):
    with pytest.raises(WeightsUnavailableError, match=f"checksum mismatch .*expected sha256 {'0' * 64}, got {SHA}"):
        download(server.url, tmp_path / "w.pth", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cached_file_is_used_without_network(tmp_path):
    dest = tmp_path / "w.pth"
    dest.write_bytes(PAYLOAD)
    assert download("http://127.0.0.1:9/never", dest, sha256=SHA, progress=False) == dest


def test_connection_refused_names_url_destination_and_manual_step(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/weights.pth"
    dest = tmp_path / "cache" / "w.pth"
    with pytest.raises(WeightsUnavailableError) as info:
        download(url, dest, sha256=SHA, progress=False)
    message = str(info.value)
    assert url in message and str(dest) in message and "offline" in message
    assert f"place it at '{dest}' (sha256 {SHA})" in message


def test_http_error_is_reported(tmp_path, server, monkeypatch):
    monkeypatch.setattr(server.httpd.RequestHandlerClass, "do_GET", lambda self: self.send_error(404))
    with pytest.raises(WeightsUnavailableError, match="HTTP 404"):
        download(server.url, tmp_path / "w.pth", progress=False)


def test_offline_setting_forbids_network(tmp_path, server, monkeypatch):
    monkeypatch.setenv("VAMPKIT_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="VAMPKIT_OFFLINE"):
        download(server.url, tmp_path / "w.pth", progress=False)
    assert server.ranges == []
