"""The audit log is append-only in the database too, not only in the model.

``AuditEvent.save``/``delete`` and its queryset already refuse changes; a trigger makes raw
SQL (or another client of the same database) fail the same way.

One update stays possible: setting ``actor_id`` to NULL and nothing else, which is what
deleting an account does to its events (``on_delete=SET_NULL``); the event keeps the actor's
username and unit, so "who" is still answered.

- PostgreSQL: a row trigger refuses UPDATE and DELETE. ``TRUNCATE`` is a table privilege:
  production grants the application role no TRUNCATE on ``core_auditevent`` (docs/security.md);
  the test suite empties tables with TRUNCATE between transactional tests, which still works.
- SQLite: a trigger refuses UPDATE. DELETE is left alone because Django's test flush empties
  tables with DELETE; the model and queryset refuse deletes.
"""

from django.db import migrations

# One statement per execute (a function body holds semicolons of its own).
PG_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION core_auditevent_refuse_change() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.actor_id IS NULL
           AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'core_auditevent is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent",
    """
    CREATE TRIGGER core_auditevent_append_only
        BEFORE UPDATE OR DELETE ON core_auditevent
        FOR EACH ROW EXECUTE FUNCTION core_auditevent_refuse_change()
    """,
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent",
    "DROP FUNCTION IF EXISTS core_auditevent_refuse_change()",
]
SQLITE_FORWARD = """
CREATE TRIGGER IF NOT EXISTS core_auditevent_no_update
BEFORE UPDATE ON core_auditevent
WHEN NOT (
    NEW.actor_id IS NULL
    AND NEW.id IS OLD.id
    AND NEW.occurred_at IS OLD.occurred_at
    AND NEW.actor_username IS OLD.actor_username
    AND NEW.actor_unit IS OLD.actor_unit
    AND NEW.action IS OLD.action
    AND NEW.object_type IS OLD.object_type
    AND NEW.object_id IS OLD.object_id
    AND NEW.person_hash IS OLD.person_hash
    AND NEW.data IS OLD.data
    AND NEW.ip IS OLD.ip
    AND NEW.user_agent IS OLD.user_agent
)
BEGIN
    SELECT RAISE(ABORT, 'core_auditevent is append-only: UPDATE refused');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS core_auditevent_no_update;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_FORWARD:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD, params=None)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_BACKWARD:
            schema_editor.execute(statement, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_outbox")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
