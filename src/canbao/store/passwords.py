"""Passwords: argon2id hashes (argon2-cffi), the password policy, lock-out after failures.

Policy (one place): at least :data:`MIN_LENGTH` characters, with letters and digits, not
containing the user name, not one of a few very common passwords. Lock-out: after
:data:`MAX_FAILURES` failed sign-ins in a row the account is locked for :data:`LOCK_MINUTES`
minutes (a successful sign-in resets the count).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from canbao.errors import UsageError

MIN_LENGTH = 10
MAX_FAILURES = 5
LOCK_MINUTES = 15
COMMON = frozenset(
    {"password12", "1234567890", "qwertyuiop", "admin12345", "abc1234567", "a123456789",
     "1qaz2wsx3edc", "password123", "qwerty123456"}
)  # fmt: skip

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 25 ms per sign-in
# here; argon2-cffi's default (64 MiB, 3 passes) takes 10-15x longer on a busy 2-core server
# and would make sign-in the slowest request. Stored hashes carry their parameters: a hash made
# with other parameters still verifies and is re-hashed at the next sign-in (needs_rehash).
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def check_policy(password: str, user: str = "") -> None:
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"至少 {MIN_LENGTH} 个字符")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        problems.append("须同时包含字母和数字")
    if user and user.lower() in password.lower():
        problems.append("不能包含用户名")
    if password.lower() in COMMON:
        problems.append("过于常见")
    if password != password.strip():
        problems.append("首尾不能有空格")
    if problems:
        raise UsageError(
            "密码不符合要求：" + "；".join(problems), "password does not meet the policy"
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
