"""Draw a recipe's mask over the token grid (kept tokens dark), with beat markers, kept
fraction and prompt bitrate, to a PNG. Needs no model: only the codec's grid geometry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .atomic import atomic_path
from .mask import Mask
from .paths import output_path


def draw_mask(mask: Mask, path: str | os.PathLike, *, frame_rate: float, codebook_size: int,
              title: str = "", beats: Any = None) -> Path:
    """Save a PNG of ``mask`` (codebooks x frames); ``beats`` are times in seconds to mark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tensor = mask.tensor[0] if mask.is_batched else mask.tensor
    kept = (~tensor).float().cpu().numpy()
    n_codebooks, n_frames = kept.shape
    fig, ax = plt.subplots(figsize=(min(24, 4 + n_frames / 40), 1.2 + 0.25 * n_codebooks), dpi=100)
    seconds = n_frames / frame_rate
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
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as temp:
            fig.savefig(temp, format="png")
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
                   variation: int = 0, beats: bool | None = None) -> dict[str, Any]:
    """Build the recipe's mask for one input without a model and draw it; returns the measures."""
    from .pipeline.engine import geometry_for
    from .pipeline.stages import Encode, Load, mask_context
    from .pipeline.state import Env, State

    env = Env(out_dir=Path(out_path).parent, dry_run=True, geometry_factory=lambda: geometry_for(recipe.weights))
    if recipe.mask is None:
        from .errors import RecipeError

        raise RecipeError(f"{recipe.path}: the recipe has no mask to preview")
    load = next((s.stage for s in recipe.pipeline if s.name == "load"), Load())
    states = Encode()(load([State(input=Path(input_path), recipe=recipe, seed=recipe.seed, variation=variation)], env), env)
    ctx = mask_context(states[0], env, states[0].n_frames)
    mask = recipe.mask(ctx)
    times = beat_times(ctx, beats)
    geometry = env.geometry
    draw_mask(mask, out_path, frame_rate=geometry.frame_rate, codebook_size=geometry.codebook_size,
              title=f"{recipe.name}: {Path(input_path).name}", beats=times)
    return {"kept_fraction": mask.kept_fraction(), "bitrate": mask.bitrate(geometry.frame_rate, geometry.codebook_size),
            "n_frames": mask.n_frames, "n_codebooks": mask.n_codebooks, "output": str(out_path)}
