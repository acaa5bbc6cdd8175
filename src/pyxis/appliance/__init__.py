"""The demo appliance: a tiny bootable guest built from Debian packages.

The same image boots in the test suite and is offered to users (``pyxis appliance``)
so that a new host runs its first VM without internet access.
"""
