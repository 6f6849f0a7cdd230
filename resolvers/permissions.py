"""Permission classes declared on fields (CONVENTIONS 5)."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission
from strawberry.types import Info


class SignedIn(BasePermission):
    """Anything but `login` and `viewer` needs a valid token."""

    message = "Sign in first: this needs a valid bearer token"
    error_extensions: ClassVar[dict[str, Any]] = {"code": "UNAUTHENTICATED"}  # type: ignore[misc]

    def has_permission(self, source: Any, info: Info[Any, Any], **kwargs: Any) -> bool:
        return info.context.viewer is not None
