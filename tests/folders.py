"""Folders of identities as a user brings them: per-identity image folders, a CelebA attribute file,
and some bad input (an unreadable image, an identity with too few images, labels per image)."""

from pathlib import Path

import numpy as np
from committed import section
from PIL import Image

from w2w.storage import STREAM_IMAGES
from w2w.world.dataset import render_identity
from w2w.world.identity import ATTRIBUTES, sample_identity

ATTRS = ["Eyeglasses", "Male", "Smiling"]


def make_folder(root, identities=6):
    rng = np.random.default_rng(0)
    lines, labels = [], {}
    for i in range(identities):
        folder = root / "people" / f"person{i:02d}"
        folder.mkdir(parents=True)
        for j in range(4):
            size = (40 + 8 * j, 32)  # not square, not the target size
            pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{j}.{'png' if j % 2 else 'jpg'}")
        labels[folder.name] = [1 if (i + k) % 2 else -1 for k in range(len(ATTRS))]
    Image.new("RGBA", (30, 30), (255, 0, 0, 0)).save(root / "people" / "person00" / "4.png")
    (root / "people" / "person01" / "0.jpg").write_bytes(b"not a jpeg")  # reported, skipped
    for f in list((root / "people" / "person02").iterdir())[1:]:
        f.unlink()  # one image left: too few
    for j in range(4):  # person03's labels are per image: the majority counts
        lines.append(f"person03/{j}.{'png' if j % 2 else 'jpg'} " + " ".join(["1", "1", "-1"]))
    del labels["person03"]
    lines += [f"{name} " + " ".join(map(str, v)) for name, v in labels.items()]
    text = f"{len(lines)}\n{' '.join(ATTRS)}\n" + "\n".join(lines) + "\n"
    (root / "list_attr_celeba.txt").write_text(text)
    return section("synthesize", source="folder", folder=str(root / "people"),
                            attributes_file=str(root / "list_attr_celeba.txt"), images_per_identity=2,
                            references_per_identity=1, ood_images_per_identity=1, heldout_fraction=0.25,
                            image_size=32)


def write_photo_folder(root: Path, identities: int, photos_each: int = 5) -> list[str]:
    """Miniature renders exported as a user's photos (48 px JPEGs, not the world's size):
    <root>/photos/<name>/<name>_<j>.jpg and <root>/list_attr_celeba.txt, keyed by folder name for
    most identities and by image (bare file name or name/file) for two; plus bad files. Returns the
    paths of the bad files that must be reported."""
    photos, lines = root / "photos", []
    for i in range(identities):
        person = sample_identity(i, 11)
        name = f"id{i:04d}"
        (photos / name).mkdir(parents=True)
        files = []
        for j, pixels in enumerate(render_identity(person, photos_each, 11, STREAM_IMAGES, 48)):
            files.append(f"{name}_{j}.jpg")
            Image.fromarray(pixels).save(photos / name / files[-1], quality=92)
        values = " ".join("1" if person.attributes[a] else "-1" for a in ATTRIBUTES)
        if i == 1:
            lines += [f"{f} {values}" for f in files]                 # keyed by image file name
        elif i == 2:
            lines += [f"{name}/{f} {values}" for f in files]          # keyed by identity/file
        else:
            lines.append(f"{name} {values}")                          # keyed by identity folder
    truncated = photos / "id0003" / "id0003_truncated.jpg"
    truncated.write_bytes((photos / "id0003" / "id0003_0.jpg").read_bytes()[:200])
    text = photos / "id0004" / "id0004_notes.jpg"
    text.write_text("not a photo\n")
    sparse = photos / "zz_sparse"                                      # two photos: too few
    sparse.mkdir()
    for j, pixels in enumerate(render_identity(sample_identity(999, 11), 2, 11, STREAM_IMAGES, 48)):
        Image.fromarray(pixels).save(sparse / f"zz_{j}.jpg")
    lines.append("zz_sparse " + " ".join(["1"] * len(ATTRIBUTES)))
    header = f"{len(lines)}\n{' '.join(ATTRIBUTES)}\n"
    (root / "list_attr_celeba.txt").write_text(header + "\n".join(lines) + "\n")
    return [str(truncated), str(text)]
