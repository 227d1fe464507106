"""``minigrad ARGS`` (minigrad's command line) as a program for mpiexec."""
import sys

from minigrad.cli import main

sys.exit(main(sys.argv[1:]))
