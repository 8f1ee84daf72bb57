"""What the datasets raise and warn: one-line messages naming the file or folder."""

__all__ = ["DatasetError", "DatasetNameError", "ShortFileWarning"]


class DatasetError(Exception):
    """A dataset that cannot be used (no tracks, a missing or unreadable file).

    The message is one line and names the folder or file concerned.
    """


class DatasetNameError(DatasetError, ValueError):
    """A name (dataset, target, augmentation) that does not exist.

    The message is one line and lists the names that exist. It is also a
    ``ValueError``, which is what such names raised before they were checked
    as dataset errors.
    """


class ShortFileWarning(UserWarning):
    """A file shorter than the training excerpt, which will be zero-padded."""
