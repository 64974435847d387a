"""`python -m rgou.bench`."""

from rgou.bench import main

main()
