"""Storage: the plugin contract, the registry of types, storage.cfg and volume ids."""
