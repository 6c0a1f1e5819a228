"""User-facing errors: a field path, what is wrong with it, and how to fix it."""

from pydantic import ValidationError


class FieldProblem(ValueError):
    """A field path, what is wrong with it, and how to fix it.

    Messages must never carry secret bytes: name the field, never echo its value
    unless the value is part of the user's (non-secret) spec.
    """

    # What the field path is relative to, e.g. "kubeconfig "; empty for XR and input.
    subject = ""

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        # "spec.x (5) must ..." reads as one sentence; anything else gets a colon.
        sep = " " if self.problem.startswith("(") else ": "
        text = f"{self.subject}{self.field}{sep}{self.problem}"
        return f"{text}. {self.fix.rstrip('.')}" if self.fix else text


class InvalidSpec(ValueError):
    """Bad user input; fn.py turns it into exactly one Fatal result."""


class FieldError(FieldProblem, InvalidSpec):
    """A bad XR spec or input field, raised once where it is found."""


class FieldErrors(InvalidSpec):
    """Several field errors reported together as one Fatal result."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(str(e) for e in self.errors)


def from_validation_error(exc: ValidationError, prefix: str) -> FieldErrors:
    """Turn pydantic's errors into field-named errors under prefix (spec or input).

    Values are echoed only for short scalars: the XR spec and input carry no
    secrets, and long values would only bury the field name.
    """
    errors = []
    for err in exc.errors(include_url=False):
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, FieldError):
            errors.append(cause)
            continue
        path = prefix + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"]
        )
        value = err.get("input")
        shown = (
            f" (got {value!r})"
            if isinstance(value, str | int | float | bool)
            and len(repr(value)) <= 40
            and err["type"] != "missing"
            else ""
        )
        errors.append(
            FieldError(path, f"{err['msg'].rstrip('.')}{shown}", _FIXES.get(err["type"], ""))
        )
    return FieldErrors(errors)


_FIXES = {
    "missing": "Set it.",
    "extra_forbidden": "Remove it or check its spelling.",
    "enum": "Use one of the listed values.",
    "literal_error": "Use one of the listed values.",
    "string_type": 'Quote the value in YAML, e.g. "1.33".',
    "int_type": "Use a whole number.",
    "int_from_float": "Use a whole number.",
    "string_pattern_mismatch": "Match the pattern shown.",
}
