"""Node and guest statistics: sampling, round-robin storage, exporters."""
