"""The package version, one place (pyproject.toml reads it; sets record it)."""

__version__ = "0.1.0"
