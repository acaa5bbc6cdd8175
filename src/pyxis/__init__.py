"""Pyxis: an open-source virtualization platform speaking the Proxmox VE API."""

__version__ = "0.1.0"
# The upstream API release whose contract we follow (see data/schema.json).
API_RELEASE = "9.1"
