"""Subcommands of `sparkdelay`; `sparkdelay.app.cli` finds every module here."""
