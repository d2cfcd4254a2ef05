"""SQLFluff's stand-in for dbt's `adapter` in the jinja templater (.sqlfluff): `adapter.dispatch(name)`
renders a call of a function named after the macro, valid SQL of the same shape for the linter to parse."""


def dispatch(macro_name, macro_namespace=None):
    def render(*args, **kwargs):
        return f"{macro_name}({', '.join(str(a) for a in [*args, *kwargs.values()])})"

    return render


def escape_sql_string(value):
    return str(value).replace("'", "''")
