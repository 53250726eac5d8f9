"""Error tree of the decision engine; `gateway/` maps them to problem+json."""

from __future__ import annotations


class DecisionError(Exception):
    status_hint = 500
    retriable = False


class InvalidRequest(DecisionError):
    """A request parameter is missing or malformed; `param` names it."""

    status_hint = 400

    def __init__(self, param: str, detail: str) -> None:
        super().__init__(f"{param}: {detail}")
        self.param = param
        self.detail = detail


class CatalogInvalid(DecisionError):
    """A catalog snapshot failed validation; `problems` lists every problem found."""

    status_hint = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} catalog problem(s): " + "; ".join(problems[:5]))
        self.problems = problems
