"""Cluster-wide configuration and (later) corosync membership, quorum and join/leave."""
