"""Errors of model serving administration; `gateway/` maps them by `status_hint`."""

from __future__ import annotations

from decision.errors import DecisionError


class ModelNotFound(DecisionError):
    status_hint = 404

    def __init__(self, name: str, version: str | None = None) -> None:
        what = name if version is None else f"{name}@{version}"
        super().__init__(f"model {what} is not in the registry")
        self.name = name
        self.version = version


class ModelConfigError(DecisionError):
    """A version failed validation or a setting is out of range; `problems` says why."""

    status_hint = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
