"""Command-line tools: ``pvesh`` (generic, from the registry) and per-tool command tables.

Every CLI talks to its node's daemon over the root-only unix socket (as root@pam);
none of them changes state behind the daemon's back.
"""
