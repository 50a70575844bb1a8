"""``python -m fontana`` runs the CLI."""

from fontana.cli import main

main()
