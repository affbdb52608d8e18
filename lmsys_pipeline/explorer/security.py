"""Who may call the explorer: the token (when one is set), CSRF tokens on every edit, and the
headers that keep a page from running anything but the explorer's own script."""

import hashlib
import hmac
import secrets
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

TOKEN_COOKIE = "lmsys_token"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Pages run the explorer's own script only: a text that slipped through escaping could not
# run. Inline styles are allowed (bars and treemap tiles are sized with them).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison (no timing tells how much of a guess was right)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class Guard:
    """The token check and the CSRF token of one server process."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self._secret = secrets.token_bytes(32)

    @property
    def csrf_token(self) -> str:
        return hmac.new(self._secret, b"csrf", hashlib.sha256).hexdigest()

    def csrf_ok(self, given: str | None) -> bool:
        return same(given, self.csrf_token)

    def admit(self, request: Request) -> Response | None:
        """None when the request may go on; else the answer: 401 in one sentence, or (a
        correct ``?token=`` in a page's address) a redirect that keeps it in a cookie."""
        if self.token is None:
            return None
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if same(bearer, self.token) or same(request.cookies.get(TOKEN_COOKIE), self.token):
            return None
        given = request.query_params.get("token")
        if same(given, self.token):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            answer = RedirectResponse(target, status_code=303)
            answer.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return answer
        return JSONResponse(
            {
                "error": "This explorer needs its token: open it with ?token=T once, or send "
                "the header Authorization: Bearer T."
            },
            status_code=401,
        )


def secure_headers(response: Response) -> None:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
