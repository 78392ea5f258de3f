"""Console passwords: argon2id through pwdlib. Hashes stored before it (salted scrypt, ``scrypt$n$r$p$salt$digest``)
still verify, and are replaced by an argon2 hash at the account's next successful sign-in.

A check costs 64 MiB and tens of milliseconds of a core, and sign-in is open to anyone: ``HashGate`` bounds how many
run at once in a process and how many sign-ins may wait for one; past that a sign-in is refused at once (``Busy``)
rather than piling up hashes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

T = TypeVar("T")

# scrypt as the project stored it: 16 MiB and tens of milliseconds per hash.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_MAXMEM = 64 * 1024 * 1024


class ScryptHasher:
    """The former scheme, for verifying only: a hash it recognises always needs rehashing."""

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        text = hash.decode() if isinstance(hash, bytes) else hash
        return text.startswith("scrypt$")

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        salt = salt or secrets.token_bytes(16)
        raw = password.encode() if isinstance(password, str) else password
        digest = hashlib.scrypt(raw, salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN, maxmem=_MAXMEM)
        b64 = base64.b64encode
        return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        text = hash.decode() if isinstance(hash, bytes) else hash
        raw = password.encode() if isinstance(password, str) else password
        try:
            scheme, n, r, p, salt, digest = text.split("$")
            expected = base64.b64decode(digest)
            candidate = hashlib.scrypt(
                raw, salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=_MAXMEM
            )
        except ValueError:
            return False
        return scheme == "scrypt" and hmac.compare_digest(candidate, expected)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


# argon2id with argon2-cffi's defaults (RFC 9106's second recommendation: 64 MiB, 3 passes, 4 lanes).
PASSWORDS = PasswordHash((Argon2Hasher(), ScryptHasher()))


def hash_password(password: str) -> str:
    return PASSWORDS.hash(password)


def verify(password: str, stored: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches ``stored``, and the hash to store instead when it is of an older scheme or
    weaker parameters (None: keep it)."""
    try:
        return PASSWORDS.verify_and_update(password, stored)
    except Exception:  # an unknown or corrupt hash matches nothing
        return False, None


@functools.cache
def _decoy_hash() -> str:
    # Checked against when the name is unknown, so an unknown name costs as much time as a wrong password.
    return hash_password(secrets.token_hex(16))


def check(password: str, stored: str | None) -> tuple[bool, str | None]:
    matches, updated = verify(password, stored or _decoy_hash())
    return matches and stored is not None, updated if stored is not None else None


class Busy(Exception):
    """Too many sign-ins are waiting for a password check in this process."""


class HashGate:
    """At most ``concurrency`` password checks at once in this process (each in a worker thread), and at most
    ``queue`` more sign-ins admitted to wait for one."""

    def __init__(self, concurrency: int = 2, queue: int = 16) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._limit = concurrency + queue
        self._admitted = 0

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Admit a sign-in, or raise ``Busy`` when as many as the gate holds are already in."""
        if self._admitted >= self._limit:
            raise Busy
        self._admitted += 1
        try:
            yield
        finally:
            self._admitted -= 1

    async def run(self, check: Callable[..., T], *args: object) -> T:
        """``check(*args)`` in a worker thread once a slot is free. The slot is given back when the thread ends,
        not when the caller stops waiting: a cancelled sign-in cannot let more hashes run than the gate allows."""
        loop = asyncio.get_running_loop()
        await self._slots.acquire()
        try:
            work = loop.run_in_executor(None, functools.partial(check, *args))
        except BaseException:
            self._slots.release()
            raise
        work.add_done_callback(lambda _: self._slots.release())  # shielded below: done only when the thread is
        return await asyncio.shield(work)
