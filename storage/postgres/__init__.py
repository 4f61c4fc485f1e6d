"""mopsgate's state in PostgreSQL, for several replicas behind a load balancer (#12).

The same ports as ``storage/sqlite``, with the same module names; what differs is how each
guarantee is made across processes that share nothing but the database: row locks and
conditional updates instead of SQLite's single write lock (see each module). psycopg 3 with an
asyncio connection pool: no thread hops, and a connection that died with the server is
replaced on the next checkout, so replicas recover by themselves when the database returns.
"""
