"""The one error of calibration: an input that cannot be used, said in one line."""


class CalibrationError(Exception):
    """Logs or exports that cannot be used; ``str()`` is one line naming the file and what was
    expected."""
