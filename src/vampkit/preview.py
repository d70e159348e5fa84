"""Draw a recipe's mask over the token grid (kept tokens dark), with beat markers, kept
fraction and prompt bitrate, to a PNG. Needs no model: only the codec's grid geometry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .errors import OutputExistsError
from .mask import Mask
from .paths import output_path


def draw_mask(mask: Mask, path: str | os.PathLike, *, frame_rate: float, codebook_size: int,
              title: str = "", beats: Any = None, audio: Any = None, sample_rate: int | None = None,
              overwrite: bool = False) -> Path:
    """Save a PNG of ``mask`` (codebooks x frames); ``beats`` are times in seconds to mark.

    With ``audio`` (``[channels, n]`` at ``sample_rate``) its waveform is drawn above the grid,
    on the same time axis and with the same beat markers. An existing ``path`` is replaced only
    with ``overwrite`` (``OutputExistsError`` otherwise)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tensor = mask.tensor[0] if mask.is_batched else mask.tensor
    kept = (~tensor).float().cpu().numpy()
    n_codebooks, n_frames = kept.shape
    width = min(24, 4 + n_frames / 40)
    seconds = n_frames / frame_rate
    if audio is not None and sample_rate:
        fig, (wave_ax, ax) = plt.subplots(2, 1, sharex=True, dpi=100, figsize=(width, 2.2 + 0.25 * n_codebooks),
                                          gridspec_kw={"height_ratios": [1, max(1.0, 0.25 * n_codebooks)]})
        samples = audio.mean(dim=0).float().cpu().numpy() if audio.dim() == 2 else audio.float().cpu().numpy()
        step = max(1, len(samples) // 4000)  # an envelope of a few thousand points is plenty to see
        times = [i / sample_rate for i in range(0, len(samples), step)]
        wave_ax.plot(times, samples[::step], color="tab:blue", linewidth=0.5)
        wave_ax.set_ylabel("audio")
        for t in [] if beats is None else list(beats):
            wave_ax.axvline(float(t), color="tab:red", linewidth=0.8, alpha=0.7)
    else:
        fig, ax = plt.subplots(figsize=(width, 1.2 + 0.25 * n_codebooks), dpi=100)
    ax.imshow(kept, aspect="auto", origin="lower", cmap="Greys", vmin=0, vmax=1, interpolation="nearest",
              extent=(0, seconds, -0.5, n_codebooks - 0.5))
    for t in [] if beats is None else list(beats):
        ax.axvline(float(t), color="tab:red", linewidth=0.8, alpha=0.7)
    ax.set_xlabel("seconds")
    ax.set_ylabel("codebook")
    rate = mask.bitrate(frame_rate, codebook_size)
    ax.set_title(f"{title}  kept {mask.kept_fraction():.1%}  prompt {rate:,.0f} bit/s  (dark = kept)".strip())
    fig.tight_layout()
    path = Path(path)
    path = output_path(path.parent, path.name, key="preview file")  # the one output-path policy
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path, overwrite=overwrite) as temp:
            fig.savefig(temp, format="png")
    except FileExistsError:  # overwrite=False and the file is there: nothing was replaced
        raise OutputExistsError(
            f"refusing to write '{path}': the file exists (use --overwrite to replace it)") from None
    finally:
        plt.close(fig)
    return path


def beat_times(ctx: Any, force: bool | None) -> list[float] | None:
    """Beat times to mark: when the mask already used them, or always with ``force``."""
    if force is False or not ctx.has_analysis("beats"):
        return None
    if force is None and "analysis:beats" not in ctx._cache:  # noqa: SLF001 - do not track beats just to draw
        return None
    beats = ctx.beats
    return [float(t) for t in getattr(beats, "times", beats)]


def preview_recipe(recipe: Any, input_path: str | os.PathLike, out_path: str | os.PathLike, *,
                   variation: int = 0, beats: bool | None = None, geometry: Any = None,
                   waveform: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Build the recipe's mask for one input without a model and draw it; returns the measures.

    ``geometry`` is the codec's grid when the caller has it (the app's loaded models); else it
    comes from the recipe's weights. ``waveform`` draws the input above the grid. An existing
    ``out_path`` is replaced only with ``overwrite``, and never when it is the input itself."""
    if os.path.exists(out_path) and os.path.exists(input_path) and os.path.samefile(out_path, input_path):
        raise OutputExistsError(f"refusing to write '{out_path}': it is the input")
    from .pipeline.engine import geometry_for
    from .pipeline.stages import Encode, Load, mask_context
    from .pipeline.state import Env, State

    env = Env(out_dir=Path(out_path).parent, dry_run=True, geometry_factory=lambda: geometry or geometry_for(recipe.weights))
    if recipe.mask is None:
        from .errors import RecipeError

        raise RecipeError(f"{recipe.path}: the recipe has no mask to preview")
    load = next((s.stage for s in recipe.pipeline if s.name == "load"), Load())
    states = Encode()(load([State(input=Path(input_path), recipe=recipe, seed=recipe.seed, variation=variation)], env), env)
    ctx = mask_context(states[0], env, states[0].n_frames)
    mask = recipe.mask(ctx)
    times = beat_times(ctx, beats)
    grid = env.geometry
    audio = states[0].audio if waveform else None  # an Audio (samples at its own rate)
    draw_mask(mask, out_path, frame_rate=grid.frame_rate, codebook_size=grid.codebook_size,
              title=f"{recipe.name}: {Path(input_path).name}", beats=times,
              audio=getattr(audio, "samples", audio), sample_rate=getattr(audio, "sample_rate", grid.sample_rate),
              overwrite=overwrite)
    return {"kept_fraction": mask.kept_fraction(), "bitrate": mask.bitrate(grid.frame_rate, grid.codebook_size),
            "n_frames": mask.n_frames, "n_codebooks": mask.n_codebooks, "output": str(out_path)}
