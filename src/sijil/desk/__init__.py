"""sijil.desk.

Importing any part of the desk keeps the search index current on every ORM
session of the process (sijil.desk.search_index): no write path can forget it.
"""

from sijil.desk.search_index import install as _install_search_index

_install_search_index()
