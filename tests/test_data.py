"""edgefer.data: FER2013 CSV, image folders, .npy/.npz, stratified sampling, preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
from _convert_fixtures import class_mean, fer_image, write_fer_csv
from PIL import Image

from edgefer.data import InputSpec, load_data, random_inputs, select
from edgefer.errors import EdgeferError
from edgefer.zoo.registry import FER7_CLASSES

NAMES = list(FER7_CLASSES)
GRAY24 = InputSpec((24, 24), 1, "grayscale", (0.5,), (0.5,))


def test_preprocess_resizes_and_normalizes():
    flat = np.full((48, 48), 255, np.uint8)
    x = GRAY24.preprocess([flat, np.zeros((30, 40), np.uint8)])
    assert x.shape == (2, 1, 24, 24) and x.dtype == np.float32
    assert np.allclose(x[0], 1.0) and np.allclose(x[1], -1.0)  # (1 - .5)/.5, (0 - .5)/.5
    rgb = InputSpec((8, 8), 3, "rgb", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    y = rgb.preprocess([np.full((48, 48), 128, np.uint8)])  # gray image -> 3 equal channels
    assert y.shape == (1, 3, 8, 8)
    assert np.allclose(y[0, :, 0, 0], (128 / 255 - np.array(rgb.mean)) / np.array(rgb.std), atol=1e-6)


def test_spec_rejects_inconsistent_channels():
    with pytest.raises(EdgeferError, match="grayscale"):
        InputSpec((24, 24), 3, "grayscale", (0.5,), (0.5,))
    with pytest.raises(EdgeferError, match="--mean"):
        InputSpec((24, 24), 3, "rgb", (0.5, 0.5), (0.5,))


def test_fer2013_csv_splits_and_labels(tmp_path):
    p = tmp_path / "fer.csv"
    write_fer_csv(p, {"Training": 40, "PublicTest": 20})
    train = load_data(str(p), GRAY24, NAMES, default_split="Training")
    test = load_data(f"{p}:PublicTest", GRAY24, NAMES, default_split="Training")
    assert (len(train), len(test)) == (40, 20)
    x = train.take(np.arange(7))
    assert x.shape == (7, 1, 24, 24)
    # decoded pixels really are the rows' pixels: class k images have mean ~ class_mean(k)
    means = (x.mean(axis=(1, 2, 3)) * 0.5 + 0.5) * 255
    assert np.allclose(means, [class_mean(int(k)) for k in train.labels[:7]], atol=3)
    with pytest.raises(EdgeferError, match="PrivateTest.*splits in the file: PublicTest, Training"):
        load_data(f"{p}:PrivateTest", GRAY24, NAMES)


@pytest.mark.parametrize(
    "row, message",
    [
        (["9", "0 " * 2304, "Training"], "line 3: emotion '9'"),
        (["x", "0 " * 2304, "Training"], "line 3: emotion 'x'"),
        (["1", "0 " * 100, "Training"], "line 3: expected 2304 pixel values, got 100"),
    ],
)
def test_fer2013_bad_row_reports_line(tmp_path, row, message):
    p = tmp_path / "bad.csv"
    good = " ".join(["7"] * 2304)
    p.write_text(f"emotion,pixels,Usage\n0,{good},Training\n{','.join(r.strip() for r in row)}\n")
    with pytest.raises(EdgeferError, match=message):
        load_data(str(p), GRAY24, NAMES)


def test_fer2013_non_numeric_pixel_and_wrong_columns(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("emotion,pixels,Usage\n0," + " ".join(["a"] * 2304) + ",Training\n")
    ds = load_data(str(p), GRAY24, NAMES)
    with pytest.raises(EdgeferError, match="non-numeric pixel"):
        ds.take(np.arange(1))
    q = tmp_path / "other.csv"
    q.write_text("label,image\n0,1 2 3\n")
    with pytest.raises(EdgeferError, match="not a FER2013 CSV"):
        load_data(str(q), GRAY24, NAMES)


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name, y in (("happy", 3), ("Disgust", 1), ("6", 6)):  # names (any case) or indices
        (tmp_path / name).mkdir()
        for i in range(2):
            Image.fromarray(fer_image(y, rng)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "happy" / "notes.txt").write_text("ignored")
    ds = load_data(str(tmp_path), GRAY24, NAMES)
    assert sorted(ds.labels.tolist()) == [1, 1, 3, 3, 6, 6]
    x = ds.take(np.arange(len(ds)))
    means = (x.mean(axis=(1, 2, 3)) * 0.5 + 0.5) * 255
    assert np.allclose(means, [class_mean(int(k)) for k in ds.labels], atol=3)


def test_image_folder_errors(tmp_path):
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy" / "broken.png").write_bytes(b"not a png")
    ds = load_data(str(tmp_path), GRAY24, NAMES)
    with pytest.raises(EdgeferError, match="unreadable image .*broken.png"):
        ds.take(np.arange(1))
    (tmp_path / "smiling").mkdir()
    with pytest.raises(EdgeferError, match="sub-folder 'smiling' is not a class"):
        load_data(str(tmp_path), GRAY24, NAMES)
    with pytest.raises(EdgeferError, match="data not found"):
        load_data(str(tmp_path / "nope"), GRAY24, NAMES)


def test_npy_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    imgs = np.stack([fer_image(k % 7, rng) for k in range(14)])
    labels = np.arange(14) % 7
    np.save(tmp_path / "faces.npy", imgs)
    np.save(tmp_path / "faces_labels.npy", labels)
    ds = load_data(str(tmp_path / "faces.npy"), GRAY24, NAMES)
    assert ds.labels.tolist() == labels.tolist() and ds.take(np.arange(3)).shape == (3, 1, 24, 24)
    pre = GRAY24.preprocess(list(imgs))
    np.savez(tmp_path / "pre.npz", x=pre)  # already preprocessed float32 NCHW: used as is
    ds2 = load_data(str(tmp_path / "pre.npz"), GRAY24, NAMES)
    assert ds2.labels is None and np.array_equal(ds2.take(np.arange(14)), pre)
    np.savez(tmp_path / "wrong.npz", x=pre[:, :, :10, :10])
    with pytest.raises(EdgeferError, match="preprocessed NCHW"):
        load_data(str(tmp_path / "wrong.npz"), GRAY24, NAMES)
    np.savez(tmp_path / "badlab.npz", x=imgs, y=labels + 5)
    with pytest.raises(EdgeferError, match="class indices 0..6"):
        load_data(str(tmp_path / "badlab.npz"), GRAY24, NAMES)


def test_stratified_select_keeps_rare_class(tmp_path):
    p = tmp_path / "fer.csv"
    write_fer_csv(p, {"Training": 300})
    ds = load_data(str(p), GRAY24, NAMES)
    share = np.mean(ds.labels == 1)
    assert share < 0.05  # disgust is rare
    idx = select(ds, 30, seed=0)
    assert len(idx) == 30 and len(set(idx.tolist())) == 30
    picked = ds.labels[idx]
    assert set(picked.tolist()) == set(range(7))  # every class, disgust included
    assert np.array_equal(idx, select(ds, 30, seed=0))  # deterministic
    assert len(select(ds, None)) == len(ds)


def test_random_inputs_are_normalized_pixels():
    x = random_inputs(GRAY24, 4)
    assert x.shape == (4, 1, 24, 24) and x.min() >= -1.0 and x.max() <= 1.0
