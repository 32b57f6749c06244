"""The order journal: an SQLite file that loses nothing that was acknowledged.

Every intent, order state change, fill, commission, error, connection event, user action and
stored value is written and committed before the call returns. The file is in WAL mode with
``synchronous=NORMAL``: a commit is a ``write()`` to the WAL, so it survives the process being
killed (SIGKILL, a crash); only an operating-system crash or power loss can lose the last
commits, and that trade is what keeps a write well under a millisecond. A background thread
with its own connection moves the WAL into the database (a PASSIVE checkpoint, which never
blocks the writer) so that writes rarely pay for that themselves.

Where each part lives:

- ``store.py``: :class:`Journal`, its writes and reads, and the journal's clock.
- ``schema.py``: opening a file (:class:`JournalError`, :func:`default_path`), the owner
  check (:data:`APPLICATION_ID`), the versioned schema (:data:`MIGRATIONS`,
  :data:`SCHEMA_VERSION`) and the background checkpointer.
- ``rows.py``: the column lists and statements of ``orders`` and ``fills``, the conversions
  between their rows and OrderSnapshot / FillSnapshot, and the JSON of free-form values.
- ``export.py``: the chronological CSV export (``Journal.export_csv``).

The names below are the package's interface; the modules' underscored names are private to
the package. :data:`MIGRATIONS` is read from here when a file is opened, so a step added here
is applied.

Only the thread that created a Journal may use it (sqlite3 checks).
"""

from ibdesk.trading.journal.export import Cells, ExportRow
from ibdesk.trading.journal.schema import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    JournalError,
    default_path,
)
from ibdesk.trading.journal.store import INTENT_KINDS, Journal

__all__ = [
    "APPLICATION_ID",
    "INTENT_KINDS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Cells",
    "ExportRow",
    "Journal",
    "JournalError",
    "default_path",
]
