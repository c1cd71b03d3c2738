"""On PostgreSQL the database itself refuses UPDATE and DELETE on the ledger and checkpoints.

The application refuses too (model and queryset); the trigger covers anything that goes around
it. TRUNCATE (test database flushes) is not a row change and stays possible for the owner.
"""

from django.db import migrations

TABLES = ("credit_ledgerentry", "credit_ledgercheckpoint", "credit_accesslog")

FUNCTION = """
CREATE OR REPLACE FUNCTION credit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION credit_refuse_change();"
        )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS credit_refuse_change();")


class Migration(migrations.Migration):
    dependencies = [("credit", "0001_initial")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
