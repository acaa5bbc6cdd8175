"""Facts and logs of the host a node runs on: system log readers, DNS, hosts, netstat."""
