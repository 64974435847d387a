"""`python -m rgou ...` is `rgou ...`."""

from rgou.cli import run

run()
