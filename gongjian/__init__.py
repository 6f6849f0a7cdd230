"""Gongjian (共建): the Starlette app and the `gongjian` command."""
