"""`python -m patron` is the `patron` command."""

from patron.cli import main

main()
