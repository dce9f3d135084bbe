"""The error the sandbox answers with: an HTTP status plus Gate's ``{"label", "message"}`` body."""

from __future__ import annotations


class GateApiError(Exception):
    """Raised by the engine and the REST layer; rendered verbatim as Gate would render it."""

    def __init__(self, status: int, label: str, message: str) -> None:
        super().__init__(f"{status} {label}: {message}")
        self.status = status
        self.label = label
        self.message = message

    def body(self) -> dict[str, str]:
        return {"label": self.label, "message": self.message}


def bad_param(message: str) -> GateApiError:
    return GateApiError(400, "INVALID_PARAM_VALUE", message)
