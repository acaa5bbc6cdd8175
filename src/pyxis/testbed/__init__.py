"""The multi-node testbed: N Pyxis nodes on one machine, each in its own network namespace.

``pyxis testbed up --nodes N --root DIR`` builds a host bridge, one namespace per node
joined to it by a veth pair, and starts corosync (when installed) and ``pyxisd`` in every
namespace.  :mod:`.model` is the state file, :mod:`.net` the namespaces, links and
partitions, :mod:`.nodes` the processes, :mod:`.cli` the command line.
"""
