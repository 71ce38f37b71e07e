"""Every error teleforge raises on purpose. Each message says what happened and what to do next."""

from __future__ import annotations


class TeleforgeError(Exception):
    """Base class: catch this to handle any teleforge failure."""


# --- dataset -----------------------------------------------------------------
class DatasetError(TeleforgeError):
    """A dataset folder is missing, malformed or incompatible."""


class DatasetNotFoundError(DatasetError):
    """The folder has no teleforge.json."""


class FormatVersionError(DatasetError):
    """The dataset was written by an incompatible (newer major) format version."""


class CorruptShardError(DatasetError):
    """An episode shard cannot be read (truncated, garbage, wrong schema)."""


class CatalogError(DatasetError):
    """catalog.parquet is damaged or malformed; `teleforge recover` rebuilds it from the shards."""


class EpisodeNotFoundError(DatasetError):
    """An episode id or index that the dataset does not hold."""


class DiskFullError(DatasetError):
    """The disk filled up while recording; what was written so far is kept."""


class RecorderError(TeleforgeError):
    """The recording pipeline failed (writer thread died, queue closed)."""


# --- robots ------------------------------------------------------------------
class RobotError(TeleforgeError):
    """The arm (sim, remote or real) refused or failed a request."""


class RobotNotConnectedError(RobotError):
    """observe/act called before connect() or after disconnect()."""


class UnknownTaskError(RobotError):
    """A task name the workcell does not define."""


class RemoteRobotError(RobotError):
    """The robot server is unreachable, refused the request, or answered something unreadable."""


class ProtocolVersionError(RemoteRobotError):
    """Client and robot server speak different protocol versions; upgrade the older side."""


class AuthError(RemoteRobotError):
    """The robot server rejected the token; pass the one it was started with."""


class RobotBusyError(RemoteRobotError):
    """The robot server is already driven by another client."""


class CameraError(TeleforgeError):
    """A camera could not be opened or stopped delivering frames."""


# --- teleop ------------------------------------------------------------------
class DeviceError(TeleforgeError):
    """An input device failed."""


class DeviceNotFoundError(DeviceError):
    """The requested input device is not connected."""


class DevicePermissionError(DeviceError):
    """The device is present but cannot be opened (udev rules / permissions)."""


class DeviceDisconnectedError(DeviceError):
    """The device vanished mid-session (unplugged)."""


class SafetyError(TeleforgeError):
    """The safety guard refused a configuration."""


# --- UI and media ------------------------------------------------------------
class WindowError(TeleforgeError):
    """The operator window could not be opened (no display, no video driver)."""


class VideoError(TeleforgeError):
    """A video or image could not be written (unknown format, bad frames, no encoder)."""


# --- convert -----------------------------------------------------------------
class ExportError(TeleforgeError):
    """An export could not be written or read back (bad options, existing output, mismatch)."""


class CorruptRecordError(ExportError):
    """A TFRecord file is truncated or fails its CRC check; the message names the file and record."""


class ImportFormatError(ExportError):
    """A file to import is corrupt or holds keys teleforge cannot map; the message names the file, record and keys."""


class HubError(TeleforgeError):
    """Pushing to the Hugging Face Hub failed (no token, refused, unreachable); the message says what to check."""


# --- curation ----------------------------------------------------------------
class CurationError(TeleforgeError):
    """A curation step could not run (metrics missing, bad view, incompatible datasets)."""


class RuleError(CurationError):
    """A curation rule or rules file is malformed or names an unknown metric."""


class ViewError(CurationError):
    """A view is malformed, missing, or names episodes the dataset does not hold."""


# --- convert (continued) ---------------------------------------------------------
class PartialExportError(ExportError):
    """An interrupted export left a half-written output; the message says how to resume or replace it."""


# --- evaluation / handoff ----------------------------------------------------------
class EvalError(TeleforgeError):
    """A closed-loop evaluation could not run (bad settings, a policy returning malformed actions)."""


class PolicyMismatchError(EvalError):
    """A policy or checkpoint does not fit the evaluation: action space, cameras, image size, rate or task."""


class HandoffError(TeleforgeError):
    """A handoff bundle for another trainer could not be written (unknown target, existing output, bad view)."""


# --- train_adapter -------------------------------------------------------------
class TrainError(TeleforgeError):
    """Training or running the bundled VLA failed (bad config, data or checkpoint)."""


class TrainDependencyError(TrainError):
    """torch (the `train` extra) is not installed: `pip install 'teleforge[train]'`."""


class CheckpointError(TrainError):
    """A checkpoint is missing, corrupt, or was trained for something else."""


class MissingEpisodesError(ExportError, EpisodeNotFoundError):
    """An export's selection or view names episodes the dataset does not hold; the message names them."""
