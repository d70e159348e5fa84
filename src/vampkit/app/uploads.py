"""Upload widgets that keep every upload inside the app's temporary folder.

Gradio 3's own ``Audio`` input re-encodes uploads through pydub/ffmpeg (changing their
samples) and, like its ``File`` input, copies any server path a client names as ``is_file``.
These subclasses write the uploaded bytes under a name of our making in ``folder`` and refuse
a named path outside it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ..errors import AudioError
from ..pipeline.runner import AUDIO_EXTENSIONS


def _inside(path: str, folder: Path) -> Path:
    resolved = Path(path).resolve()
    if folder not in resolved.parents:
        raise AudioError("refused: an upload may only name a file the app made")
    return resolved


def _save(data_url: str, folder: Path, suffixes: tuple[str, ...], default: str) -> Path:
    from gradio import processing_utils

    data, extension = processing_utils.decode_base64_to_binary(data_url)
    suffix = f".{extension}".lower() if extension and f".{extension}".lower() in suffixes else default
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"incoming-{uuid.uuid4().hex[:12]}{suffix}"
    target.write_bytes(data)
    return target


def guarded_components(gr: Any, folder: Path) -> tuple[type, type]:
    """``(Audio, File)`` input classes whose uploads land in ``folder`` only."""

    class Audio(gr.Audio):
        """Audio input: the uploaded bytes as they were, plus Gradio's trim (percent of length)."""

        def preprocess(self, x: Any) -> Any:
            if x is None:
                return None
            if x.get("is_file"):
                path = _inside(x["name"], folder)
            else:
                path = _save(x["data"], folder, AUDIO_EXTENSIONS, ".wav")
            return {"path": str(path), "crop": (float(x.get("crop_min", 0) or 0), float(x.get("crop_max", 100) or 100))}

    class File(gr.File):
        """File input (the local recipe): uploaded bytes saved in ``folder``; named paths refused."""

        def preprocess(self, x: Any) -> Any:
            if x is None:
                return None
            items = x if isinstance(x, list) else [x]
            paths = [str(_inside(f["name"], folder)) if f.get("is_file")
                     else str(_save(f["data"], folder, (".yaml", ".yml"), ".yaml")) for f in items]
            return paths if isinstance(x, list) else paths[0]

    return Audio, File
