"""`python -m receiver` runs the `receiver` command."""

from .cli import main

main()
