"""The one exception type that means "the user's input is wrong".

Anything raised as `UserError` reaches the user as a single line `sparkdelay: error: ...`
with exit status 2 (see `sparkdelay.app.cli`). The message must name the file and field (or
option) and say what is wrong; never raise it for a bug in sparkdelay itself.
"""


class UserError(Exception):
    """Bad input: printed as one line, exit status 2."""

    exit_code = 2
