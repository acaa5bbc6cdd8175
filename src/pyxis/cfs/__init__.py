"""The config store as a FUSE file system (the view pmxcfs gives at /etc/pve)."""
