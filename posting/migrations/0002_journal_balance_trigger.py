from django.db import migrations

# Created unqualified, i.e. in the schema being migrated (each tenant schema has its own copy, which
# the provisioner replays from the template). The body names no schema: it reads the lines of the
# schema whose table fired it.
BALANCE_FUNCTION = """
CREATE FUNCTION posting_entry_balance_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    checked_entry bigint := COALESCE(NEW.entry_id, OLD.entry_id);
    difference numeric;
BEGIN
    -- The table's own schema, not search_path: deferred checks may run after the path changed.
    EXECUTE format(
        'SELECT COALESCE(SUM(debit), 0) - COALESCE(SUM(credit), 0) FROM %I.posting_journalline WHERE entry_id = $1',
        TG_TABLE_SCHEMA
    ) INTO difference USING checked_entry;
    IF difference <> 0 THEN
        RAISE EXCEPTION 'journal entry % does not balance: debits - credits = %', checked_entry, difference
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
"""

BALANCE_TRIGGER = """
CREATE CONSTRAINT TRIGGER posting_journalline_balance
AFTER INSERT OR UPDATE OR DELETE ON posting_journalline
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION posting_entry_balance_check();
"""


class Migration(migrations.Migration):
    dependencies = [("posting", "0001_initial")]

    operations = [
        migrations.RunSQL(BALANCE_FUNCTION, reverse_sql="DROP FUNCTION posting_entry_balance_check();"),
        migrations.RunSQL(BALANCE_TRIGGER, reverse_sql="DROP TRIGGER posting_journalline_balance ON posting_journalline;"),
    ]
