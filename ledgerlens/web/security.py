"""Who may use the review screen, and what a browser is allowed to do with its pages.

One ASGI middleware, `Guard`, in front of every route:
- **Host.** Served on loopback without a token, only requests addressed to a loopback name are
  answered: a web page whose DNS name was re-pointed at 127.0.0.1 (DNS rebinding) gets a 400.
- **Token.** With `--token` or a users file every request must carry a token: the URL's
  `?token=` once (it becomes an HttpOnly cookie and the URL is cleaned), the cookie, or an
  `Authorization: Bearer` header. Otherwise 401. The token also names the reviewer (users file).
- **CSRF.** Every POST must carry `X-CSRF-Token`, an HMAC of the browser's session cookie under a
  key made at start-up, and, when the browser sends one, an `Origin` equal to the screen's own.
  Cookies are SameSite=Strict.
- **Headers.** A Content-Security-Policy that allows only this server's own scripts, styles and
  images (no inline script or style, nothing from the internet), no framing, no referrer, no
  sniffing, and no caching of pages that show documents.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import tomllib
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerlens.pipeline.errors import ConfigError

TOKEN_COOKIE = "ledgerlens_token"
SESSION_COOKIE = "ledgerlens_session"
CSRF_HEADER = "x-csrf-token"
MIN_TOKEN = 16
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """Who may come in: nobody needs a token (loopback only), or each token names its reviewer."""

    reviewer: str  # the reviewer's name when tokens do not name one
    tokens: dict[str, str] = field(default_factory=dict)  # token -> reviewer
    loopback_only: bool = True
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # signs CSRF tokens

    @classmethod
    def build(cls, host: str, reviewer: str, token: str | None = None, users_file: Path | None = None) -> Access:
        tokens = dict(read_users(users_file)) if users_file else {}
        if token:
            if len(token) < MIN_TOKEN:
                raise ConfigError(f"--token must be at least {MIN_TOKEN} characters")
            tokens[token] = reviewer
        if not tokens and not is_loopback(host):
            raise ConfigError(
                f"serving on {host} opens the review screen to the network: give --token TOKEN "
                "(or --users FILE) so that every request must carry it, or serve on 127.0.0.1"
            )
        return cls(reviewer, tokens, loopback_only=is_loopback(host))

    def reviewer_of(self, token: str | None) -> str | None:
        """The reviewer a token names (the default reviewer when no token is needed); None: refused."""
        if not self.tokens:
            return self.reviewer
        if not token:
            return None
        found = None
        for known, who in self.tokens.items():  # compare with every token, in constant time each
            if hmac.compare_digest(known.encode(), token.encode()):
                found = who
        return found

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.key, session.encode(), hashlib.sha256).hexdigest()


def read_users(path: Path) -> dict[str, str]:
    """A users file: `[users]` with `name = "token"` lines; returns token -> name."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the users file {path}: {e}") from e
    users = data.get("users")
    if set(data) != {"users"} or not isinstance(users, dict) or not users:
        raise ConfigError(f'{path}: expected one [users] table of name = "token" lines')
    out: dict[str, str] = {}
    for name, token in users.items():
        if not isinstance(token, str) or len(token) < MIN_TOKEN:
            raise ConfigError(f"{path}: the token of {name!r} must be a string of at least {MIN_TOKEN} characters")
        if token in out:
            raise ConfigError(f"{path}: {name!r} and {out[token]!r} have the same token")
        out[token] = name
    return out


def _cookies(headers: Headers) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed cookie header: as if none was sent
        return {}
    return {k: v.value for k, v in jar.items()}


def _bearer(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class Guard:
    """Host check, token, CSRF and security headers for every request (see the module's docstring)."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refused = self._refusal(scope, headers)
        if refused is not None:
            await refused(scope, receive, _with_headers(send, {}))
            return
        cookies = _cookies(headers)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        set_cookies: list[str] = []
        welcome = "token" in query and self.access.tokens and scope["method"] in SAFE_METHODS
        if welcome and self.access.reviewer_of(query["token"]) is not None:
            # The printed URL's token: into a cookie, out of the address bar and the history.
            rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
            response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(TOKEN_COOKIE, query["token"], httponly=True, samesite="strict")
            await response(scope, receive, _with_headers(send, {}))
            return
        reviewer = self.access.reviewer_of(_bearer(headers) or cookies.get(TOKEN_COOKIE))
        if reviewer is None:
            await _unauthorized(scope, receive, _with_headers(send, {}))
            return
        session = cookies.get(SESSION_COOKIE) or ""
        if scope["method"] not in SAFE_METHODS:
            problem = self._csrf_problem(scope, headers, session)
            if problem:
                await JSONResponse({"error": problem}, status_code=403)(scope, receive, _with_headers(send, {}))
                return
        if not session:
            session = secrets.token_urlsafe(24)
            set_cookies.append(f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict")
        scope.setdefault("state", {})
        scope["state"].update(reviewer=reviewer, csrf=self.access.csrf_token(session))
        await self.app(scope, receive, _with_headers(send, {}, set_cookies))

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        if not self.access.loopback_only:
            return None
        host = headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if not is_loopback(name.strip("[]")):
            return PlainTextResponse("Invalid host header: this review screen answers on loopback only", 400)
        return None

    def _csrf_problem(self, scope: Scope, headers: Headers, session: str) -> str | None:
        sent = headers.get(CSRF_HEADER, "")
        if not session or not sent or not hmac.compare_digest(sent, self.access.csrf_token(session)):
            return "the page's CSRF token is missing or stale: reload the page and try again"
        origin = headers.get("origin")
        if origin and origin != f"{scope.get('scheme', 'http')}://{headers.get('host', '')}":
            return f"a request from another site ({origin}) was refused"
        return None


async def _unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    text = (
        "This review screen needs its token: open the address that `ledgerlens review serve` printed "
        "(it ends in ?token=...), or send `Authorization: Bearer TOKEN`."
    )
    response = PlainTextResponse(text, status_code=401, headers={"www-authenticate": "Bearer"})
    await response(scope, receive, send)


def _with_headers(send: Send, extra: dict[str, str], cookies: list[str] | None = None) -> Any:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = Headers(raw=message.get("headers", []))
            raw = list(message.get("headers", []))
            for name, value in {**SECURITY_HEADERS, **extra}.items():
                if name not in headers:
                    raw.append((name.encode(), value.encode()))
            if "cache-control" not in headers:
                raw.append((b"cache-control", b"no-store"))
            raw += [(b"set-cookie", c.encode()) for c in cookies or []]
            message = {**message, "headers": raw}
        await send(message)

    return wrapped
