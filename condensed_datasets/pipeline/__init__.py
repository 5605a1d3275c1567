"""From a recipe to a staged Hub tree: build one set, the collection and its engines, status, cards, previews, push.

Imports the recipes and everything below."""
