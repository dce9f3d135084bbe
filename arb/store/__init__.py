"""Persistence: SQLAlchemy 2 models, the session factory and repository functions.

- ``models`` / ``types``: the schema; money is exact ``Decimal``, time is aware UTC.
- ``location``: ``resolve_url`` (``--db`` > ``$ARB_DB_URL`` > ``sqlite:///arb.db``), names only.
- ``db``: ``make_engine(url)``, ``make_session_factory(engine)``, ``check_db_url`` (a URL arb can connect
  through), read-only reader engines.
- ``migrate``: Alembic from code (``upgrade_to_head(url)``, ``downgrade``, ``current_revision``, ``check``).
- ``lease``: one engine per database (``acquire(url)``: PostgreSQL advisory lock, SQLite ``flock``).
- ``runs``: the one run lookup, the latest run, the clock a run's times are on.
- ``repo``: runs recorded (and how they ended), opportunities, balances; ``orders``: orders and their events;
  ``fills``: fills and fill conflicts; ``core_rows``: the one-row Core UPDATE their hot writes use beside the ORM.
- ``views``: the exact review numbers ``arb report`` shows (SQL twins in migration 0002); ``grouped``: the same
  per day, hour, symbol or route; ``balances``: a run's start and end balances.
"""
