"""An existing database is upgraded in place: new tables and new columns."""

from __future__ import annotations

from sqlalchemy import inspect, text

from bot import db, rulebase


def test_a_database_from_before_a_new_column_is_upgraded(database_url):
    eng = db.engine_for(database_url)
    db.upgrade(database_url)
    with eng.begin() as conn:  # as the table was before `follow_up` existed
        conn.execute(text("DROP TABLE topic_clauses"))
        conn.execute(text("DROP TABLE topics"))
        conn.execute(
            text(
                "CREATE TABLE topics (id VARCHAR(64) PRIMARY KEY, intent VARCHAR(96) NOT NULL"
                " UNIQUE, verdict VARCHAR(32) NOT NULL, description TEXT NOT NULL,"
                " titles JSON NOT NULL, leads JSON NOT NULL, position INTEGER NOT NULL)"
            )
        )
    assert "follow_up" not in {c["name"] for c in inspect(eng).get_columns("topics")}

    db.upgrade(database_url)
    rulebase.load(database_url)

    assert "follow_up" in {c["name"] for c in inspect(eng).get_columns("topics")}
    assert "topic_clauses" in inspect(eng).get_table_names()
    assert rulebase.current(database_url).topics["licence"].follow_up == "check_licence"


def _schema(url: str) -> dict[str, list[tuple[str, str, bool]]]:
    insp = inspect(db.engine_for(url))
    return {
        table: [(c["name"], str(c["type"]), bool(c["nullable"])) for c in insp.get_columns(table)]
        for table in sorted(insp.get_table_names())
    }


def test_upgrading_twice_changes_nothing(database_url):
    db.upgrade(database_url)
    before = _schema(database_url)
    with db.session_scope(database_url) as session:
        meta_before = {m.key: m.value for m in session.query(db.Meta)}
    db.upgrade(database_url)
    with db.session_scope(database_url) as session:
        meta_after = {m.key: m.value for m in session.query(db.Meta)}
    assert set(before) == {t.name for t in db.Base.metadata.sorted_tables}
    assert _schema(database_url) == before
    assert meta_after == meta_before == {"schema_version": db.SCHEMA_VERSION}
