"""Open-vocabulary backend: the real loading and inference code on a tiny random model.

The test builds a randomly initialised OWLv2 / OWL-ViT (a few thousand parameters) and a
character-level CLIP tokenizer, saves them with save_pretrained, and loads them back through
`make_detector` (from_pretrained, local files only, HF_HUB_OFFLINE=1). The random model's
boxes are meaningless; what is checked is the plumbing: tokenisation of the vocabulary, image
preprocessing, box decoding into image pixels, NMS, and lifting boxes to 3D objects on the
support plane with vocabulary labels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ['HF_HUB_OFFLINE'] = '1'
torch = pytest.importorskip('torch')
transformers = pytest.importorskip('transformers')
pytest.importorskip('open3d')

from humanoid_core.perception.classify import Vocabulary  # noqa: E402
from humanoid_core.perception.open_vocab import (  # noqa: E402
    OpenVocabDetector,
    OpenVocabError,
    make_detector,
)
from humanoid_core.perception.pipeline import ObjectDetector  # noqa: E402
from humanoid_core.perception.sim_frames import render_frame  # noqa: E402
from humanoid_core.sim.backend import MujocoBackend  # noqa: E402


def build_tiny_model(folder: Path, kind: str) -> Path:
    from transformers import CLIPTokenizer

    if kind == 'owlv2':
        from transformers import Owlv2Config as Config
        from transformers import Owlv2ForObjectDetection as Model
    else:
        from transformers import OwlViTConfig as Config
        from transformers import OwlViTForObjectDetection as Model
    text = dict(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, max_position_embeddings=16, bos_token_id=1,
                eos_token_id=2, pad_token_id=0)  # fmt: skip
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                  num_attention_heads=2, image_size=64, patch_size=16)  # fmt: skip
    torch.manual_seed(0)
    model = Model(Config(text_config=text, vision_config=vision, projection_dim=32)).eval()
    # OWL masks queries whose first token id is 0: the start token must not be id 0
    vocab = {'!': 0, '<|startoftext|>': 1, '<|endoftext|>': 2}
    for c in 'abcdefghijklmnopqrstuvwxyz':
        vocab[c] = len(vocab)
        vocab[c + '</w>'] = len(vocab)
    (folder / 'vocab.json').write_text(json.dumps(vocab))
    (folder / 'merges.txt').write_text('#version: 0.2\n')
    tok = CLIPTokenizer(str(folder / 'vocab.json'), str(folder / 'merges.txt'), pad_token='!',
                        model_max_length=16)  # fmt: skip
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope='module')
def frame():
    with MujocoBackend('lab') as sim:
        sim.step(200)
        return render_frame(sim)


@pytest.fixture(scope='module')
def vocab() -> Vocabulary:
    return Vocabulary.from_scene('lab')


@pytest.mark.parametrize('kind', ['owlv2', 'owlvit'])
def test_tiny_model_loads_and_detects(tmp_path, frame, vocab, kind) -> None:
    folder = build_tiny_model(tmp_path, kind)
    det = make_detector(kind, vocab, model_dir=folder, score_threshold=0.0)
    assert isinstance(det, OpenVocabDetector)
    assert det.queries == list(vocab.labels)
    boxes = det.detect_2d(frame.rgb)
    assert boxes, 'threshold 0 keeps at least the best box of some query'
    for (u0, v0, u1, v1), q, score in boxes:
        assert 0 <= u0 < u1 < 640 and 0 <= v0 < v1 < 480
        assert 0 <= q < len(vocab.entries) and 0.0 <= score <= 1.0
    result = det.detect(frame)
    assert result.plane is not None and abs(result.plane.z - 0.72) < 0.01
    labels = set(vocab.labels)
    for d in result.detections:
        assert d.label in labels
        # lifted onto the bench: centre above its top, within its footprint (+ margin)
        assert 0.715 < d.position[2] < 0.9
        assert 0.1 < d.position[0] < 0.8 and abs(d.position[1]) < 0.7


def test_lifting_a_box_around_an_object_gives_its_pose(tmp_path, frame, vocab) -> None:
    """The 3D lift on a known box: the classical detector's red-cube box."""
    det = make_detector('owlv2', vocab, model_dir=build_tiny_model(tmp_path, 'owlv2'))
    truth = {d.id: d for d in ObjectDetector(vocab).detect(frame).detections}['red_cube']
    u0, v0, u1, v1 = truth.bbox
    q = [e.id for e in vocab.entries].index('red_cube')
    det.detect_2d = lambda rgb: [((u0 - 4, v0 - 4, u1 + 4, v1 + 4), q, 0.9)]  # type: ignore
    [lifted] = det.detect(frame).detections
    assert lifted.id == 'red_cube' and lifted.confidence == pytest.approx(0.9)
    assert np.linalg.norm(np.subtract(lifted.position, truth.position)) < 0.005


def test_missing_model_folder_is_a_clear_error(tmp_path, vocab) -> None:
    with pytest.raises(OpenVocabError, match='model_dir'):
        make_detector('owlv2', vocab, model_dir=tmp_path / 'nowhere')
    with pytest.raises(ValueError, match='classical'):
        make_detector('yolo', vocab)
    assert isinstance(make_detector('classical', vocab), ObjectDetector)
