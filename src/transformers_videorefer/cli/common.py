# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""What the `videorefer` sub-commands share."""

import sys


def fail(message: str) -> int:
    """Report a user error on stderr; returns the exit status 2."""
    sys.stderr.write(message.rstrip() + "\n")
    return 2
