"""Versioned master keys and AES-256-GCM envelope for every secret we store.

A ciphertext is `v<version>.<base64url(nonce | ciphertext+tag)>`. The associated data binds it to
its table, row and tenant, so a ciphertext copied into another row or tenant fails to decrypt.
The newest key encrypts; every key still present decrypts, so rotation is: add a key, re-encrypt
(`avnz keys rotate`), then retire the old one.

Keys come from `AVNZ_MASTER_KEYS` (`3:<b64>,2:<b64>`, newest first) in production. The embedded
default keeps them in `<data dir>/keys/master-keys.json` (mode 0600), created on first use, and
reloaded when the file changes so a running server picks up a rotation.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Table

from avnz.config import Settings

log = structlog.get_logger(__name__)
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE_NAME = "master-keys.json"


class DecryptionError(Exception):
    """The ciphertext was tampered with, moved to another row, or its key is gone."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key() -> str:
    return _b64encode(secrets.token_bytes(KEY_BYTES))


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    keys: dict[int, bytes]  # version -> 32 bytes
    fingerprint_key: bytes

    @property
    def newest(self) -> int:
        return max(self.keys)


def associated_data(table: str, row_id: str, tenant_id: str) -> bytes:
    return f"avnz:{table}:{row_id}:{tenant_id}".encode()


def parse_master_keys(value: str, fingerprint_key: str | None) -> KeyMaterial:
    keys: dict[int, bytes] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        version, _, encoded = item.partition(":")
        key = _b64decode(encoded)
        if not version.isdigit() or len(key) != KEY_BYTES:
            raise ValueError("AVNZ_MASTER_KEYS entries look like `3:<base64 of 32 bytes>`")
        keys[int(version)] = key
    if not keys:
        raise ValueError("AVNZ_MASTER_KEYS holds no key")
    if not fingerprint_key:
        raise ValueError("AVNZ_FINGERPRINT_KEY is required with AVNZ_MASTER_KEYS")
    return KeyMaterial(keys, _b64decode(fingerprint_key))


class KeyFile:
    """The embedded default's key store: a JSON file only the service user can read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load_or_create(self, *, production: bool) -> KeyMaterial:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._write({"keys": [{"version": 1, "key": new_key()}], "fingerprint_key": new_key()})
            message = "created a master key file; set AVNZ_MASTER_KEYS in production"
            (log.error if production else log.warning)(message, path=str(self.path))
        data = json.loads(self.path.read_text())
        keys = {int(item["version"]): _b64decode(item["key"]) for item in data["keys"]}
        return KeyMaterial(keys, _b64decode(data["fingerprint_key"]))

    def add_key(self) -> int:
        data = json.loads(self.path.read_text())
        version = max(int(item["version"]) for item in data["keys"]) + 1
        data["keys"].insert(0, {"version": version, "key": new_key()})
        self._write(data)
        return version

    def retire_all_but(self, version: int) -> list[int]:
        data = json.loads(self.path.read_text())
        retired = [int(i["version"]) for i in data["keys"] if int(i["version"]) != version]
        data["keys"] = [i for i in data["keys"] if int(i["version"]) == version]
        self._write(data)
        return retired

    def _write(self, data: dict[str, Any]) -> None:
        # Write a sibling then rename: readers see the old file or the new one, never half.
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(temporary, self.path)


class Keyring:
    def __init__(self, load: Callable[[], KeyMaterial], key_file: KeyFile | None = None) -> None:
        self._load = load
        self.key_file = key_file
        self._source = key_file.path if key_file else None
        self._material = load()
        self._source_mtime = self._mtime()
        self._checked_at = time.monotonic()

    @classmethod
    def from_settings(cls, settings: Settings) -> "Keyring":
        if settings.master_keys:
            fingerprint = settings.fingerprint_key
            material = parse_master_keys(
                settings.master_keys.get_secret_value(),
                fingerprint.get_secret_value() if fingerprint else None,
            )
            return cls(lambda: material)
        key_file = KeyFile(settings.keys_dir / KEY_FILE_NAME)
        production = settings.environment == "production"
        return cls(lambda: key_file.load_or_create(production=production), key_file=key_file)

    def reload(self) -> None:
        self._maybe_reload(force=True)

    @property
    def versions(self) -> list[int]:
        self._maybe_reload()
        return sorted(self._material.keys, reverse=True)

    @property
    def newest_version(self) -> int:
        self._maybe_reload()
        return self._material.newest

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> str:
        self._maybe_reload()
        version = self._material.newest
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._material.keys[version]).encrypt(nonce, plaintext, aad)
        return f"v{version}.{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, *, aad: bytes) -> bytes:
        version, payload = self._split(token)
        key = self._material.keys.get(version)
        if key is None:
            self._maybe_reload(force=True)
            key = self._material.keys.get(version)
        if key is None:
            raise DecryptionError(f"key version {version} is not in the keyring")
        raw = _b64decode(payload)
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError("ciphertext does not authenticate for this row") from None

    @staticmethod
    def key_version(token: str) -> int:
        return Keyring._split(token)[0]

    def fingerprint(self, value: str, *, scope: str) -> str:
        """A keyed hash to find the same value again without storing it (e.g. a card number)."""
        digest = hmac.new(
            self._material.fingerprint_key, f"{scope}:{value}".encode(), hashlib.sha256
        )
        return digest.hexdigest()

    @staticmethod
    def _split(token: str) -> tuple[int, str]:
        prefix, _, payload = token.partition(".")
        if not prefix.startswith("v") or not prefix[1:].isdigit() or not payload:
            raise DecryptionError("not an avnz ciphertext")
        return int(prefix[1:]), payload

    def _mtime(self) -> float | None:
        return self._source.stat().st_mtime if self._source and self._source.exists() else None

    def _maybe_reload(self, force: bool = False) -> None:
        if self._source is None or (not force and time.monotonic() - self._checked_at < 1.0):
            return
        self._checked_at = time.monotonic()
        mtime = self._mtime()
        if force or mtime != self._source_mtime:
            self._material, self._source_mtime = self._load(), mtime


@dataclass(frozen=True, slots=True)
class EncryptedColumn:
    """A column holding keyring ciphertexts, and how to rebuild each row's associated data."""

    table: Table
    column: str
    aad: Callable[[Mapping[str, Any]], bytes]


ENCRYPTED_COLUMNS: list[EncryptedColumn] = []


def register_encrypted(column: EncryptedColumn) -> None:
    """Declare a ciphertext column so `avnz keys rotate` re-encrypts it."""
    ENCRYPTED_COLUMNS.append(column)
