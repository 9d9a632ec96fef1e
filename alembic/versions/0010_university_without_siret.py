"""university without siret: the AUMG manual signs a university in with its address and a
password only, so its SIRET becomes optional (a care structure keeps it required)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_organisations_structure_has_siret"


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(
            op.f(NAME), "type <> 'structure_soins' OR siret IS NOT NULL"
        )


def downgrade() -> None:
    # A university registered without SIRET cannot go back under the old rule: refuse
    # rather than invent a number.
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(
            op.f(NAME), "type NOT IN ('structure_soins', 'universite') OR siret IS NOT NULL"
        )
