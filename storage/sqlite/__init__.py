"""The SQLite backend: one file, WAL, ``synchronous=FULL``, one thread per connection."""
