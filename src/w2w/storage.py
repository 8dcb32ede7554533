"""Storage conventions shared by every stage: the Zarr codecs, and the render streams.

A render stream is the third word of the seed of an identity's renders ((seed, identity_id, stream)),
so the images each consumer sees are drawn independently of every other consumer's.
"""

from __future__ import annotations

import zarr

COMPRESSORS = (zarr.codecs.BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle"),)

STREAM_IMAGES = 1  # the world's training renders (images.zarr "images")
STREAM_OOD = 2     # the held-out identities' painting-style renders (images.zarr "ood")
STREAM_JUDGE = 3   # the judge's training renders
STREAM_EVAL = 4    # renders for evaluation only: neither the fleet nor the judge trained on them
