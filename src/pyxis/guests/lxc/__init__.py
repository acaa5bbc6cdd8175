"""LXC system containers: config keys, the LXC config renderer, in-container setup
files, templates and their safe extraction."""
