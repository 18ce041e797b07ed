"""Subcommands of `sparkdelay`; `sparkdelay.cli` finds every module here."""
