"""Weights presets and local paths; downloads against a local Hub stand-in on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from vampkit import WeightsUnavailableError, resolve_weights
from vampkit.weights import PRESETS, preset

FILES = {
    "coarse.pth": b"coarse weights",
    "c2f.pth": b"c2f weights" * 100,
    "codec.pth": b"codec weights",
    "loras/jazz/coarse.pth": b"jazz coarse",
    "loras/jazz/c2f.pth": b"jazz c2f",
}
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class _Hub(http.server.BaseHTTPRequestHandler):
    """The two requests hf_hub_download makes: HEAD then GET of /<repo>/resolve/<rev>/<file>."""

    requests: list[str] = []

    def _file(self) -> bytes | None:
        prefix = "/hugggof/vampnet/resolve/main/"
        if not self.path.startswith(prefix):
            return None
        return FILES.get(self.path[len(prefix):])

    def _headers(self, body: bytes | None) -> None:
        if body is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
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


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hub.requests = []
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield _Hub
    server.shutdown()
    server.server_close()


def test_preset_downloads_into_the_vampkit_cache(hub, tmp_path):
    paths = resolve_weights("vampnet")
    assert paths.coarse.read_bytes() == FILES["coarse.pth"]
    assert paths.c2f.read_bytes() == FILES["c2f.pth"]
    assert paths.codec.read_bytes() == FILES["codec.pth"]
    assert (tmp_path / "cache" / "hf") in paths.coarse.parents
    assert any(r.startswith("GET /hugggof/vampnet/resolve/main/coarse.pth") for r in hub.requests)


def test_cached_files_are_used_offline(hub, monkeypatch):
    first = resolve_weights("vampnet")
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = resolve_weights("vampnet")
    assert again == first and hub.requests == []


def test_fine_tuned_variant_takes_its_own_coarse_and_c2f(hub):
    paths = resolve_weights("vampnet:jazz")
    assert paths.coarse.read_bytes() == b"jazz coarse" and paths.c2f.read_bytes() == b"jazz c2f"
    assert paths.codec.read_bytes() == FILES["codec.pth"]


def test_missing_remote_file_is_named(hub):
    with pytest.raises(WeightsUnavailableError, match=r"loras/nope/coarse\.pth.*hugggof/vampnet"):
        resolve_weights("vampnet:nope")


def test_offline_and_not_cached_says_what_where_and_how(monkeypatch, tmp_path):
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError) as err:
        resolve_weights("vampnet")
    message = str(err.value)
    assert "coarse.pth" in message and "hugggof/vampnet" in message
    assert str(tmp_path / "empty" / "hf") in message
    assert "hf download hugggof/vampnet coarse.pth" in message and "local files" in message


def test_unreachable_hub_says_so_at_once_without_retrying(monkeypatch, tmp_path):
    import socket

    with socket.socket() as sock:  # a port on 127.0.0.1 with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("VAMPKIT_CACHE", str(tmp_path / "empty"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(WeightsUnavailableError, match=r"coarse\.pth.*the Hub could not be reached.*hf download"):
        resolve_weights("vampnet")


def test_cached_files_are_used_without_asking_the_hub(hub):
    resolve_weights("vampnet")
    hub.requests.clear()
    resolve_weights("vampnet")
    assert hub.requests == []


def test_local_directory_and_comma_paths(tmp_path):
    for name in ("coarse", "c2f", "codec"):
        (tmp_path / f"{name}.pth").write_bytes(b"x")
    paths = resolve_weights(str(tmp_path))
    assert (paths.coarse, paths.c2f, paths.codec) == tuple(tmp_path / f"{n}.pth" for n in ("coarse", "c2f", "codec"))
    listed = resolve_weights(f"{tmp_path}/coarse.pth,,{tmp_path}/codec.pth")
    assert listed.c2f is None and listed.codec == tmp_path / "codec.pth"


def test_missing_local_file_is_named(tmp_path):
    (tmp_path / "coarse.pth").write_bytes(b"x")
    with pytest.raises(WeightsUnavailableError, match=r"codec\.pth"):
        resolve_weights(str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="no such file"):
        resolve_weights(str(tmp_path / "nothing.pth"))


def test_unknown_preset_is_named():
    with pytest.raises(WeightsUnavailableError, match="unknown weights 'vampnot'"):
        resolve_weights("vampnot")
    with pytest.raises(WeightsUnavailableError, match="not a valid"):
        preset("vampnet:../../etc")


def test_vampnet_preset_points_at_the_published_files():
    found = PRESETS["vampnet"]
    assert (found.repo_id, found.coarse, found.c2f, found.codec) == ("hugggof/vampnet", "coarse.pth", "c2f.pth", "codec.pth")
