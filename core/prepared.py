"""Statements on hot paths, compiled once per database instead of once per call.

Django compiles a queryset to SQL every time it runs it: resolving lookups and joins,
collecting columns, quoting names. For a ``select_related`` read of a few tables that costs
0.5–1.5 ms of CPU, several times what the database spends answering it; an INSERT of a
model with twenty fields, about half a millisecond. ``PreparedQuery`` builds a read with the
ORM once per database alias, keeps the SQL, the converters and the row-to-model mapping,
and afterwards only executes the SQL and builds the instances as the ORM itself would
(``select_related`` objects and annotations included). ``PreparedInsert`` does the same for
the INSERT of a new instance, and lets its values be computed ahead of the statement.

Used where it pays: the API token read on every request, the signing path
(bench/RESULTS.md, "Signing (issue 2)", has the figures) and the audit log.
"""

from collections.abc import Callable

from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import get_related_populators


class _Compiled:
    __slots__ = (
        "sql",
        "params",
        "slots",
        "converters",
        "model",
        "start",
        "end",
        "attnames",
        "populators",
        "annotations",
    )


class PreparedQuery:
    """A model read whose SQL is compiled once per database alias.

    ``build(**values)`` returns the queryset; each name in ``values`` must reach the SQL as
    exactly one parameter, unchanged (an exact lookup: ``filter(key=key)``), which is checked
    when the query is compiled. ``first(**values)`` returns the first instance or ``None``.

        token_read = PreparedQuery(
            lambda key: Token.objects.select_related("user").filter(key=key), "key"
        )
        token = token_read.first(key=header_value)
    """

    def __init__(self, build: Callable[..., QuerySet], *names: str):
        self.build = build
        self.names = names
        self._model = None
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _markers(self) -> dict[str, str]:
        return {name: f"\x00prepared:{name}\x00" for name in self.names}

    def _compile(self, alias: str) -> _Compiled:
        markers = self._markers()
        queryset = self.build(**markers)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = [
            (index, name)
            for index, param in enumerate(params)
            for name, marker in markers.items()
            if isinstance(param, str) and param == marker
        ]
        found = sorted(name for _index, name in slots)
        if found != sorted(self.names):
            raise ValueError(
                f"each of {sorted(self.names)} must reach the SQL once as a plain parameter, "
                f"found {found}"
            )
        if compiler.klass_info is None:
            raise ValueError("a prepared query returns model instances, not values()")
        compiled = _Compiled()
        compiled.sql = sql
        compiled.params = tuple(params)
        compiled.slots = tuple(slots)
        select, klass_info = compiler.select, compiler.klass_info
        compiled.converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(
                [s[0] for s in select[: compiler.col_count]]
            ).items()
        )
        compiled.model = klass_info["model"]
        select_fields = klass_info["select_fields"]
        compiled.start, compiled.end = select_fields[0], select_fields[-1] + 1
        compiled.attnames = [s[0].target.attname for s in select[compiled.start : compiled.end]]
        compiled.populators = get_related_populators(klass_info, select, alias)
        compiled.annotations = tuple((compiler.annotation_col_map or {}).items())
        return compiled

    def first(self, using: str | None = None, **values):
        """The first row as a model instance (related objects and annotations set), or None.

        ``using`` defaults to the router's database for reading the model, as the ORM's."""
        if using is None:
            if self._model is None:
                self._model = self.build(**self._markers()).model
            using = router.db_for_read(self._model)
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
        params = list(compiled.params)
        for index, name in compiled.slots:
            params[index] = values[name]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            row = list(row)
            for position, functions, expression in compiled.converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
        instance = compiled.model.from_db(
            using, compiled.attnames, row[compiled.start : compiled.end]
        )
        for populator in compiled.populators:
            populator.populate(row, instance)
        for name, position in compiled.annotations:
            setattr(instance, name, row[position])
        return instance


class PreparedInsert:
    """The INSERT of new ``model`` instances, its SQL compiled once per database alias.

    ``Model.save()`` compiles its INSERT each time it runs, and computes every value then.
    ``bind(instance)`` does the value work at once (pre-save hooks, conversion to database
    values) and ``execute()`` later only sends the statement: for a row that must be written
    under a lock (a pledge, under its year's number counter) the work moves out of the
    locked section, and the compiling is gone altogether. Fields changed between the two
    are named to ``execute``. Same statement and signals as ``save()``, for new instances with
    plain values (no expressions) of models without parents (no multi-table inheritance); on
    a database that cannot return the new key from the INSERT, ``execute`` calls ``save()``.
    """

    def __init__(self, model):
        if model._meta.parents:
            raise ValueError("PreparedInsert does not handle multi-table inheritance")
        self.model = model
        self._compiled: dict[tuple[str, str], tuple] = {}

    def _compile(self, alias: str):
        from django.db.models.sql import InsertQuery

        meta = self.model._meta
        connection = connections[alias]
        fields = [
            field
            for field in meta.local_concrete_fields
            if not field.generated and field is not meta.auto_field
        ]
        returning = list(meta.db_returning_fields)
        query = InsertQuery(self.model)
        query.insert_values(fields, [self.model()])
        compiler = query.get_compiler(using=alias)
        compiler.returning_fields = returning
        [(sql, _params)] = compiler.as_sql()
        plain = f"VALUES ({', '.join(['%s'] * len(fields))})"
        if plain not in sql or not connection.features.can_return_columns_from_insert:
            return None  # a field with its own placeholder, or no RETURNING: use save()
        converters = tuple(
            compiler.get_converters([field.get_col(meta.db_table) for field in returning]).items()
        )
        return sql, fields, returning, tuple(compiler.returning_params), converters

    def bind(self, instance, *, using: str | None = None) -> "BoundInsert":
        """Compute ``instance``'s values now, as ``save()`` would; ``execute()`` inserts it."""
        using = using or router.db_for_write(self.model, instance=instance)
        connection = connections[using]
        key = (using, connection.vendor)
        if key not in self._compiled:
            self._compiled[key] = self._compile(using)
        return BoundInsert(instance, using, self._compiled[key])


class BoundInsert:
    """One instance's INSERT with its values computed (see ``PreparedInsert``)."""

    def __init__(self, instance, using, compiled):
        from django.db.models.signals import pre_save

        self.instance, self.using, self.compiled = instance, using, compiled
        self.params = None
        if not instance._state.adding:
            raise ValueError("a prepared insert is for new instances")
        if compiled is None:
            return
        auto_field = type(instance)._meta.auto_field
        if auto_field is not None and getattr(instance, auto_field.attname) is not None:
            raise ValueError("a prepared insert lets the database choose the primary key")
        instance._prepare_related_fields_for_save(operation_name="save")
        pre_save.send(
            sender=type(instance), instance=instance, raw=False, using=using, update_fields=None
        )
        _sql, fields, _returning, _returning_params, _converters = compiled
        self.positions = {field.name: index for index, field in enumerate(fields)}
        self.params = [self._value(field) for field in fields]

    def _value(self, field):
        value = field.pre_save(self.instance, add=True)
        if hasattr(value, "resolve_expression"):
            raise ValueError(f"{field.name}: a prepared insert takes plain values, not {value!r}")
        return field.get_db_prep_save(value, connection=connections[self.using])

    def execute(self, *changed: str) -> None:
        """Insert the instance; ``changed`` names fields set on it since ``bind``."""
        from django.db.models.signals import post_save

        instance = self.instance
        if self.params is None:
            instance.save(using=self.using, force_insert=True)
            return
        sql, fields, returning, returning_params, converters = self.compiled
        for name in changed:
            index = self.positions[name]
            self.params[index] = self._value(fields[index])
        connection = connections[self.using]
        with connection.cursor() as cursor:
            cursor.execute(sql, self.params)
            [row] = connection.ops.fetch_returned_rows(cursor, returning_params)
        row = list(row)
        for position, (functions, expression) in converters:
            for function in functions:
                row[position] = function(row[position], expression, connection)
        for field, value in zip(returning, row, strict=True):
            setattr(instance, field.attname, value)
        instance._state.adding = False
        instance._state.db = self.using
        post_save.send(
            sender=type(instance),
            instance=instance,
            created=True,
            update_fields=None,
            raw=False,
            using=self.using,
        )
