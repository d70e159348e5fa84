"""``vampkit app``: a local web page to vamp by ear (Gradio, the optional ``app`` extra).

``build(...)`` returns the Gradio ``Blocks`` (mount or extend it); ``serve(...)`` starts it.
Nothing else in vampkit imports this package, and it imports Gradio only when called.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import VampkitError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gradio 3.18 imports the deprecated pkg_resources
        try:
            import gradio
        except ImportError as exc:
            raise VampkitError("the app needs Gradio: pip install 'vampkit[app]'") from exc
    return gradio


def build(weights: str | Mapping[str, str] | None = None, *, device: str = "auto",
          temp_dir: str | os.PathLike | None = None, max_seconds: float = 120.0,
          concurrency: int = 1) -> Any:
    """The app as a Gradio ``Blocks``, its queue set to ``concurrency`` generations at a time.

    ``weights`` is a preset name, ``COARSE,C2F,CODEC`` or a mapping of those paths; the models
    load now (once per process, shared by every page). Uploads, previews and outputs live in
    ``temp_dir`` (default: a new temporary folder, removed when the process exits); the
    folder is ``blocks.vampkit_temp_dir``.
    """
    gr = _gradio()
    from .engine import engine_host
    from .ui import Page

    host = engine_host(weights, device)
    if temp_dir is None:
        temp = Path(tempfile.mkdtemp(prefix="vampkit-app-"))
        atexit.register(shutil.rmtree, temp, ignore_errors=True)
    else:
        temp = Path(temp_dir)
        temp.mkdir(parents=True, exist_ok=True)
    blocks = Page(gr, host, temp.resolve(), max_seconds).build()
    blocks.queue(concurrency_count=max(1, int(concurrency)), api_open=False)
    blocks.vampkit_temp_dir = temp.resolve()
    return blocks


@attrs.define
class Server:
    """A running app: its address; ``close()`` stops it and removes its temporary folder."""

    blocks: Any
    url: str
    temp_dir: Path
    _previous_tempdir: str | None = None

    def close(self) -> None:
        try:
            self.blocks.close()
        finally:
            if tempfile.tempdir is not None and Path(tempfile.tempdir).is_relative_to(self.temp_dir):
                tempfile.tempdir = self._previous_tempdir
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def public_warning(host: str, share: bool) -> str | None:
    """The warning for an address others can reach, or None on loopback without a share link."""
    if share:
        return ("--share makes a public gradio.live link: anyone with the link can use this app, "
                "its models and this machine's CPU/GPU time")
    if host not in LOOPBACK:
        return (f"serving on {host}: anyone who can reach this machine on the network can use this app "
                "and its models (the default, 127.0.0.1, is reachable from this machine only)")
    return None


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def serve(weights: str | Mapping[str, str] | None = None, *, device: str = "auto", host: str = "127.0.0.1",
          port: int | None = None, share: bool = False, block: bool = True, max_seconds: float = 120.0,
          concurrency: int = 1, quiet: bool = False) -> Server:
    """Start the app on ``host:port`` (loopback unless asked). Gradio's own temporary files and
    the files it may serve are kept inside the app's temporary folder."""
    temp = Path(tempfile.mkdtemp(prefix="vampkit-app-")).resolve()
    atexit.register(shutil.rmtree, temp, ignore_errors=True)
    previous = tempfile.tempdir
    tempfile.tempdir = str(temp / "gradio")  # this process serves the app: uploads land in our folder
    (temp / "gradio").mkdir()
    try:
        blocks = build(weights, device=device, temp_dir=temp, max_seconds=max_seconds, concurrency=concurrency)
    except BaseException:
        tempfile.tempdir = previous
        shutil.rmtree(temp, ignore_errors=True)
        raise
    blocks.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=True,
                  show_api=False, quiet=quiet, inbrowser=False)
    # Gradio serves files under its app's working directory: make that our temp folder only
    blocks.server_app.cwd = str(temp)
    server = Server(blocks, blocks.local_url, temp, previous)
    if block:
        previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)  # a service stop cleans up too
        try:
            blocks.block_thread()
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
            server.close()
    return server
