"""``python -m station`` runs the command line, like the ``station`` script."""

from station.cli import main

main()
