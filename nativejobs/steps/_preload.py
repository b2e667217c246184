"""Imported once by the local backend's fork server, so each step starts with torch warm.

Importing torch, transformers and peft costs seconds of CPU per process; a fork server pays it
once per run. Nothing here may start threads or touch a device (that would not survive fork).
"""

import peft  # noqa: F401
import torch  # noqa: F401
import transformers  # noqa: F401
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

import nativejobs.steps  # noqa: F401
