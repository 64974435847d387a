"""The package version, in a module of its own: modules inside rgou read it without importing the package."""

__version__ = "0.2.0"
