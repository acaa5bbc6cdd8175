"""QEMU/KVM virtual machines.

``config`` reads and writes ``qemu-server/<vmid>.conf`` files; ``keys`` declares every
config key in the upstream schema dialect and turns values into typed dicts and back.
"""
