"""Extension hooks that unwind when one of them refuses.

strawberry enters the hooks of one stage (operation, parsing, validation, execution) in a
loop; when a hook raises on entry (a refused persisted query, say), the hooks entered
before it are never exited: their generators stay suspended until garbage collection
closes them, much later, with GeneratorExit. The operation log then wrote a late line with
a made-up INTERNAL_SERVER_ERROR. Here a failed entry exits the hooks already entered with
the refusal itself, as a `with` block would.
"""

from __future__ import annotations

from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner


class _Unwinding(ExtensionContextManagerBase):
    async def __aenter__(self) -> None:
        try:
            await super().__aenter__()
        except BaseException as exc:
            # the hooks entered so far see the refusal (and may not swallow it)
            await self.async_exit_stack.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    def __enter__(self) -> None:
        try:
            super().__enter__()
        except BaseException as exc:
            self.exit_stack.__exit__(type(exc), exc, exc.__traceback__)
            raise


class _Operation(_Unwinding, OperationContextManager):
    pass


class _Parsing(_Unwinding, ParsingContextManager):
    pass


class _Validation(_Unwinding, ValidationContextManager):
    pass


class _Executing(_Unwinding, ExecutingContextManager):
    pass


class UnwindingRunner(SchemaExtensionsRunner):
    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
