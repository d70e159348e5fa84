"""``python -m vampkit`` (and ``torchrun ... -m vampkit train``): the command line."""

from .cli import main

main()
