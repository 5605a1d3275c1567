"""The machinery every recipe shares: the recipe frame, checkpoints, class-balanced sampling, distances, gradient matching.

Imports `training` and `core`."""
