"""Host networking: bridges, guest tap devices, the default NAT network."""
