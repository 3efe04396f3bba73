"""The PostgreSQL benchmark behind ``station bench``, shipped in the package.

It lives here, not in the repository's ``benchmarks/`` folder, so that a
pip-installed station can measure the database it will run on. Nothing in
the station imports it except that command (lazily).
"""
