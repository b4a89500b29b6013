"""How a connection test reaches a provider, as a definition declares it: one cheap
authenticated HTTP call (with its kind of authentication), the gateway connector's own
`verify()`, an SMTP login, or an OpenID Connect discovery. `integrations.probes` runs them."""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Bearer:
    """`Authorization: Bearer <credential>`; `optional`: no header when the field is empty."""

    field: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Header:
    """A credential in a header of its own, e.g. `x-api-key`, or `Klaviyo-API-Key <key>`."""

    name: str
    field: str
    template: str = "{}"


@dataclass(frozen=True, slots=True)
class Basic:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class AwsSigV4:
    """AWS Signature Version 4 with `access_key_id` / `secret_access_key` (+ `session_token`)."""

    service: str


Auth = Bearer | Header | Basic | AwsSigV4


@dataclass(frozen=True, slots=True)
class HttpProbe:
    """One cheap authenticated GET on the provider's API: 2xx means the credentials work.
    `path` may name credential or settings fields in braces (`/Accounts/{account_sid}.json`)."""

    path: str
    auth: Auth
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GatewayProbe:
    """The gateway connector's own `verify()` (its cheapest authenticated call; moves no money)."""


@dataclass(frozen=True, slots=True)
class SmtpProbe:
    """Connect, optionally STARTTLS, and log in."""


@dataclass(frozen=True, slots=True)
class OidcProbe:
    """The issuer's discovery document (its `issuer` must match) and the JWKS it names."""


Probe = HttpProbe | GatewayProbe | SmtpProbe | OidcProbe
