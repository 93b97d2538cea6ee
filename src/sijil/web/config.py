"""The web app's settings: declared once here, frozen, handed to ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sijil.crypto.identity import DeskIdentity
from sijil.desk.home import DeskHome
from sijil.desk.key_ceremony import DEFAULT_RP_ID, RelyingParty
from sijil.errors import ConfigError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "STATIC_DIR", "TEMPLATES_DIR", "WebConfig"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8471
PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
#: What scripts/vendor-web.sh puts there; the pages need every one.
VENDORED = ("htmx.min.js", "noto-naskh-arabic-400.woff2", "noto-naskh-arabic-700.woff2")


@dataclass(frozen=True, kw_only=True)
class WebConfig:
    """``home`` must hold the database key (``DeskHome.with_key``) for an encrypted desk.

    ``identity``, ``relay``: for the vault's thumbnails and for replies (both optional).

    ``secure_cookies``: set when the app is reached over HTTPS (behind a proxy),
    so the browser sends the session cookie over HTTPS only.
    """

    home: DeskHome
    secure_cookies: bool = False
    static_dir: Path = STATIC_DIR
    #: the unlocked desk identity: reads the vault (thumbnails), seals replies; without
    #: it those pages say they are unavailable
    identity: DeskIdentity | None = field(default=None, repr=False)
    #: the relay replies to correspondents are left at (``sijil desk serve --relay``)
    relay: str | None = None
    relay_proxy: str | None = None
    #: the domain security keys are bound to (WebAuthn's relying-party id): the name
    #: the editors' browsers reach the desk by; never an IP address (browsers refuse one)
    rp_id: str = DEFAULT_RP_ID
    #: the one origin keys may sign for (``https://desk.example``); None: any on ``rp_id``
    rp_origin: str | None = None

    def __post_init__(self) -> None:
        self.relying_party()  # refuses an IP address or a malformed origin at start-up
        self.home.require()
        missing = [n for n in VENDORED if not (self.static_dir / "vendor" / n).is_file()]
        if missing:
            raise ConfigError(
                f"the web app's vendored files are missing ({', '.join(missing)}): "
                "run scripts/vendor-web.sh (make tools)"
            )

    def relying_party(self) -> RelyingParty:
        return RelyingParty(self.rp_id, self.rp_origin)
