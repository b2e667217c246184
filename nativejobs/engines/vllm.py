"""The vLLM engine (GPU): the base model once, the step's LoRA adapter served per request.

Built on lm-evaluation-harness's ``VLLM`` model (``lm_eval.models.vllm_causallms``), so the
evaluate step's harness benchmarks and its own generations (open-ended QA) share one
``vllm.LLM``: the base weights load once, the adapter rides along as a ``LoRARequest``
(``lora_local_path``), as vLLM serves adapters without merging them. ``max_lora_rank`` is the
adapter's own rank rounded up to a size vLLM supports: a larger one only pads the LoRA kernels.

vLLM is in the ``gpu`` extra and needs CUDA; without either, building the engine fails with a
StepInputError that says so (CI and CPU machines use the transformers engine).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from nativejobs.engines._chat import ChatPrompts
from nativejobs.engines.models import resolve_model
from nativejobs.errors import StepInputError

__all__ = ["LORA_RANKS", "VLLMEngine", "lora_rank", "vllm_usable"]

LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # vllm/config/lora.py max_lora_rank choices


def vllm_usable() -> bool:
    """Whether vLLM can serve here: the package is installed and a CUDA GPU is visible."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def lora_rank(adapter: Path) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds the adapter's rank ``r``.

    Raises:
        StepInputError: If the adapter has no readable ``adapter_config.json`` or its rank is
            above vLLM's largest.
    """
    try:
        r = int(json.loads((adapter / "adapter_config.json").read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StepInputError(f"adapter {adapter}: no readable adapter_config.json with r ({e}); "
                             "is it a PEFT LoRA adapter?") from e
    for rank in LORA_RANKS:
        if rank >= r:
            return rank
    raise StepInputError(f"adapter {adapter}: LoRA rank {r} is above vLLM's largest "
                         f"({LORA_RANKS[-1]}); use the transformers backend")


class VLLMEngine(ChatPrompts):
    """A base model on vLLM with an optional LoRA adapter; also the harness's model."""

    name = "vllm"

    def __init__(self, model_id: str, *, revision: str | None = None, adapter: Path | None = None,
                 batch_size: int = 8, gpu_memory_utilization: float = 0.9) -> None:
        if not vllm_usable():
            raise StepInputError(
                "backend vllm needs the vllm package and a CUDA GPU "
                f"(vllm installed: {importlib.util.find_spec('vllm') is not None}); install "
                "nativejobs[gpu] on a GPU node, or use backend transformers (CPU or GPU)")
        from lm_eval.models.vllm_causallms import VLLM

        lora: dict[str, Any] = {}
        if adapter is not None:
            lora = {"lora_local_path": str(adapter), "max_lora_rank": lora_rank(adapter)}
        self.lm = VLLM(pretrained=resolve_model(model_id), revision=revision, dtype="bfloat16",
                       batch_size="auto", gpu_memory_utilization=gpu_memory_utilization, **lora)
        self.tokenizer = self.lm.tokenizer
        self.batch_size = batch_size

    def harness_lm(self) -> Any:
        return self.lm

    def generate(self, prompts: list[str], *, max_new_tokens: int, stop: tuple[str, ...] = (),
                 temperature: float = 0.0, seed: int = 0) -> list[str]:
        from vllm import SamplingParams, TokensPrompt

        params = SamplingParams(temperature=temperature, max_tokens=max_new_tokens,
                                stop=list(stop) or None, seed=seed if temperature > 0 else None)
        # Token ids, as the transformers engine: prompts carry any BOS they need themselves.
        inputs = [TokensPrompt(prompt_token_ids=self.tokenizer(p, add_special_tokens=False).input_ids)
                  for p in prompts]
        outputs = self.lm.model.generate(inputs, params, lora_request=self.lm.lora_request,
                                         use_tqdm=False)
        return [o.outputs[0].text for o in outputs]

    def loglikelihood(self, pairs: list[tuple[str, str]]) -> list[float]:
        from lm_eval.api.instance import Instance

        requests = [Instance(request_type="loglikelihood", doc={}, arguments=pair, idx=i)
                    for i, pair in enumerate(pairs)]
        return [float(ll) for ll, _ in self.lm.loglikelihood(requests, disable_tqdm=True)]
