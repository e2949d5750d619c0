"""`python -m syndicate.cli` runs the command line."""

from syndicate.cli import main

main()
