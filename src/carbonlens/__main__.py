"""`python -m carbonlens` runs the command-line interface."""

from carbonlens.cli import main

main()
