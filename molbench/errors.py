"""The errors molbench raises on purpose. The CLI prints them as one line and exits with 2."""


class MolbenchError(Exception):
    """Base class: a problem the user can act on (bad input, missing data, tampered files)."""


class ParameterError(MolbenchError):
    """A builder or command parameter is out of range or of the wrong type."""


class DatasetNotFoundError(MolbenchError):
    """A path or dataset name that does not hold a complete molbench build."""


class IntegrityError(MolbenchError):
    """A built file no longer matches the sha256 recorded in its manifest."""


class BuildConflictError(MolbenchError):
    """The target version already exists, built with different parameters."""


class BuildError(MolbenchError):
    """A build produced data that fails its own checks; nothing was written."""


class PredictionFormatError(MolbenchError):
    """A predictions file that cannot be scored: wrong ids, types, ranges or columns."""


class ModelFormatError(MolbenchError):
    """A model directory that is incomplete, inconsistent or names an unknown architecture."""


class SourceNotFoundError(MolbenchError):
    """A raw source file is neither in --source / $MOLBENCH_RAW_DIR nor downloadable."""


class ChecksumError(MolbenchError):
    """A raw file whose sha256 (or git blob id) differs from the pinned one."""


class DownloadError(MolbenchError):
    """A download failed: server unreachable, HTTP error, or a truncated transfer."""


class SourceFormatError(MolbenchError):
    """A raw file that cannot be read as the format its source declares."""


class ComparisonError(MolbenchError):
    """Two results that cannot be compared row by row (other rows, or no per-row values)."""
