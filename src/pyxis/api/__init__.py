"""Endpoint declarations, one module per path subtree.

Importing ``pyxis.api.all`` registers every method in the global registry.
"""
