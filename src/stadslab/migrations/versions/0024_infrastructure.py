"""Digital infrastructure: gateway receptions of LoRaWAN uplinks, the infrastructure register,
coverage cells, neighbourhoods and the investment agenda (docs/infrastructure.md)

Revision ID: 0024
Revises: 0023

New tables only (``lorawan_gateways``, ``lorawan_receptions``, ``infra_*``); nothing existing
changes, so up and down are plain CREATE/DROP on both dialects.
"""
from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('infra_coverage_cells',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cell', sa.String(length=16), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=True),
    sa.Column('receptions', sa.Integer(), nullable=False),
    sa.Column('gateways', sa.Integer(), nullable=False),
    sa.Column('best_rssi', sa.Float(), nullable=False),
    sa.Column('median_rssi', sa.Float(), nullable=False),
    sa.Column('best_snr', sa.Float(), nullable=True),
    sa.Column('median_snr', sa.Float(), nullable=True),
    sa.Column('first_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_infra_coverage_cells')),
    sa.UniqueConstraint('cell', 'period', name=op.f('uq_infra_coverage_cells_cell'))
    )
    with op.batch_alter_table('infra_coverage_cells', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_infra_coverage_cells_municipality_code'), ['municipality_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_coverage_cells_period'), ['period'], unique=False)

    op.create_table('infra_coverage_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_reception_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_infra_coverage_state'))
    )
    op.create_table('lorawan_gateways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('gateway_id', sa.String(length=100), nullable=False),
    sa.Column('eui', sa.String(length=16), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=False),
    sa.Column('uplinks_heard', sa.Integer(), nullable=False),
    sa.Column('messages_heard', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lorawan_gateways')),
    sa.UniqueConstraint('key', name=op.f('uq_lorawan_gateways_key'))
    )
    with op.batch_alter_table('lorawan_gateways', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lorawan_gateways_eui'), ['eui'], unique=False)

    op.create_table('infra_neighbourhoods',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('average_income', sa.Float(), nullable=True),
    sa.Column('outline', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], name=op.f('fk_infra_neighbourhoods_municipality_code_municipalities')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_infra_neighbourhoods'))
    )
    with op.batch_alter_table('infra_neighbourhoods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_infra_neighbourhoods_municipality_code'), ['municipality_code'], unique=False)

    op.create_table('infra_assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_organisation_id', sa.Integer(), nullable=True),
    sa.Column('operator_organisation_id', sa.Integer(), nullable=True),
    sa.Column('openness', sa.String(length=12), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('geometry', sa.JSON(), nullable=True),
    sa.Column('municipality_code', sa.String(length=6), nullable=True),
    sa.Column('gateway_ref', sa.Integer(), nullable=True),
    sa.Column('observed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['gateway_ref'], ['lorawan_gateways.id'], name=op.f('fk_infra_assets_gateway_ref_lorawan_gateways'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], name=op.f('fk_infra_assets_municipality_code_municipalities')),
    sa.ForeignKeyConstraint(['operator_organisation_id'], ['organisations.id'], name=op.f('fk_infra_assets_operator_organisation_id_organisations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_organisation_id'], ['organisations.id'], name=op.f('fk_infra_assets_owner_organisation_id_organisations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_infra_assets')),
    sa.UniqueConstraint('gateway_ref', name=op.f('uq_infra_assets_gateway_ref'))
    )
    with op.batch_alter_table('infra_assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_infra_assets_municipality_code'), ['municipality_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_assets_observed'), ['observed'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_assets_openness'), ['openness'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_assets_operator_organisation_id'), ['operator_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_assets_owner_organisation_id'), ['owner_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_assets_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_assets_type'), ['type'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_assets_updated_at'), ['updated_at'], unique=False)

    op.create_table('infra_investments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('technology', sa.String(length=20), nullable=False),
    sa.Column('phase', sa.String(length=12), nullable=False),
    sa.Column('cost_eur', sa.Float(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_organisation_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_organisation_id'], ['organisations.id'], name=op.f('fk_infra_investments_owner_organisation_id_organisations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_infra_investments'))
    )
    with op.batch_alter_table('infra_investments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_infra_investments_owner_organisation_id'), ['owner_organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_investments_phase'), ['phase'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_investments_technology'), ['technology'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_investments_updated_at'), ['updated_at'], unique=False)

    op.create_table('infra_asset_labs',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('living_lab_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['infra_assets.id'], name=op.f('fk_infra_asset_labs_asset_id_infra_assets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['living_lab_id'], ['living_labs.id'], name=op.f('fk_infra_asset_labs_living_lab_id_living_labs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'living_lab_id', name=op.f('pk_infra_asset_labs'))
    )
    op.create_table('infra_contributions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('investment_id', sa.Integer(), nullable=False),
    sa.Column('party_type', sa.String(length=10), nullable=False),
    sa.Column('party', sa.String(length=200), nullable=False),
    sa.Column('amount_eur', sa.Float(), nullable=False),
    sa.Column('committed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['investment_id'], ['infra_investments.id'], name=op.f('fk_infra_contributions_investment_id_infra_investments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_infra_contributions'))
    )
    with op.batch_alter_table('infra_contributions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_infra_contributions_investment_id'), ['investment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_infra_contributions_party_type'), ['party_type'], unique=False)

    op.create_table('infra_investment_assets',
    sa.Column('investment_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['infra_assets.id'], name=op.f('fk_infra_investment_assets_asset_id_infra_assets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['investment_id'], ['infra_investments.id'], name=op.f('fk_infra_investment_assets_investment_id_infra_investments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('investment_id', 'asset_id', name=op.f('pk_infra_investment_assets'))
    )
    op.create_table('infra_investment_municipalities',
    sa.Column('investment_id', sa.Integer(), nullable=False),
    sa.Column('municipality_code', sa.String(length=6), nullable=False),
    sa.ForeignKeyConstraint(['investment_id'], ['infra_investments.id'], name=op.f('fk_infra_investment_municipalities_investment_id_infra_investments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], name=op.f('fk_infra_investment_municipalities_municipality_code_municipalities')),
    sa.PrimaryKeyConstraint('investment_id', 'municipality_code', name=op.f('pk_infra_investment_municipalities'))
    )
    op.create_table('infra_investment_loket_requests',
    sa.Column('investment_id', sa.Integer(), nullable=False),
    sa.Column('loket_request_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['investment_id'], ['infra_investments.id'], name=op.f('fk_infra_investment_loket_requests_investment_id_infra_investments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['loket_request_id'], ['loket_requests.id'], name=op.f('fk_infra_investment_loket_requests_loket_request_id_loket_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('investment_id', 'loket_request_id', name=op.f('pk_infra_investment_loket_requests'))
    )
    op.create_table('lorawan_receptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('received_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('gateway_ref', sa.Integer(), nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rssi', sa.Float(), nullable=False),
    sa.Column('snr', sa.Float(), nullable=True),
    sa.Column('spreading_factor', sa.Integer(), nullable=True),
    sa.Column('device_latitude', sa.Float(), nullable=True),
    sa.Column('device_longitude', sa.Float(), nullable=True),
    sa.Column('cell', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['gateway_ref'], ['lorawan_gateways.id'], name=op.f('fk_lorawan_receptions_gateway_ref_lorawan_gateways'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['received_id'], ['lorawan_received.id'], name=op.f('fk_lorawan_receptions_received_id_lorawan_received'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lorawan_receptions'))
    )
    with op.batch_alter_table('lorawan_receptions', schema=None) as batch_op:
        batch_op.create_index('ix_lorawan_receptions_cell_time', ['cell', 'time'], unique=False)
        batch_op.create_index(batch_op.f('ix_lorawan_receptions_gateway_ref'), ['gateway_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_lorawan_receptions_received_id'), ['received_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('lorawan_receptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lorawan_receptions_received_id'))
        batch_op.drop_index(batch_op.f('ix_lorawan_receptions_gateway_ref'))
        batch_op.drop_index('ix_lorawan_receptions_cell_time')

    op.drop_table('lorawan_receptions')
    op.drop_table('infra_investment_loket_requests')
    op.drop_table('infra_investment_municipalities')
    op.drop_table('infra_investment_assets')
    with op.batch_alter_table('infra_contributions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_infra_contributions_party_type'))
        batch_op.drop_index(batch_op.f('ix_infra_contributions_investment_id'))

    op.drop_table('infra_contributions')
    op.drop_table('infra_asset_labs')
    with op.batch_alter_table('infra_investments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_infra_investments_updated_at'))
        batch_op.drop_index(batch_op.f('ix_infra_investments_technology'))
        batch_op.drop_index(batch_op.f('ix_infra_investments_phase'))
        batch_op.drop_index(batch_op.f('ix_infra_investments_owner_organisation_id'))

    op.drop_table('infra_investments')
    with op.batch_alter_table('infra_assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_infra_assets_updated_at'))
        batch_op.drop_index(batch_op.f('ix_infra_assets_type'))
        batch_op.drop_index(batch_op.f('ix_infra_assets_status'))
        batch_op.drop_index(batch_op.f('ix_infra_assets_owner_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_infra_assets_operator_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_infra_assets_openness'))
        batch_op.drop_index(batch_op.f('ix_infra_assets_observed'))
        batch_op.drop_index(batch_op.f('ix_infra_assets_municipality_code'))

    op.drop_table('infra_assets')
    with op.batch_alter_table('infra_neighbourhoods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_infra_neighbourhoods_municipality_code'))

    op.drop_table('infra_neighbourhoods')
    with op.batch_alter_table('lorawan_gateways', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lorawan_gateways_eui'))

    op.drop_table('lorawan_gateways')
    op.drop_table('infra_coverage_state')
    with op.batch_alter_table('infra_coverage_cells', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_infra_coverage_cells_period'))
        batch_op.drop_index(batch_op.f('ix_infra_coverage_cells_municipality_code'))

    op.drop_table('infra_coverage_cells')
