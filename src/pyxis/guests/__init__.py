"""Guests: virtual machines (QEMU/KVM) and, later, containers.

Each guest kind is a package with a pure config layer (file model and typed keys), a
command-line builder and runtime drivers; one orchestrator owns locking, config
writes, pending changes and tasks.  See ``docs/design-guests.md``.
"""
