"""Model attributes kept encrypted at rest: read and written in clear through a property, stored as
ciphertext (core/crypto.py) in a text field that no form, serializer or log prints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.crypto import secret_decrypt, secret_encrypt


def encrypted_property(
    field_name: str,
    *,
    encrypt: Callable[[Any], str] = secret_encrypt,
    decrypt: Callable[[str], Any] = secret_decrypt,
) -> property:
    """The clear value of the model's text field `field_name`; assigning it stores `encrypt(value)`
    (an empty value is stored empty). A text secret by default; `dict_encrypt`/`dict_decrypt` for a mapping."""

    def read(instance: Any) -> Any:
        return decrypt(getattr(instance, field_name))

    def write(instance: Any, value: Any) -> None:
        setattr(instance, field_name, encrypt(value))

    return property(read, write)
