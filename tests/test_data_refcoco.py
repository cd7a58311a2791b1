"""RefCOCO reader on a real refer-format fixture: refs pickle + COCO instances.json."""

import json
import pickle

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from segr1.data import load_dataset
from segr1.data.refcoco import load_refcoco

H, W = 40, 50


def _rle_mask() -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[10:30, 25:45] = 1
    return m


def _uncompressed_rle(m: np.ndarray) -> dict:
    flat = m.flatten(order="F")  # COCO RLE runs are column-major, starting with zeros
    counts, prev, run = [], 0, 0
    for v in flat:
        if v != prev:
            counts.append(run)
            prev, run = v, 0
        run += 1
    counts.append(run)
    return {"size": [H, W], "counts": counts}


@pytest.fixture
def refer_root(tmp_path):
    img_dir = tmp_path / "images" / "mscoco" / "images" / "train2014"
    img_dir.mkdir(parents=True)
    names = {1: "COCO_train2014_000000000001.jpg", 2: "COCO_train2014_000000000002.jpg"}
    for name in names.values():
        Image.fromarray(np.full((H, W, 3), 128, np.uint8)).save(img_dir / name)
    rle = mask_utils.encode(np.asfortranarray(_rle_mask()))
    rle["counts"] = rle["counts"].decode()
    instances = {
        "images": [{"id": i, "file_name": n, "height": H, "width": W} for i, n in names.items()],
        "annotations": [
            {"id": 10, "image_id": 1, "segmentation": [[5, 5, 20, 5, 20, 20, 5, 20]], "iscrowd": 0},
            {"id": 11, "image_id": 1, "segmentation": rle, "iscrowd": 1},
            {"id": 12, "image_id": 2, "segmentation": _uncompressed_rle(_rle_mask()), "iscrowd": 1},
        ],
        "categories": [{"id": 1, "name": "thing"}],
    }
    ds = tmp_path / "refcoco"
    ds.mkdir()
    (ds / "instances.json").write_text(json.dumps(instances))
    refs = []
    for ref_id, ann_id, image_id, split in (
        (7, 10, 1, "val"),
        (3, 11, 1, "val"),
        (5, 12, 2, "testA"),
    ):
        sents = [
            {"sent_id": 100 * ref_id + k, "sent": f"thing {ref_id} {k}", "raw": f"Thing {k}!"}
            for k in (1, 0)
        ]
        refs.append(
            {
                "ref_id": ref_id,
                "ann_id": ann_id,
                "image_id": image_id,
                "split": split,
                "sentences": sents,
                "sent_ids": [s["sent_id"] for s in sents],
                "category_id": 1,
                "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg",
            }
        )
    with open(ds / "refs(unc).p", "wb") as f:
        pickle.dump(refs, f)
    return tmp_path


def test_every_sentence_is_a_sample(refer_root):
    samples = load_dataset("refcoco", refer_root, split="val")
    assert [s.id for s in samples] == ["3_300", "3_301", "7_700", "7_701"]
    assert [s.query for s in samples] == ["thing 3 0", "thing 3 1", "thing 7 0", "thing 7 1"]
    assert all(s.task == "referring" and s.dataset == "refcoco" for s in samples)
    raw = load_refcoco(refer_root, "refcoco", "val", text_field="raw")
    assert raw[0].query == "Thing 0!"


def test_polygon_and_rle_masks_decode(refer_root):
    samples = {s.id: s for s in load_dataset("refcoco", refer_root, split="val")}
    poly = samples["7_700"].load_mask()
    assert poly.shape == (H, W) and poly.dtype == np.uint8
    assert set(np.unique(poly)) == {0, 255}
    ys, xs = np.nonzero(poly)
    assert ys.min() >= 4 and ys.max() <= 20 and xs.min() >= 4 and xs.max() <= 20
    assert 180 <= (poly > 0).sum() <= 260  # a 15 x 15 square, rasterised
    image, rle = samples["3_300"].load_pair()
    assert image.shape == (H, W, 3)
    np.testing.assert_array_equal(rle > 0, _rle_mask() > 0)
    (uncompressed, _) = load_dataset("refcoco", refer_root, split="testA")
    np.testing.assert_array_equal(uncompressed.load_mask() > 0, _rle_mask() > 0)
    assert samples["7_700"].load_ignore() is None


def test_errors_name_the_problem(refer_root, tmp_path):
    with pytest.raises(ValueError, match="testA, val"):
        load_dataset("refcoco", refer_root, split="testB")
    with pytest.raises(FileNotFoundError, match=r"refs\(umd\)\.p"):
        load_dataset("refcocog", refer_root)
    with pytest.raises(FileNotFoundError, match="image_dir"):
        load_dataset("refcoco", refer_root, split="val", image_dir=tmp_path / "nowhere")
    with pytest.raises(TypeError, match="image_dir"):
        load_dataset("refcoco", refer_root, split="val", images="x")


def test_cli_reader_options_reach_the_reader(refer_root, tmp_path):
    from typer.testing import CliRunner

    from segr1.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["data", "list"])
    assert listed.exit_code == 0 and "refcoco" in listed.output.split()
    base = ["data", "inspect", "--dataset", "refcoco", "--root", str(refer_root)]
    image_dir = refer_root / "images" / "mscoco" / "images" / "train2014"
    ok = runner.invoke(app, [*base, "--image-dir", str(image_dir), "--data-opt", "text_field=raw"])
    assert ok.exit_code == 0, ok.output
    assert "samples: 4" in ok.output and "Thing 0!" in ok.output
    moved = runner.invoke(app, [*base, "--image-dir", str(tmp_path / "nowhere")])
    assert moved.exit_code == 2 and "nowhere" in moved.output
    unknown = runner.invoke(app, [*base, "--data-opt", "colour=red"])
    assert unknown.exit_code == 2 and "colour" in unknown.output
    malformed = runner.invoke(app, [*base, "--data-opt", "split_by"])
    assert malformed.exit_code == 2 and "KEY=VALUE" in malformed.output
    # eval takes the same reader flags (before any model is loaded)
    ev = ["eval", "--model", "unused", "--dataset", "refcoco", "--root", str(refer_root)]
    bad = runner.invoke(app, [*ev, "--out", str(tmp_path / "o"), "--data-opt", "colour=red"])
    assert bad.exit_code == 2 and "colour" in bad.output
