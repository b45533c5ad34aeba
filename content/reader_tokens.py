"""Reader tokens: how a page on the publisher's own origin says which signed-in reader it shows.

A browser sends the reader's session cookie only to this site (or a sibling subdomain). A
page elsewhere gets a token instead (POST /api/reader-token, by the signed-in reader) and
sends it back as `Authorization: Bearer <token>`. The token is signed with SECRET_KEY
(django.core.signing, with its own salt, so no other signed value passes for one),
carries its time of issue (refused after READER_TOKEN_SECONDS), the user's id, the one
origin it was issued to, and a digest of the account's password hash, so a password
change ends every token like it ends every session. Nothing is stored.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare

SALT = "patronage.content.reader-token"


class TokenRefused(Exception):
    """The token is forged, expired, for another origin, or its account changed."""


@dataclass(frozen=True)
class ReaderClaim:
    user_id: int
    origin: str
    auth_hash: str


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def issue(user, origin: str) -> str:
    """A token naming `user` for pages on `origin` (an allowed origin, checked by the caller)."""
    return _signer().sign_object({"u": user.pk, "o": origin, "h": _auth_hash(user)}, compress=False)


def read(token: str, *, origin: str | None) -> ReaderClaim:
    """The claim of a valid token sent from `origin` (the request's Origin header).

    Raises TokenRefused when the signature is wrong, the token is older than
    READER_TOKEN_SECONDS, or it was issued to another origin, or that origin is no
    longer allowed.
    """
    try:
        data = _signer().unsign_object(token, max_age=settings.READER_TOKEN_SECONDS)
    except signing.SignatureExpired:
        raise TokenRefused("This reader token has expired.") from None
    except (signing.BadSignature, ValueError):
        raise TokenRefused("This reader token is not valid.") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise TokenRefused("This reader token is not valid.")
    claimed = str(data.get("o", ""))
    if not origin or not constant_time_compare(claimed, origin):
        raise TokenRefused("This reader token was issued to another origin.")
    if origin not in settings.SUPPORT_API_ALLOWED_ORIGINS:
        raise TokenRefused("This origin may not use reader tokens.")
    return ReaderClaim(user_id=data["u"], origin=claimed, auth_hash=str(data.get("h", "")))


def matches(claim: ReaderClaim, user) -> bool:
    """Whether the account is still the one the token was issued for (same password)."""
    return constant_time_compare(claim.auth_hash, _auth_hash(user))


def _auth_hash(user) -> str:
    return user.get_session_auth_hash()[:20]
