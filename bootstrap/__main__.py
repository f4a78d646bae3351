"""`python -m bootstrap` runs the `kbs` command."""

from bootstrap.cli.main import main

main()
