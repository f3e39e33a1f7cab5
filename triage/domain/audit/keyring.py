"""The Ed25519 key that signs audit tree heads, and every public key that ever did, with when.

Two files: the private key (PEM, mode 0600; ``TRIAGE_AUDIT_SIGNING_KEY_FILE``) and the public keyring (JSON,
what ``GET /v1/audit/public-key`` serves). Both are read on every use, so ``triage audit rotate-key`` takes
effect in a running service at its next signature, and a head is never signed with a key the keyring does not
list as valid at that moment. Without files the keyring lives in memory (tools that only append, tests).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ValidationError

from triage.config import Settings
from triage.core.clock import Clock, utc_now
from triage.core.errors import ConfigurationError, InvalidInput
from triage.domain.audit.schemas import AuditPublicKeysRead, PublicKeyRead
from triage.domain.audit.signing import key_id_of, load_private_pem, private_pem, public_pem


class _KeyringFile(BaseModel):
    keys: list[PublicKeyRead]


def _write_atomically(path: Path, data: bytes, *, mode: int = 0o644, exclusive: bool = False) -> bool:
    """Write ``data`` to ``path`` through a temporary file; with ``exclusive``, only if ``path`` does not
    exist yet (``False`` then: another process won the race and its file stands)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if not exclusive:
            Path(tmp).replace(path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()


def read_public_keys(path: Path) -> list[PublicKeyRead]:
    """The keys of a keyring file (none when it does not exist yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigurationError(f"audit public keys unreadable at {path}: {exc}") from exc
    try:
        return _KeyringFile.model_validate_json(text).keys
    except ValidationError as exc:
        raise ConfigurationError(f"audit public keys at {path} are invalid") from exc


class AuditKeyring:
    """The current signing key and the published public keys (see the module docstring)."""

    def __init__(
        self,
        private_key_file: Path | None = None,
        public_keys_file: Path | None = None,
        *,
        create: bool = True,
        clock: Clock = utc_now,
    ) -> None:
        """``create``: generate the private key when it is missing (development, test, memory)."""
        self.private_key_file = private_key_file
        self.public_keys_file = public_keys_file
        self.create = create
        self.clock = clock
        self._memory_key: Ed25519PrivateKey | None = None
        self._memory_keys: list[PublicKeyRead] = []
        if private_key_file is None and public_keys_file is None:
            self.ensure()  # at once, so threads sharing a memory keyring never race to create the key

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = utc_now) -> AuditKeyring:
        """The configured keyring, checked now: a missing key is generated in development and test and is a
        ``ConfigurationError`` in production (start-up stops)."""
        keyring = cls(
            settings.resolved_audit_signing_key_file,
            settings.resolved_audit_public_keys_file,
            create=settings.environment != "production",
            clock=clock,
        )
        keyring.ensure()
        return keyring

    def ensure(self) -> PublicKeyRead:
        """The current key's public entry, creating the key (if allowed) and publishing it when missing."""
        private = self._load_private()
        key_id = key_id_of(private.public_key())
        keys = self.public_keys()
        entry = next((k for k in keys if k.key_id == key_id), None)
        if entry is None:
            entry = PublicKeyRead(
                key_id=key_id, public_key_pem=public_pem(private.public_key()), valid_from=self.clock()
            )
            self._save_public_keys([*keys, entry])
        return entry

    def signing_key(self) -> tuple[PublicKeyRead, Ed25519PrivateKey]:
        """The key to sign with now and its published entry; ``ConfigurationError`` when the key is not
        published as valid now (retired by a rotation under way, or a keyring that lost it)."""
        if self.private_key_file is None and self._memory_key is None:
            self.ensure()
        private = self._load_private()
        key_id = key_id_of(private.public_key())
        now = self.clock()
        entry = next((k for k in self.public_keys() if k.key_id == key_id), None)
        if entry is None or not entry.valid_at(now):
            raise ConfigurationError(
                f"the audit signing key {key_id} is not published as valid now in {self.public_keys_file}; "
                "restore the keyring or rotate the key (`triage audit rotate-key`)"
            )
        return entry, private

    def public_keys(self) -> list[PublicKeyRead]:
        if self.public_keys_file is None:
            return list(self._memory_keys)
        return read_public_keys(self.public_keys_file)

    def published_keys(self) -> AuditPublicKeysRead:
        """Every published key, the current one (created and published first if need be) named."""
        self.ensure()
        keys = self.public_keys()
        current = next((k.key_id for k in reversed(keys) if k.valid_until is None), None)
        return AuditPublicKeysRead(current_key_id=current, keys=keys)

    def rotate(self, new_key: Ed25519PrivateKey | None = None) -> tuple[PublicKeyRead, PublicKeyRead]:
        """Retire the current key now and sign with ``new_key`` (a fresh one by default) from now on.

        Returns the retired and the new entry. The retired public key stays published with its range, so
        every head it signed still verifies; its private key is overwritten.
        """
        old, _ = self.signing_key()
        new_key = new_key or Ed25519PrivateKey.generate()
        new_id = key_id_of(new_key.public_key())
        keys = self.public_keys()
        if any(k.key_id == new_id for k in keys):
            raise InvalidInput(f"key {new_id} has signed audit heads before; rotate to a key never used")
        now = self.clock()
        retired = old.model_copy(update={"valid_until": now})
        entry = PublicKeyRead(key_id=new_id, public_key_pem=public_pem(new_key.public_key()), valid_from=now)
        self._store_private(new_key, replace=True)
        self._save_public_keys([retired if k.key_id == old.key_id else k for k in keys] + [entry])
        return retired, entry

    def _load_private(self) -> Ed25519PrivateKey:
        if self.private_key_file is None:
            if self._memory_key is None:
                self._memory_key = Ed25519PrivateKey.generate()
            return self._memory_key
        try:
            data = self.private_key_file.read_bytes()
        except FileNotFoundError:
            if not self.create:
                raise ConfigurationError(
                    f"no audit signing key at {self.private_key_file} (TRIAGE_AUDIT_SIGNING_KEY_FILE)"
                ) from None
            self._store_private(Ed25519PrivateKey.generate(), replace=False)
            data = self.private_key_file.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"audit signing key unreadable at {self.private_key_file}: {exc}"
            ) from exc
        try:
            return load_private_pem(data)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"{self.private_key_file} is not an unencrypted Ed25519 private key in PEM"
            ) from exc

    def _store_private(self, key: Ed25519PrivateKey, *, replace: bool) -> None:
        if self.private_key_file is None:
            self._memory_key = key
            return
        _write_atomically(self.private_key_file, private_pem(key), mode=0o600, exclusive=not replace)

    def _save_public_keys(self, keys: list[PublicKeyRead]) -> None:
        if self.public_keys_file is None:
            self._memory_keys = list(keys)
            return
        data = _KeyringFile(keys=keys).model_dump_json(indent=2).encode("utf-8") + b"\n"
        _write_atomically(self.public_keys_file, data)
