"""BLAKE2b, the caches' digest, without `import hashlib`: that loads OpenSSL, a twentieth of a one-file
run, for a digest OpenSSL never makes (hashlib's own blake2b is this built-in type)."""

from __future__ import annotations

try:
    from _blake2 import blake2b as blake2b
except ImportError:  # a Python built without its own hash modules
    from hashlib import blake2b as blake2b
