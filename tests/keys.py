"""Signing keys for tests: a fresh Ed25519 key nobody trusts."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.photos import PhotoStoreSettings

# S3 credentials that are not the local stack's placeholders (production refuses those).
REAL_PHOTOS = PhotoStoreSettings(
    endpoint_url="https://oss.example.gov.cn", access_key_id="heat-prod", secret_access_key="a-real-secret-of-length"
)


def another_key() -> str:
    """A new Ed25519 private key, PEM."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
