"""The schema stays ready for Citus (docs/deployment.md "Beyond one PostgreSQL").

The path: ``sta_observations`` becomes a distributed table, sharded by its stream (Datastream or
MultiDatastream), and the registry tables it points to become reference tables (a copy on every
worker). Citus allows a foreign key from a distributed table to a reference table, never from a
reference table to a distributed one, and a unique index on a distributed table only if it
contains the distribution column. So:

* every foreign key of ``sta_observations``, and every foreign key of the tables those reach,
  points into the registry (future reference tables), never back to ``sta_observations``;
* no table has a foreign key to ``sta_observations`` (it would have to be co-located);
* ``sta_observations`` has no unique index or constraint but its primary key, which is the
  sequence-made id (plus the partition key on PostgreSQL): in Citus it gains the distribution
  column and stays unique per shard, as ids from one sequence are unique anyway.

Checked in the live catalogue of each database (what the migrations made), not in the models.
"""

from __future__ import annotations

from sqlalchemy import inspect

OBSERVATIONS = "sta_observations"
#: Tables sharded with the Observations (co-located): none today.
CO_LOCATED: set[str] = set()


def _fks(insp, table: str) -> list[dict]:
    return insp.get_foreign_keys(table)


def test_observations_point_only_at_future_reference_tables(db):
    with db.engine.connect() as conn:
        insp = inspect(conn)
        reference, todo = set(), [fk["referred_table"] for fk in _fks(insp, OBSERVATIONS)]
        assert set(todo) == {"sta_datastreams", "sta_multi_datastreams", "sta_features_of_interest"}
        while todo:  # everything the Observations reach, directly or through the registry
            table = todo.pop()
            if table in reference:
                continue
            reference.add(table)
            todo.extend(fk["referred_table"] for fk in _fks(insp, table))
        assert OBSERVATIONS not in reference, "a reference table would point at the distributed table"
        assert not reference & CO_LOCATED
        pointing = [t for t in insp.get_table_names() if t != OBSERVATIONS and not t.startswith("sta_observations_")
                    and any(fk["referred_table"] == OBSERVATIONS for fk in _fks(insp, t))]
        assert pointing == [], f"tables with a foreign key to {OBSERVATIONS}: {pointing}"


def test_observations_need_no_cross_shard_unique_index(db):
    with db.engine.connect() as conn:
        insp = inspect(conn)
        pk = set(insp.get_pk_constraint(OBSERVATIONS)["constrained_columns"])
        assert "id" in pk and pk <= {"id", "phenomenon_time_start"}
        assert insp.get_unique_constraints(OBSERVATIONS) == []
        unique = [i["name"] for i in insp.get_indexes(OBSERVATIONS) if i.get("unique")]
        assert unique == [], f"unique indexes on {OBSERVATIONS} (would need the distribution column): {unique}"
