"""Perception: RGB-D object detection (classical and open-vocabulary), camera pose from the
robot's kinematics, and the world model that tracks objects over time.

Heavy dependencies (open3d, torch/transformers) load only when a detector is made.
"""

from humanoid_core.perception.classify import ColorModel, Vocabulary, VocabularyEntry
from humanoid_core.perception.frame import FrameError, Intrinsics, RgbdFrame, validate_frame
from humanoid_core.perception.pipeline import (
    Detection,
    DetectionResult,
    DetectorConfig,
    ObjectDetector,
    annotate,
)
from humanoid_core.perception.tracker import HandState, TrackerConfig, WorldModel, in_camera_view

__all__ = [
    'ColorModel',
    'Detection',
    'DetectionResult',
    'DetectorConfig',
    'FrameError',
    'HandState',
    'Intrinsics',
    'ObjectDetector',
    'RgbdFrame',
    'TrackerConfig',
    'Vocabulary',
    'VocabularyEntry',
    'WorldModel',
    'annotate',
    'in_camera_view',
    'validate_frame',
]
