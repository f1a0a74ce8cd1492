"""lstm-se: config-driven LSTM speech enhancement for microcontrollers."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) hides our own messages; keep warnings
# and errors. `debug: true` in the config, or TF_CPP_MIN_LOG_LEVEL set by the user, brings it back.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


class LstmSeError(Exception):
    """Base of every error this package raises on bad input or a failed stage; the CLI turns
    one into a logged message and a non-zero exit status instead of a traceback."""


def new_file_mode() -> int:
    """The mode a new file gets under the user's umask (0666 & ~umask). Files written under a
    temporary name (mkstemp: 0600) are set to it before the rename, like any other tool's."""
    mask = os.umask(0)  # the only way to read the umask; set straight back
    os.umask(mask)
    return 0o666 & ~mask
