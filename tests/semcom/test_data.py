from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from semcom.data import CamVid, ImageFolder, Kodak, VOCSegmentation, segmentation_dataset


def test_image_folder_random_crops(image_folder):
    torch.manual_seed(0)
    ds = ImageFolder([image_folder], crop=64, samples_per_epoch=10)
    assert len(ds) == 10 and len(ds.files) == 4  # recursive, PNG and JPEG
    x = ds[3]
    assert x.shape == (3, 64, 64) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(ds[3], x)  # deterministic per index and seed


def test_image_folder_draws_new_crops_each_epoch(image_folder):
    torch.manual_seed(0)
    ds = ImageFolder([image_folder], crop=32, samples_per_epoch=8)
    first = [ds[i] for i in range(8)]
    ds.set_epoch(1)
    second = [ds[i] for i in range(8)]
    assert sum(torch.equal(a, b) for a, b in zip(first, second)) < 8  # not the same crops again
    ds.set_epoch(0)
    assert all(torch.equal(ds[i], a) for i, a in enumerate(first))  # reproducible per seed, epoch and index


def test_image_folder_draws_each_root_equally_often(tmp_path):
    from PIL import Image

    for root, n, colour in (("few", 1, (255, 0, 0)), ("many", 9, (0, 0, 255))):
        (tmp_path / root).mkdir()
        for i in range(n):
            Image.new("RGB", (80, 80), colour).save(tmp_path / root / f"{i}.png")
    torch.manual_seed(0)
    ds = ImageFolder([tmp_path / "few", tmp_path / "many"], crop=32, samples_per_epoch=400)
    red = sum(float(ds[i][0].mean()) > 0.5 for i in range(len(ds)))
    assert 160 < red < 240  # about half, not a tenth


def test_kodak_whole_images(image_folder, tmp_path):
    ds = Kodak(image_folder / "sub")
    assert len(ds) == 3 and ds[1].shape == (3, 144, 170)
    assert [f.name for f in Kodak(image_folder).files] == ["grey.jpg"]  # JPEGs too, subfolders not
    with pytest.raises(FileNotFoundError, match="no such folder"):
        Kodak(image_folder / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no PNG or JPEG images"):
        Kodak(tmp_path / "empty")


def test_camvid_layout(camvid_root):
    ds = CamVid(camvid_root, "val")
    img, lab = ds[0]
    assert img.shape == (3, 64, 96) and lab.shape == (64, 96) and lab.dtype == torch.long
    assert set(lab.unique().tolist()) == {0, 3, 11}
    train = CamVid(camvid_root, "train", crop=48)
    img, lab = train[1]
    assert img.shape == (3, 48, 48) and lab.shape == (48, 48)
    assert isinstance(segmentation_dataset(camvid_root, "train"), CamVid)


def test_camvid_class_pixel_counts_and_photometric_jitter(camvid_root):
    ds = CamVid(camvid_root, "train")
    expect = torch.zeros(11, dtype=torch.long)
    unaugmented = CamVid(camvid_root, "train", train=False)
    for i in range(len(ds)):
        expect += torch.bincount(unaugmented[i][1].flatten(), minlength=12)[:11]  # void (11) not counted
    assert torch.equal(ds.class_pixel_counts(), expect) and expect.sum() > 0
    # the jitter moves the colours and never the labels or the geometry
    steady = CamVid(camvid_root, "train", crop=48)
    steady.photometric = (1.0, 1.0)
    for i in range(len(ds)):
        (a, la), (b, lb) = CamVid(camvid_root, "train", crop=48)[i], steady[i]
        assert torch.equal(la, lb) and a.shape == b.shape and 0 <= a.min() and a.max() <= 1
    assert not torch.equal(CamVid(camvid_root, "train", crop=48)[0][0], steady[0][0])


def test_segmentation_crops_differ_by_epoch_and_pad_with_void(camvid_root):
    torch.manual_seed(0)
    ds = CamVid(camvid_root, "train", crop=48)
    first = [ds[i] for i in range(len(ds))]
    assert all(torch.equal(ds[i][0], img) for i, (img, _) in enumerate(first))  # same seed, epoch, index
    ds.set_epoch(1)
    assert not all(torch.equal(ds[i][0], img) for i, (img, _) in enumerate(first))
    # frames rescaled below the crop (64 px high at 0.5: 32 < 48) are padded: grey pixels, void labels
    small = CamVid(camvid_root, "train", crop=64)
    small.scale, small.photometric = (0.5, 0.5), (1.0, 1.0)
    img, lab = small[0]
    assert img.shape == (3, 64, 64) and lab.shape == (64, 64)
    void = lab == CamVid.ignore_index
    # everything outside the 48 x 32 frame, and the frame's own void edge (10 of 96 columns: 5 of 48)
    assert void.sum() == 64 * 64 - 48 * 32 + 5 * 32
    rows, cols = (~void).nonzero().unbind(1)
    assert rows.max() - rows.min() == 31 and cols.max() - cols.min() == 42
    grey = (img == torch.tensor(128 / 255)).all(dim=0)
    assert grey.sum() >= 64 * 64 - 48 * 32 and not grey[~void].any()
    assert set(lab[~void].unique().tolist()) <= {0, 3}  # the frame's own labels, scaled with it


def test_voc_layout_reads_palette_indices(voc_root):
    ds = segmentation_dataset(voc_root, "train")
    assert isinstance(ds, VOCSegmentation) and len(ds) == 2
    img, lab = ds[0]
    assert img.shape == (3, 40, 50)
    assert set(lab.unique().tolist()) == {0, 15, 255}  # raw palette indices, not RGB
    assert VOCSegmentation.num_classes == 21 and VOCSegmentation.ignore_index == 255
    assert len(VOCSegmentation(voc_root, "val")) == 1


def _drives(tmp_path):
    """A CamVid listing with frames of two drives in train and one in val (file names start with the drive)."""
    root = tmp_path / "drives"
    for split, names in (("train", ["0001TP_1", "0001TP_2", "0006R0_1"]), ("val", ["0016E5_1"])):
        (root / split).mkdir(parents=True)
        (root / f"{split}annot").mkdir()
        for i, n in enumerate(names):
            Image.new("RGB", (32, 24), (i * 40, 0, 0)).save(root / split / f"{n}.png")
            Image.new("L", (32, 24), i).save(root / f"{split}annot" / f"{n}.png")
        (root / f"{split}.txt").write_text("".join(f"/{split}/{n}.png /{split}annot/{n}.png\n" for n in names))
    return root


@pytest.mark.parametrize("split, frames", [
    ("train", ["0001TP_1", "0001TP_2", "0006R0_1"]),
    ("train+val", ["0001TP_1", "0001TP_2", "0006R0_1", "0016E5_1"]),
    ("train-0006R0", ["0001TP_1", "0001TP_2"]),
    ("train:0006R0", ["0006R0_1"]),
    ("train+val-0001TP,0016E5", ["0006R0_1"]),
    ("train+val:0016E5", ["0016E5_1"]),
])
def test_camvid_splits_hold_drives_in_or_out(tmp_path, split, frames):
    ds = segmentation_dataset(_drives(tmp_path), split, train=False)
    assert [p.stem for p, _ in ds.pairs] == frames and not ds.train
    assert ds.class_names[0] == "sky"


@pytest.mark.parametrize("split, text", [("val:0001TP", "no frames of drive"), ("train-", "name the drives"),
                                         ("test", "test.txt not found")])
def test_camvid_split_mistakes_are_named(tmp_path, split, text):
    with pytest.raises((ValueError, FileNotFoundError), match=text):
        segmentation_dataset(_drives(tmp_path), split)


def test_strong_augmentation_changes_the_look_not_the_labels(camvid_root):
    plain = CamVid(camvid_root, "train", crop=64)
    strong = CamVid(camvid_root, "train", crop=64)
    strong.strong = True
    (img_a, lab_a), (img_b, lab_b) = plain[0], strong[0]
    assert torch.equal(lab_a, lab_b)  # the same crop and flip: only the pixels' look differs
    assert img_a.shape == img_b.shape and not torch.equal(img_a, img_b)
    assert 0.0 <= img_b.min() and img_b.max() <= 1.0


def _street(root: Path, n: int = 4) -> Path:
    """Frames 0, 2, ... road and sky only; frames 1, 3, ... also a pedestrian (a red block, 4 % of the pixels)."""
    lines = []
    for i in range(n):
        img = np.full((40, 60, 3), 100, np.uint8)
        lab = np.full((40, 60), 3, np.uint8)  # road
        lab[:12] = 0  # sky
        if i % 2:
            img[20:30, 5:15] = (200, 0, 0)
            lab[20:30, 5:15] = 9  # pedestrian
        (root / "train").mkdir(parents=True, exist_ok=True)
        (root / "trainannot").mkdir(exist_ok=True)
        Image.fromarray(img).save(root / "train" / f"f{i}.png")
        Image.fromarray(lab, mode="L").save(root / "trainannot" / f"f{i}.png")
        lines.append(f"/train/f{i}.png /trainannot/f{i}.png")
    (root / "train.txt").write_text("\n".join(lines) + "\n")
    return root


def test_paste_puts_rare_classes_of_other_frames_on_a_crop(tmp_path):
    """--seg-paste: the rare classes (under half a uniform share of the labels) of another frame's crop are
    pasted where they lie, pixels and labels together; nothing else of the crop changes."""
    root = _street(tmp_path / "camvid")
    plain, pasting = CamVid(root, "train"), CamVid(root, "train")
    for ds in (plain, pasting):
        ds.photometric = (1.0, 1.0)
    pasting.paste = 1.0
    assert 9 in pasting.paste_classes and not {0, 3} & set(pasting.paste_classes.tolist())
    torch.manual_seed(0)
    pasted = 0
    for epoch in range(3):
        for ds in (plain, pasting):
            ds.set_epoch(epoch)
        for i in range(0, 4, 2):  # frames without a pedestrian of their own
            (img_a, lab_a), (img_b, lab_b) = plain[i], pasting[i]
            new = lab_a != lab_b
            assert (lab_b[new] == 9).all() and torch.equal(img_a[:, ~new], img_b[:, ~new])
            red = torch.tensor([200 / 255, 0.0, 0.0]).view(3, 1)
            assert torch.allclose(img_b[:, new], red.expand(3, int(new.sum())))
            pasted += int(new.any())
    assert 0 < pasted < 6  # a pedestrian came whenever the donor drawn had one
