"""The one error lstmkit.data raises for a data file it cannot find, fetch or read.

Its message is one paragraph that names the file, the address it comes from and where to put
it by hand; the `lstmkit` command prints it without a traceback.
"""

from __future__ import annotations

from lstmkit.errors import LstmkitError


class DataError(LstmkitError):
    """A data file is missing, cannot be downloaded, or is corrupt; the message says what to do."""
