"""Imported once by the local backend's fork server, so each step starts with torch warm.

Importing torch, transformers and peft costs seconds of CPU per process; a fork server pays it
once per run. Nothing here may start threads or touch a device (that would not survive fork).
"""

from nativejobs._process import die_with_parent

die_with_parent()  # first: a fork server that outlived its controller would still start steps

import peft  # noqa: F401, E402
import torch  # noqa: F401, E402
import transformers  # noqa: F401, E402
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer  # noqa: F401, E402

from nativejobs.steps import KINDS, REGISTRY  # noqa: E402

for _kind in KINDS:  # the step modules too: REGISTRY imports each on its first lookup
    REGISTRY[_kind]
