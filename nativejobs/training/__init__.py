"""Training building blocks for the train step: data encoding, packed batches, checkpoints.

``recipe`` and ``model`` import torch and transformers; import them where they are used (the
train step's ``setup()``), so that planning stays light.
"""

from __future__ import annotations

from nativejobs.training.checkpoints import CheckpointStore as CheckpointStore
from nativejobs.training.data import EncodedSet as EncodedSet
from nativejobs.training.data import Example as Example
from nativejobs.training.data import encode_rows as encode_rows
from nativejobs.training.data import split_heldout as split_heldout
from nativejobs.training.packing import PackedCollator as PackedCollator
from nativejobs.training.packing import PaddedCollator as PaddedCollator
from nativejobs.training.packing import pack_rows as pack_rows

__all__ = ["CheckpointStore", "EncodedSet", "Example", "PackedCollator", "PaddedCollator",
           "encode_rows", "pack_rows", "split_heldout"]
