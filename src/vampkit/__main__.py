"""``python -m vampkit``: the same command line as the ``vampkit`` script."""

from vampkit.cli import main

if __name__ == "__main__":
    main()
