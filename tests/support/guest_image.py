"""The test guest: the demo appliance built by ``pyxis.appliance.builder``.

Kept as a module of its own name so tests can ``import guest_image`` and so that
``python tests/support/guest_image.py`` still builds (or reuses) the cached image.
"""

from __future__ import annotations

import sys

from pyxis.appliance.builder import (  # noqa: F401 - re-exported for the tests
    AGENT_PORT,
    KERNEL_CMDLINE,
    MARKER,
    GuestImage,
    build,
    default_cache_root,
    main,
)

if __name__ == "__main__":
    sys.exit(main())
