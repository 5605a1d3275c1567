"""What a set is: the set object, its decoders, its file format, its folder layout, its evaluations, the errors.

Imports nothing of the rest of the package: no network, no recipe, no Hub."""
