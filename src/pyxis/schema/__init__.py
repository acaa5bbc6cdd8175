"""Schema layer: types and named formats, property strings, validation, method registry.

Schemas are written in the Proxmox VE JSON-schema dialect (``optional: 1`` instead of
``required``, ``format`` either a named format or an inline property-string format) so
that declarations compare one-to-one with the upstream contract in ``data/schema.json``.
"""

from pyxis.schema.validate import Schema, validate_params, validate_value

__all__ = ["Schema", "validate_params", "validate_value"]
