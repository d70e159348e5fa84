"""Peak memory (RSS) and wall time of codec encode + decode on long stereo 44.1 kHz audio,
chunked vs whole-file, with a codec of the published size (random weights).

Each measurement runs in a fresh subprocess so peak RSS is its own. Usage:
    python benchmarks/codec_memory.py --codec lac --minutes 1 5 10 --modes chunked whole
The whole-file mode is skipped above ``--whole-max-minutes`` (it needs tens of GB).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PUBLISHED = {
    # VampNet's LAC (decoder width as in the DAC 768x config; see docs/codecs.md)
    "lac": dict(encoder_dim=64, encoder_rates=[2, 6, 8, 8], decoder_dim=1536, decoder_rates=[6, 4, 4, 2, 2, 2],
                n_codebooks=14, codebook_size=1024, codebook_dim=8, sample_rate=44100),
    # DAC 44 kHz 8 kbps
    "dac": dict(encoder_dim=64, encoder_rates=[2, 4, 8, 8], decoder_dim=1536, decoder_rates=[8, 8, 4, 2],
                n_codebooks=9, codebook_size=1024, codebook_dim=8, sample_rate=44100),
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_checkpoint(codec: str, path: Path, overrides: dict | None = None) -> None:
    from vampkit.codecs.fixtures import make_dac_checkpoint, make_lac_checkpoint

    kwargs = {**PUBLISHED[codec], **(overrides or {})}
    (make_lac_checkpoint if codec == "lac" else make_dac_checkpoint)(path, **kwargs)


def measure(checkpoint: str, minutes: float, mode: str, chunk_seconds: float) -> dict:
    import torch

    from vampkit.codecs import load_codec

    torch.set_num_threads(max(1, torch.get_num_threads()))
    codec = load_codec(checkpoint)
    base = _rss_mb()
    n = int(minutes * 60 * 44100)
    audio = 0.1 * torch.randn(2, 1, n, generator=torch.Generator().manual_seed(0))
    chunk = chunk_seconds if mode == "chunked" else math.inf
    start = time.perf_counter()
    codes = codec.encode(audio, 44100, chunk_seconds=chunk)
    mid = time.perf_counter()
    out = codec.decode(codes, chunk_seconds=chunk)
    end = time.perf_counter()
    assert out.shape[-1] >= n
    return {"minutes": minutes, "mode": mode, "chunk_seconds": chunk_seconds if mode == "chunked" else None,
            "encode_s": round(mid - start, 1), "decode_s": round(end - mid, 1),
            "peak_rss_mb": round(_rss_mb()), "rss_after_load_mb": round(base),
            "audio_mb": round(audio.numel() * 4 / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codec", choices=sorted(PUBLISHED), default="lac")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument("--modes", nargs="+", choices=["chunked", "whole"], default=["chunked", "whole"])
    parser.add_argument("--chunk-seconds", type=float, default=20.0)
    parser.add_argument("--whole-max-minutes", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--encoder-dim", type=int, help="narrower than published, to fit long files on a CPU")
    parser.add_argument("--decoder-dim", type=int, help="narrower than published, to fit long files on a CPU")
    parser.add_argument("--_child", dest="child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ckpt, minutes, mode, chunk = args.child
        print(json.dumps(measure(ckpt, float(minutes), mode, float(chunk))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / f"{args.codec}.pth"
        narrow = {k: v for k, v in (("encoder_dim", args.encoder_dim), ("decoder_dim", args.decoder_dim)) if v}
        make_checkpoint(args.codec, ckpt, narrow)
        for minutes in args.minutes:
            for mode in args.modes:
                if mode == "whole" and minutes > args.whole_max_minutes:
                    print(json.dumps({"minutes": minutes, "mode": mode, "skipped": "above --whole-max-minutes"}))
                    continue
                cmd = [sys.executable, __file__, "--_child", str(ckpt), str(minutes), mode, str(args.chunk_seconds)]
                try:
                    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    print(json.dumps({"minutes": minutes, "mode": mode, "error": f"timeout {args.timeout}s"}))
                    continue
                line = done.stdout.strip().splitlines()[-1:] or [json.dumps({"error": done.stderr[-500:]})]
                print(line[0] if done.returncode == 0 else json.dumps(
                    {"minutes": minutes, "mode": mode, "error": done.stderr.strip().splitlines()[-1:]}), flush=True)


if __name__ == "__main__":
    main()
