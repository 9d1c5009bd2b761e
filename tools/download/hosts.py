"""Which hosts a download may touch, and which host may see which token.

Rules (every hop of every redirect chain is checked, not just the first URL):

* https only; plain http only for loopback hosts that were added explicitly (tests, local mirrors);
* the host must equal an allowed entry or be a sub-domain of one;
* a token goes only to the exact host it belongs to — never to the storage host a
  download redirects to (Civitai and Hugging Face sign those URLs, they need no token).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx

from comfyfixer.tools.errors import InputError
from comfyfixer.tools.http import host_matches

# Origins plus the storage hosts they redirect to (Civitai: its R2 bucket and b2.civitai.com;
# Hugging Face: cdn-lfs*.huggingface.co, *.hf.co incl. the xet bridge; GitHub: *.githubusercontent.com).
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = (
    "civitai.com",
    "civitai-delivery-worker-prod.5ac0637cfd0766c97916cefa3764fbdf.r2.cloudflarestorage.com",
    "huggingface.co",
    "hf.co",
    "github.com",
    "githubusercontent.com",
)


class HostNotAllowed(InputError):
    """A URL (or a redirect hop) points at a host or scheme outside the download allow-list."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HostPolicy:
    """The download allow-list. ``extra_hosts`` come from settings (``COMFYFIXER_ALLOWED_HOSTS``)."""

    extra_hosts: tuple[str, ...] = ()
    defaults: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    tokens: dict[str, str] = field(default_factory=dict, repr=False, compare=False)  # exact host -> token

    @classmethod
    def build(cls, extra_hosts: Iterable[str] = (), tokens: dict[str, str | None] | None = None) -> HostPolicy:
        clean = {h.lower(): t for h, t in (tokens or {}).items() if t}
        return cls(extra_hosts=tuple(h.strip().lower() for h in extra_hosts if h.strip()), tokens=clean)

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
        """The token for exactly this host, if any (no sub-domain matching: storage hosts get none)."""
        host = (httpx.URL(str(url)).host or "").lower()
        return self.tokens.get(host)
