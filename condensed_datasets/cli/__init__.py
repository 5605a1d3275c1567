"""The ``condensed`` command: imports everything, imported by nothing."""
