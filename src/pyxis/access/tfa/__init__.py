"""Two-factor authentication: TOTP, WebAuthn and recovery keys in ``priv/tfa.cfg``.

``store`` reads and writes the JSON file and one-time challenge state, ``totp``,
``webauthn`` and ``recovery`` check one kind of factor each, and ``manager`` decides
what a login needs and verifies the answer.
"""
