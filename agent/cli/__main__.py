"""`python -m agent.cli`: the sculpt program."""
from agent.cli import main

main()
