"""Real data and the networks trained on it: sources, networks, augmentations, precision, compilation, evaluation.

Imports `core` only."""
