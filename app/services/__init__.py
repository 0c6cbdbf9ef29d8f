"""The domain: plain Python over the models. No Flask request, no Socket.IO, no Playwright here."""


class DomainError(Exception):
    """A refused action or invalid input. `message` is user-facing (already translated, pt_BR by
    default); `status` is the HTTP status a shell should answer with; `field`, when the refusal is
    about one input field (its key in the service's data), lets a form show it under that field."""

    status = 400

    def __init__(self, message, status: int | None = None, field: str | None = None):
        super().__init__(str(message))
        self.message = str(message)
        self.field = field
        if status is not None:
            self.status = status


class FieldErrors(DomainError):
    """Several input fields refused at once (app.services.inputs.Refusals), so that a form shows
    every field's error in one submit. `errors` are the DomainErrors, each with its `field`;
    `message` is all of them, one after the other (what the API answers as its message)."""

    status = 422

    def __init__(self, errors: list):
        super().__init__(" ".join(error.message for error in errors))
        self.errors = list(errors)

    @property
    def fields(self) -> dict:
        """{field: message} (a field refused twice: both messages)."""
        result = {}
        for error in self.errors:
            key = error.field or ""
            result[key] = f"{result[key]} {error.message}" if key in result else error.message
        return result


class NotFound(DomainError):
    """The object does not exist, or the caller may not know it exists (never 403 for those)."""

    status = 404


class Forbidden(DomainError):
    """The caller sees the object but may not do this to it."""

    status = 403
