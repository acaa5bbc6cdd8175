"""The HTTP layer: an ASGI app built from the method registry, plus TLS and the socket."""
