"""The access-matrix row of `/routing-rules/lint`: routing:read lints a company's rules.

The company is a query parameter, not a path segment, so the row appends it to the URL; brand
A1 needs no rules for the call to be allowed (an empty list of warnings)."""

from dataclasses import dataclass

from tests.tenancy.matrix import API, Endpoint, P, Scene


@dataclass(frozen=True)
class CompanyQueryEndpoint(Endpoint):
    """A route that names its company in `?company_id=`: always brand A1, in every scope."""

    def url(self, scene: Scene) -> str:
        return f"{API}{self.path}?company_id={scene.target('company')}"


ROWS: list[Endpoint] = [
    CompanyQueryEndpoint("GET", "/routing-rules/lint", P.ROUTING_READ, needs=("company",)),
]
