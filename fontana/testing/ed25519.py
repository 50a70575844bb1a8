"""Edwards25519 arithmetic in plain Python, to craft the signatures verifiers disagree on.

Only for tests: slow, variable-time, and deliberately permissive (it decodes
non-canonical and small-order encodings) so that it can build what a strict verifier
must refuse: small-order keys and ``R``, mixed-order points (a prime-order point plus a
torsion point), non-canonical ``S`` and key encodings. :func:`signature_cases` returns
them with the verdict libsodium gives each, which every transaction engine must give.
"""

from __future__ import annotations

import hashlib
from typing import Final, NamedTuple

P: Final = 2**255 - 19
L: Final = 2**252 + 27742317777372353535851937790883648493
D: Final = -121665 * pow(121666, -1, P) % P
SQRT_M1: Final = pow(2, (P - 1) // 4, P)

Point = tuple[int, int]
IDENTITY: Final[Point] = (0, 1)


def add(a: Point, b: Point) -> Point:
    """The complete twisted Edwards addition law (a = -1)."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, P) % P
    return x3, y3


def mul(k: int, point: Point) -> Point:
    out, q = IDENTITY, point
    while k:
        if k & 1:
            out = add(out, q)
        q = add(q, q)
        k >>= 1
    return out


def neg(point: Point) -> Point:
    return (-point[0] % P, point[1])


def decode(data: bytes) -> Point | None:
    """Any 32 bytes naming a curve point, ``y`` reduced mod p (as lax decoders do)."""
    raw = int.from_bytes(data, "little")
    y, sign = (raw & ((1 << 255) - 1)) % P, raw >> 255
    u = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(u, (P + 3) // 8, P)
    if x * x % P != u:
        x = x * SQRT_M1 % P
    if x * x % P != u:
        return None
    if x & 1 != sign:
        x = -x % P
    return x, y


def encode(point: Point) -> bytes:
    return (point[1] | (point[0] & 1) << 255).to_bytes(32, "little")


B: Final = decode((4 * pow(5, -1, P) % P).to_bytes(32, "little"))
#: A point of order 8: adding it gives a mixed-order point.
T8: Final = decode(
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
)


def challenge(r: bytes, a: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + message).digest(), "little") % L


def secret_scalar(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


def sign_raw(a: int, a_enc: bytes, r_point: Point, r: int, message: bytes) -> bytes:
    """``R || S`` for a nonce point ``r_point`` whose prime-order part is ``[r]B``."""
    r_enc = encode(r_point)
    s = (r + challenge(r_enc, a_enc, message) * a) % L
    return r_enc + s.to_bytes(32, "little")


def cofactored_ok(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """The cofactored equation ``[8]R == [8]([S]B - [k]A)`` (what batch verifiers check)."""
    a, r = decode(pubkey), decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = challenge(signature[:32], pubkey, message)
    rhs = add(mul(s, B), neg(mul(k, a)))  # type: ignore[arg-type]
    return mul(8, r) == mul(8, rhs)


class Case(NamedTuple):
    label: str
    pubkey: bytes
    signature: bytes
    #: libsodium's verdict (``crypto_sign_verify_detached``).
    valid: bool


def _ground(message: bytes, build: object, want: bool, start: int = 1) -> tuple[bytes, bytes]:
    """The first ``(pubkey, signature)`` from ``build(i)`` whose predicate is ``want``."""
    for i in range(start, start + 400):
        pubkey, signature, ok = build(i)  # type: ignore[operator]
        if ok == want:
            return pubkey, signature
    raise AssertionError("no case found")


def signature_cases(message: bytes) -> list[Case]:
    """Signatures of ``message`` that separate verifiers, each with libsodium's verdict."""
    seed = hashlib.sha256(b"fontana/testing/ed25519" + message).digest()
    a = secret_scalar(seed)
    a_point = mul(a, B)  # type: ignore[arg-type]
    a_enc = encode(a_point)
    r = int.from_bytes(hashlib.sha256(seed + b"r").digest(), "little") % L
    honest = sign_raw(a, a_enc, mul(r, B), r, message)  # type: ignore[arg-type]
    s = int.from_bytes(honest[32:], "little")
    cases = [
        Case("honest", a_enc, honest, True),
        Case("another message's", a_enc, sign_raw(a, a_enc, mul(r, B), r, message + b"!"), False),  # type: ignore[arg-type]
        Case("S + L (non-canonical S)", a_enc, honest[:32] + (s + L).to_bytes(32, "little"), False),
        Case(
            "S with its top bits set",
            a_enc,
            honest[:32] + (s | 7 << 253).to_bytes(32, "little"),
            False,
        ),
        Case(
            "R's sign bit flipped",
            a_enc,
            honest[:31] + bytes([honest[31] ^ 0x80]) + honest[32:],
            False,
        ),
        # Mixed-order R: cofactored (batch) verification accepts it, libsodium does not.
        Case(
            "R + T8 (mixed-order R)",
            a_enc,
            sign_raw(a, a_enc, add(mul(r, B), T8), r, message),
            False,
        ),  # type: ignore[arg-type]
        # R = identity and S = k·a: the equation holds without the small-order check on R.
        Case("R = identity (small order)", a_enc, _identity_r(a, a_enc, message), False),
    ]
    # Mixed-order A = aB + T8: libsodium accepts exactly when [k]T8 vanishes (8 | k).
    mixed = add(a_point, T8)  # type: ignore[arg-type]
    mixed_enc = encode(mixed)

    def mixed_key(i: int) -> tuple[bytes, bytes, bool]:
        sig = sign_raw(a, mixed_enc, mul(r + i, B), r + i, message)  # type: ignore[arg-type]
        return mixed_enc, sig, challenge(sig[:32], mixed_enc, message) % 8 == 0

    cases.append(Case("mixed-order key, 8 | k", *_ground(message, mixed_key, True), True))
    cases.append(Case("mixed-order key, 8 ∤ k", *_ground(message, mixed_key, False), False))
    # Small-order keys: [k]A vanishes when ord(A) | k, so R = [S]B satisfies the equation.
    for n, t in enumerate(mul(i, T8) for i in range(8)):  # type: ignore[arg-type]
        for enc in {encode(t), encode(neg(t)), _with_sign(encode(t))}:

            def small_key(i: int, enc: bytes = enc, t: Point = t) -> tuple[bytes, bytes, bool]:
                r_enc = encode(mul(i, B))  # type: ignore[arg-type]
                k = challenge(r_enc, enc, message)
                return enc, r_enc + (i % L).to_bytes(32, "little"), mul(k, t) == IDENTITY

            cases.append(
                Case(
                    f"small-order key {n}T8 {enc.hex()[:8]}",
                    *_ground(message, small_key, True),
                    False,
                )
            )
    # Non-canonical key encodings (y >= p): small-order ones and points with y = 2..18.
    for y in range(19):
        enc = (P + y).to_bytes(32, "little")
        cases.append(Case(f"non-canonical key y = p + {y}", enc, honest, False))
    cases.append(Case("key not on the curve", _off_curve(), honest, False))
    cases.append(Case("zero signature", a_enc, bytes(64), False))
    return cases


def _identity_r(a: int, a_enc: bytes, message: bytes) -> bytes:
    r_enc = encode(IDENTITY)
    s = challenge(r_enc, a_enc, message) * a % L
    return r_enc + s.to_bytes(32, "little")


def _with_sign(enc: bytes) -> bytes:
    return enc[:31] + bytes([enc[31] | 0x80])


def _off_curve() -> bytes:
    y = 2
    while decode(y.to_bytes(32, "little")) is not None:
        y += 1
    return y.to_bytes(32, "little")
