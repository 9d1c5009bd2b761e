"""Which hosts a download may touch, and which host may see which token.

Rules (every hop of every redirect chain is checked, not just the first URL):

* https only; plain http only for loopback hosts that were added explicitly (tests, local mirrors);
* the host must equal an allowed entry or be a sub-domain of one;
* a token is bound to an exact **origin** (scheme, host, port; see ``tools.http.origin_of``): never a
  sub-domain, another port or another scheme. A bare host in ``tokens`` means its https origin;
* along a redirect chain (:meth:`HostPolicy.chain`) the token goes only on hops that are still on the
  first URL's origin; once the chain has left it, no hop gets a token again — not the origin's own
  when the chain comes back (A → B → A), and not another origin's (Civitai → Hugging Face endpoint).
  Storage hosts need no token: Civitai and Hugging Face sign those URLs.

Loopback detection is ``tools.http.is_loopback`` (one implementation for API clients and downloads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.http import Origin, host_matches, is_loopback, origin_of, origin_text

# Origins plus the storage hosts they redirect to (Civitai: its R2 bucket and b2.civitai.com;
# Hugging Face: cdn-lfs*.huggingface.co, *.hf.co incl. the xet bridge; GitHub: *.githubusercontent.com).
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = (
    "civitai.com",
    "civitai-delivery-worker-prod.5ac0637cfd0766c97916cefa3764fbdf.r2.cloudflarestorage.com",
    "huggingface.co",
    "hf.co",
    "github.com",
    "githubusercontent.com",
    "modelscope.cn",
)


class HostNotAllowed(InputError):
    """A URL (or a redirect hop) points at a host or scheme outside the download allow-list."""


@dataclass(frozen=True)
class HostPolicy:
    """The download allow-list. ``extra_hosts`` come from settings (``COMFYFIXER_ALLOWED_HOSTS``)."""

    extra_hosts: tuple[str, ...] = ()
    defaults: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    # origin text (``scheme://host:port``) -> token; see origin_of / origin_text
    tokens: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, extra_hosts: Iterable[str] = (), tokens: dict[str, str | None] | None = None) -> HostPolicy:
        """``tokens`` maps origins (``https://civitai.com``, ``http://127.0.0.1:8123``) or bare hosts
        (meaning their https origin) to tokens; empty tokens are dropped."""
        clean = {origin_text(origin_of(o)): t for o, t in (tokens or {}).items() if t}
        return cls(extra_hosts=tuple(h.strip().lower() for h in extra_hosts if h.strip()), tokens=clean)

    @classmethod
    def for_services(cls, extra_hosts: Iterable[str] = (), *, civitai_base_url: str = "https://civitai.com",
                     civitai_token: str | None = None, hf_endpoint: str = "https://huggingface.co",
                     hf_token: str | None = None) -> HostPolicy:
        """The policy built from settings, used by every caller (executor, tool context).

        The Civitai token is bound to ``https://civitai.com`` and the configured Civitai base URL's origin,
        the Hugging Face token to ``https://huggingface.co`` and ``HF_ENDPOINT``'s origin. Should those
        share an origin (a local mirror serving both) and both tokens be set, the Hugging Face one wins.
        """
        tokens: dict[str, str | None] = {}
        for origin, token in (("https://civitai.com", civitai_token), (civitai_base_url, civitai_token),
                              ("https://huggingface.co", hf_token), (hf_endpoint, hf_token)):
            if token:
                tokens[origin] = token
        return cls.build(extra_hosts, tokens)

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.defaults + self.extra_hosts

    def check(self, url: str | httpx.URL) -> httpx.URL:
        """Return the parsed URL if it may be fetched, else raise :class:`HostNotAllowed`."""
        u = httpx.URL(str(url))
        host = (u.host or "").lower()
        shown = f"{u.scheme}://{host}"
        if u.scheme == "https":
            if host_matches(host, self.allowed):
                return u
            raise HostNotAllowed(
                f"download host {host!r} is not on the allow-list",
                hint="add it to COMFYFIXER_ALLOWED_HOSTS if you trust it",
            )
        if u.scheme == "http" and is_loopback(host) and host in self.extra_hosts:
            return u
        raise HostNotAllowed(
            f"refusing {shown}: downloads use https only (plain http only for loopback hosts listed in "
            "COMFYFIXER_ALLOWED_HOSTS)",
        )

    def token_for(self, url: str | httpx.URL) -> str | None:
        """The token bound to exactly this URL's origin, if any (for a single request, not a chain)."""
        return self.tokens.get(origin_text(origin_of(url)))

    def chain(self, first_url: str | httpx.URL) -> RedirectTokens:
        """Token bookkeeping for one redirect chain starting at ``first_url``; ask it at every hop."""
        return RedirectTokens(self, origin_of(first_url))


class RedirectTokens:
    """Which hop of one redirect chain gets a token: the start origin's hops until the chain leaves it.

    Why not re-attach when a chain returns to the origin (A → B → A)? The way back was chosen by B, a
    host we do not trust with the token; following its redirect must not make us authenticate.
    """

    def __init__(self, policy: HostPolicy, start: Origin) -> None:
        self._policy = policy
        self.start = start
        self.left_origin = False

    def __repr__(self) -> str:
        return f"RedirectTokens(start={origin_text(self.start)!r}, left_origin={self.left_origin})"

    def token_for(self, url: str | httpx.URL) -> str | None:
        """The token for this hop (call once per hop, in order)."""
        if origin_of(url) != self.start:
            self.left_origin = True
        if self.left_origin:
            return None
        return self._policy.tokens.get(origin_text(self.start))


__all__ = ["DEFAULT_ALLOWED_HOSTS", "HostNotAllowed", "HostPolicy", "RedirectTokens", "is_loopback"]
