"""Development keys, generated once per checkout.

Outside production, settings read their secrets from the environment first and fall back
to ``.dev-keys.env`` at the repository root. The file is created on first use (and is
git-ignored), so every ``manage.py`` command in the same checkout reaches the same database
with the same keys without any environment variable.
"""

import base64
import os
import secrets
from pathlib import Path

KEY_NAMES = (
    "DJANGO_SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "ID_HASH_KEY",
    "LEDGER_HMAC_KEY",
    "EXPORT_SIGNING_KEY",
)


def _fresh_value(name: str) -> str:
    if name == "FIELD_ENCRYPTION_KEYS":
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(48)


def load_dev_keys(path: Path) -> dict[str, str]:
    """Return the development keys, writing any that are missing to ``path``."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                name, value = line.split("=", 1)
                values[name.strip()] = value.strip()
    missing = [name for name in KEY_NAMES if name not in values]
    if missing:
        for name in missing:
            values[name] = _fresh_value(name)
        content = "# Development keys for this checkout. Never commit, never use in production.\n"
        content += "".join(f"{name}={values[name]}\n" for name in KEY_NAMES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
    return values
