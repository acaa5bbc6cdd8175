"""Storage type implementations, one module per type."""
