"""Project names unique per installation, by a unique index.

Installations from before this revision may hold several projects of one name (names were kept
apart only by a check in `projects.service.create`). Each such group keeps its name on its
oldest project (by `created_at`, then id); the others get the first free name of the form
`name (2)`, `name (3)`, … in the same order, so that running this on two copies of a database
renames the same projects the same way. The table is locked meanwhile, so that no project is
created between the renaming and the index.

The downgrade drops the index; the renamed projects keep their new names (they are as good as
any, and nothing records which ones were renamed).

Revision ID: 0017_project_names_unique
Revises: 0016_redemption_amounts
Create Date: 2026-11-30
"""

from alembic import op

revision = "0017_project_names_unique"
down_revision = "0016_redemption_amounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    LOCK TABLE projects IN SHARE ROW EXCLUSIVE MODE;

    DO $$
    DECLARE
        duplicate record;
        number integer;
    BEGIN
        FOR duplicate IN
            SELECT id, name FROM (
                SELECT id, name,
                       row_number() OVER (PARTITION BY name ORDER BY created_at, id) AS rank
                FROM projects
            ) ranked
            WHERE rank > 1
            ORDER BY name, rank
        LOOP
            number := 2;
            WHILE EXISTS (
                SELECT 1 FROM projects WHERE name = duplicate.name || ' (' || number || ')'
            ) LOOP
                number := number + 1;
            END LOOP;
            UPDATE projects SET name = duplicate.name || ' (' || number || ')'
            WHERE id = duplicate.id;
        END LOOP;
    END
    $$;

    CREATE UNIQUE INDEX projects_name_key ON projects (name);
    """)


def downgrade() -> None:
    op.execute("DROP INDEX projects_name_key")
