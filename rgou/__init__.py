"""rgou: the Royal Game of Ur engine, expert, and neural-network trainers."""

__version__ = "0.1.0"
