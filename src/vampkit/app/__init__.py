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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ..errors import VampkitError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError as exc:
        raise VampkitError("the app needs Gradio: pip install 'vampkit[app]'") from exc
    return gradio


def build(weights: str | Mapping[str, str] | None = None, *, device: str = "auto",
          temp_dir: str | os.PathLike | None = None, max_seconds: float = 120.0,
          concurrency: int = 1) -> Any:
    """The app as a Gradio ``Blocks``, its queue letting ``concurrency`` requests out at a time.

    ``weights`` is a preset name, ``COARSE,C2F,CODEC`` or a mapping of those paths; the models
    load now (once per process, shared by every page). Uploads, previews and outputs live in
    ``temp_dir`` (default: a new temporary folder, removed when the process exits); the
    folder is ``blocks.vampkit_temp_dir``. Gradio's upload cache (``GRADIO_TEMP_DIR``, one per
    process) is pointed at its ``gradio`` subfolder, so uploaded bytes land nowhere else.
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
    temp = temp.resolve()
    (temp / "gradio").mkdir(exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(temp / "gradio")  # read by each component and by the upload route
    page = Page(gr, host, temp, max_seconds, concurrency)
    blocks = page.build()
    blocks.vampkit_page = page
    blocks.queue(default_concurrency_limit=max(1, int(concurrency)), api_open=False)
    blocks.vampkit_temp_dir = temp.resolve()
    return blocks


@attrs.define
class Server:
    """A running app: its address; ``close()`` stops it and removes its temporary folder."""

    blocks: Any
    url: str
    temp_dir: Path
    _previous_cache: str | None = None

    def close(self) -> None:
        try:
            self.blocks.close()
        finally:
            _restore_cache(self.temp_dir, self._previous_cache)
            _remove(self.temp_dir)


def _remove(folder: Path) -> None:
    """Remove ``folder``; retried briefly, as Gradio's closing threads may still be emptying it."""
    for _ in range(50):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.1)


def _restore_cache(temp: Path, previous: str | None) -> None:
    """Point Gradio's cache back where it was, if it still points into ``temp``."""
    current = os.environ.get("GRADIO_TEMP_DIR")
    if current is None or not Path(current).is_relative_to(temp):
        return
    if previous is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = previous


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
    """Start the app on ``host:port`` (loopback unless asked). Gradio's uploads and the files it
    may serve are kept inside the app's temporary folder."""
    from .ui import CSS

    temp = Path(tempfile.mkdtemp(prefix="vampkit-app-")).resolve()
    atexit.register(shutil.rmtree, temp, ignore_errors=True)
    previous = os.environ.get("GRADIO_TEMP_DIR")
    # a service stop cleans up too; set before launching, as the page answers before launch() returns
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt) if block else None
    blocks = None
    try:
        blocks = build(weights, device=device, temp_dir=temp, max_seconds=max_seconds, concurrency=concurrency)
        try:
            blocks.launch(server_name=host, server_port=port, share=share, prevent_thread_lock=True, quiet=quiet,
                          inbrowser=False, allowed_paths=[str(temp)], footer_links=["gradio"], ssr_mode=False,
                          mcp_server=False, css=CSS)
        except OSError as exc:  # port taken, address not on this machine
            from ..errors import AppError

            reason = str(exc).split(". ")[0]
            raise AppError(f"cannot serve on {host}:{port if port else '7860 or above'}: {reason} "
                           f"(choose another --port or --host)") from exc
        server = Server(blocks, blocks.local_url, temp, previous)
        if block:
            try:
                blocks.block_thread()
            finally:
                server.close()
    except BaseException:
        if blocks is not None:
            blocks.close()
        _restore_cache(temp, previous)
        _remove(temp)
        raise
    finally:
        if block:
            signal.signal(signal.SIGTERM, previous_handler)
    return server
