"""Optional storage of full prompts in the audit log, encrypted at rest (Fernet).

Off by default: the log normally holds hashes and metadata only. When an organisation
needs the exact prompt for investigations, it turns this on with a key the gateway's
operators hold; the record then carries the upstream request body encrypted with
AES-128-CBC + HMAC-SHA256 (Fernet), readable only with that key.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class PromptKeyError(ValueError):
    """The key is not a Fernet key, or does not open this record."""


class PromptCipher:
    def __init__(self, key: str | bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise PromptKeyError(
                "not a Fernet key (32 url-safe base64-encoded bytes; see "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from exc

    def encrypt(self, body: bytes) -> str:
        return self._fernet.encrypt(body).decode()

    def decrypt(self, token: str) -> bytes:
        try:
            return self._fernet.decrypt(token.encode())
        except InvalidToken:
            raise PromptKeyError("this key does not open the stored prompt") from None
