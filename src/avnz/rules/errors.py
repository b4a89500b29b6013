"""A rule definition that does not validate, with the dotted paths a 400 names."""

from pydantic import ValidationError


class InvalidDefinition(ValueError):
    """Part of a rule that does not validate; `errors` are (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))
        self.errors = errors


def error_paths(
    exc: ValidationError, *, tags: frozenset[str] = frozenset(), root: str | None = None
) -> list[tuple[str, str]]:
    """(dotted path, message) for each error, under `root` if given, without the union tags
    Pydantic puts in `loc` (a tag follows the index of the list item whose type it names)."""
    pairs = []
    for error in exc.errors():
        loc = [root] if root else []
        previous: object = None
        for part in error["loc"]:
            if not (isinstance(previous, int) and isinstance(part, str) and part in tags):
                loc.append(str(part))
            previous = part
        message = str(error["msg"]).removeprefix("Value error, ")
        pairs.append((".".join(loc), message))
    return pairs
