"""Weights presets and local paths; downloads against a local Hub stand-in on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading

import pytest

from vampkit import WeightsUnavailableError, resolve_weights
from hub_stub import serve_hub
from vampkit.weights import PRESETS, preset

FILES = {
    "coarse.pth": b"coarse weights",
    "c2f.pth": b"c2f weights" * 100,
    "codec.pth": b"codec weights",
    "loras/jazz/coarse.pth": b"jazz coarse",
    "loras/jazz/c2f.pth": b"jazz c2f",
}


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with serve_hub(monkeypatch, str(tmp_path / "cache"), "hugggof/vampnet", FILES) as served:
        yield served


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


# -- files outside the Hub (DAC's GitHub releases) through fetch_url (pooch) --------------------
PAYLOAD = bytes(range(256)) * 1024


class _Files(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path != "/release/weights.pth":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def files_server(monkeypatch):
    for name in ("VAMPKIT_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Files.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_url_downloads_and_checks_the_published_checksum(files_server, tmp_path):
    from vampkit.weights import fetch_url

    sha = hashlib.sha256(PAYLOAD).hexdigest()
    path = fetch_url(f"{files_server}/release/weights.pth", tmp_path / "w.pth", sha256=sha, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert fetch_url(f"{files_server}/release/weights.pth", tmp_path / "w.pth", sha256=sha, progress=False) == path
    assert len(_Files.requests) == 1  # the cached, matching copy is used as it is


def test_fetch_url_discards_a_download_with_the_wrong_checksum(files_server, tmp_path):
    from vampkit.weights import fetch_url

    with pytest.raises(WeightsUnavailableError, match="checksum mismatch.*place it at"):
        fetch_url(f"{files_server}/release/weights.pth", tmp_path / "w.pth", sha256="0" * 64, progress=False)
    assert not (tmp_path / "w.pth").exists()


def test_fetch_url_offline_names_the_url_and_where_to_put_the_file(tmp_path, monkeypatch):
    from vampkit.weights import fetch_url

    monkeypatch.setenv("VAMPKIT_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match=r"offline mode is on.*http://example\.invalid/w\.pth.*w\.pth'"):
        fetch_url("http://example.invalid/w.pth", tmp_path / "w.pth")


def test_fetch_url_reports_a_missing_file_and_a_refused_connection(files_server, tmp_path):
    from vampkit.weights import fetch_url

    with pytest.raises(WeightsUnavailableError, match=r"could not download .*/release/nothing\.pth.*404"):
        fetch_url(f"{files_server}/release/nothing.pth", tmp_path / "n.pth", progress=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(WeightsUnavailableError, match=rf"could not download http://127\.0\.0\.1:{port}/x\.pth"):
        fetch_url(f"http://127.0.0.1:{port}/x.pth", tmp_path / "x.pth", progress=False)


def test_vampkit_offline_also_keeps_hub_files_offline(hub, monkeypatch):
    monkeypatch.setenv("VAMPKIT_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="offline mode is on"):
        resolve_weights("vampnet")
    assert hub.requests == []
