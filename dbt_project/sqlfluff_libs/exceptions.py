"""SQLFluff's stand-in for dbt's `exceptions` in the jinja templater (.sqlfluff): a parse-time refusal
renders nothing, as when the checked input is valid."""


def raise_compiler_error(message):
    return ""


def warn(message):
    return ""
