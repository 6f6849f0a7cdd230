"""Domain errors: expected refusals become `userErrors`; GraphQL errors carry a code."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError


class ErrorCode(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID = "INVALID"
    INVALID_STATE = "INVALID_STATE"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    INSUFFICIENT_QUANTITY = "INSUFFICIENT_QUANTITY"
    EXCEEDS_NEED = "EXCEEDS_NEED"
    FULL = "FULL"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    PASSWORD_CHANGE_REQUIRED = "PASSWORD_CHANGE_REQUIRED"  # noqa: S105 - an error code


@dataclass(frozen=True)
class UserError:
    message: str
    code: ErrorCode
    field: list[str] | None = None


class Refusal(Exception):
    """An expected failure of a mutation: the transaction is rolled back and the client
    gets the errors as `userErrors`."""

    def __init__(self, code: ErrorCode, message: str, field: list[str] | str | None = None) -> None:
        super().__init__(message)
        path = [field] if isinstance(field, str) else field
        self.errors = [UserError(message=message, code=code, field=path)]

    @classmethod
    def many(cls, errors: list[UserError]) -> Refusal:
        refusal = cls(errors[0].code, errors[0].message, errors[0].field)
        refusal.errors = list(errors)
        return refusal


def bad_user_input(message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", **extensions})


def unauthenticated() -> GraphQLError:
    return GraphQLError("Sign in first: this needs a valid bearer token", extensions={"code": "UNAUTHENTICATED"})


def forbidden(message: str = "You may not see or do this") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})
