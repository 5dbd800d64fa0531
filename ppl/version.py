"""The package version, in one place (the CLI and the REPL print it)."""
__version__ = "0.1.0"
