"""The exceptions vampkit raises on purpose: one small hierarchy, so callers catch one base."""

from __future__ import annotations


class VampkitError(Exception):
    """Base class of every error vampkit raises deliberately (the CLI exits non-zero on it)."""


class ParameterError(VampkitError, ValueError):
    """A generator, stage or sampler got a parameter value it cannot use.

    ``path`` is the key path of the offending value inside a spec (e.g. ``("all-of", 1,
    "period")``) when it is known, so a recipe error can point at its line. ``problem`` is
    the message without the owner and parameter it names (``must be >= 0, got -1``), for
    callers that name the key themselves. ``errors`` holds each problem when several were
    found at once (``params.build`` checks every parameter before it gives up).
    """

    def __init__(self, message: str, *, path: tuple = (), problem: str | None = None,
                 errors: tuple[ParameterError, ...] = ()) -> None:
        super().__init__(message)
        self.path = tuple(path)
        self.problem = message if problem is None else problem
        self.errors = tuple(errors)

    def each(self) -> tuple[ParameterError, ...]:
        """The single problems this error stands for (itself when it is one)."""
        return tuple(e for err in self.errors for e in err.each()) if self.errors else (self,)


class UnknownNameError(VampkitError, KeyError):
    """A name (mask, stage, codec, model, tracker) that no loaded plugin registers."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class PluginError(VampkitError):
    """A plugin failed to load or registered something invalid or conflicting."""


class RecipeError(VampkitError):
    """A recipe file is malformed or does not validate.

    ``where`` (``file:line:col`` or the ``--set`` option), ``key`` (dotted) and ``problem``
    are the parts of the message when the loader knows them; ``errors`` holds every problem
    of a file when it found several (the message then has one line each, in line order).
    """

    def __init__(self, message: str, *, where: str = "", key: str = "", problem: str | None = None,
                 errors: tuple[RecipeError, ...] = ()) -> None:
        super().__init__(message)
        self.where = where
        self.key = key
        self.problem = message if problem is None else problem
        self.errors = tuple(errors)

    def each(self) -> tuple[RecipeError, ...]:
        """The single problems this error stands for (itself when it is one)."""
        return tuple(e for err in self.errors for e in err.each()) if self.errors else (self,)


class CheckpointError(VampkitError):
    """A checkpoint file is unsafe, truncated or does not fit the model it is loaded into."""


class WeightsUnavailableError(VampkitError):
    """Weights are neither cached nor reachable (offline, missing file, bad checksum)."""


class AppError(VampkitError):
    """The web app cannot start (its port is taken, its address cannot be bound)."""


class CacheError(VampkitError):
    """vampkit's cache folder ($VAMPKIT_CACHE) cannot be created or written."""


class AudioError(VampkitError):
    """An audio file is missing, unreadable, empty, silent or unusable."""


class CodecError(VampkitError):
    """A codec was asked for something it cannot do."""


class AnalysisError(VampkitError):
    """An analysis (beats, onsets) could not be computed."""


class TrainingError(VampkitError):
    """A training run cannot go on (a non-finite loss, nothing to resume, a bad output folder)."""


class OutputPathError(RecipeError):
    """An output name (template, recipe name) would land outside the chosen output folder."""


class OutputError(VampkitError):
    """An output could not be written: its folder is missing or unwritable, or the name is unusable."""


class OutputExistsError(OutputError):
    """An output would replace a file this run did not create (and ``overwrite`` is off)."""
