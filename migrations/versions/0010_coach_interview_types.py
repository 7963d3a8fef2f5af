"""coach interview types: which coach runs which type, explicit (no longer read from expertise tags)

A coach runs every active type (``coach_booking_settings.runs_all_types``, true by default, also
for a coach without a settings row) unless staff narrow them to the rows of
``coach_interview_type``.

Backfill: nobody bookable before becomes unbookable, and nobody is offered a type they were not
offered before. A coach whose expertise met every type's tags (or whose types had none) runs every
type; any other coach is narrowed to exactly the types their expertise allowed, which may be none
(the staff dashboard then warns about them).

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _tags(text):
    return {t.strip().lower() for t in (text or '').split(',') if t.strip()}


def upgrade():
    op.create_table('coach_interview_type',
    sa.Column('coach_id', sa.Integer(), nullable=False),
    sa.Column('interview_type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_coach_interview_type_coach_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['interview_type_id'], ['interview_type.id'], name=op.f('fk_coach_interview_type_interview_type_id_interview_type'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('coach_id', 'interview_type_id', name=op.f('pk_coach_interview_type'))
    )
    with op.batch_alter_table('coach_interview_type', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coach_interview_type_interview_type_id'), ['interview_type_id'], unique=False)
    with op.batch_alter_table('coach_booking_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('runs_all_types', sa.Boolean(), server_default=sa.true(), nullable=False))

    # The backfill: what each coach's expertise allowed until now (availability.qualified).
    bind = op.get_bind()
    user = sa.table('user', sa.column('id', sa.Integer), sa.column('role', sa.String), sa.column('expertise', sa.JSON))
    itype = sa.table('interview_type', sa.column('id', sa.Integer), sa.column('expertise', sa.String))
    settings = sa.table('coach_booking_settings', sa.column('coach_id', sa.Integer), sa.column('runs_all_types', sa.Boolean))
    link = sa.table('coach_interview_type', sa.column('coach_id', sa.Integer), sa.column('interview_type_id', sa.Integer))
    types = [(type_id, _tags(tags)) for type_id, tags in bind.execute(sa.select(itype.c.id, itype.c.expertise))]
    have_settings = set(bind.scalars(sa.select(settings.c.coach_id)))
    coaches = bind.execute(sa.select(user.c.id, user.c.expertise).where(user.c.role == 'coach').order_by(user.c.id))
    for coach_id, expertise in coaches:
        mine = {str(t).strip().lower() for t in (expertise or [])}
        allowed = [type_id for type_id, tags in types if not tags or tags & mine]
        if len(allowed) == len(types):
            continue  # runs every type, as the default says
        if coach_id in have_settings:
            bind.execute(settings.update().where(settings.c.coach_id == coach_id).values(runs_all_types=False))
        else:
            bind.execute(settings.insert().values(coach_id=coach_id, runs_all_types=False))
        if allowed:
            bind.execute(link.insert(), [{'coach_id': coach_id, 'interview_type_id': t} for t in allowed])


def downgrade():
    with op.batch_alter_table('coach_booking_settings', schema=None) as batch_op:
        batch_op.drop_column('runs_all_types')
    with op.batch_alter_table('coach_interview_type', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coach_interview_type_interview_type_id'))
    op.drop_table('coach_interview_type')
