"""The shapes critic model: a few-million-parameter PaliGemma (SigLIP vision tower, Gemma decoder).

PaliGemma because transformers loads it through ``AutoModelForImageTextToText`` and
``AutoProcessor`` without torchvision, its processor takes any tokenizer, and its convention of
location tokens lets the same model answer yes/no questions and give boxes. Its prefix (image and
question) is attended bidirectionally, which suits a judge that reads the whole question first.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from tools.shapes.vlm_format import CHAT_TEMPLATE, build_tokenizer

IMAGE_SIZE = 64  # the shapes model's images; larger ones are resized by the processor


@dataclass(frozen=True)
class VLMConfig:
    patch: int = 8  # 64x64 -> 8x8 = 64 image tokens
    # The vision tower runs once per image however many questions it answers, the decoder once per
    # question over all 64 image tokens: so the width goes to the vision tower.
    vision_width: int = 192
    vision_layers: int = 6
    vision_heads: int = 4
    text_width: int = 128
    text_layers: int = 4
    text_heads: int = 4
    text_kv_heads: int = 4
    vision_mlp: int = 4  # MLP width as a multiple of the model width
    text_mlp: int = 2  # the decoder's MLP is most of the training time; a narrow one costs little accuracy

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def image_tokens(self) -> int:
        return (IMAGE_SIZE // self.patch) ** 2


TINY = VLMConfig(patch=16, vision_width=32, vision_layers=1, vision_heads=2, text_width=32, text_layers=1,
                 text_heads=2, text_kv_heads=2, vision_mlp=2, text_mlp=2)


def build_processor(cfg: VLMConfig):
    from transformers import PaliGemmaProcessor
    from transformers.models.siglip import SiglipImageProcessorPil

    # The PIL image processor: the torchvision one cannot load beside the CPU build of torch here, and
    # the two give the same pixels for this resize-and-normalise recipe.
    images = SiglipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=3,
                                     image_mean=[0.5] * 3, image_std=[0.5] * 3,
                                     image_seq_length=cfg.image_tokens)
    return PaliGemmaProcessor(image_processor=images, tokenizer=build_tokenizer(), chat_template=CHAT_TEMPLATE)


def build_model(cfg: VLMConfig, tokenizer, seed: int = 0):
    from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

    vocab = len(tokenizer)
    config = PaliGemmaConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=cfg.vision_width,
                           intermediate_size=cfg.vision_mlp * cfg.vision_width,
                           num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.vision_heads,
                           image_size=IMAGE_SIZE, patch_size=cfg.patch, vision_use_head=False),
        text_config=dict(model_type="gemma", hidden_size=cfg.text_width,
                         intermediate_size=cfg.text_mlp * cfg.text_width, num_hidden_layers=cfg.text_layers,
                         num_attention_heads=cfg.text_heads, num_key_value_heads=cfg.text_kv_heads,
                         head_dim=cfg.text_width // cfg.text_heads, vocab_size=vocab,
                         max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id),
        image_token_index=tokenizer.image_token_id, vocab_size=vocab, projection_dim=cfg.text_width,
        hidden_size=cfg.text_width, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = PaliGemmaForConditionalGeneration(config)
    _fan_in_init(model)
    gen = model.generation_config
    gen.bos_token_id, gen.eos_token_id, gen.pad_token_id = (tokenizer.bos_token_id, tokenizer.eos_token_id,
                                                            tokenizer.pad_token_id)
    gen.max_new_tokens, gen.do_sample = 32, False  # three boxes and labels fit in 32 tokens
    return model


@torch.no_grad()
def _fan_in_init(model) -> None:
    """Weights of standard deviation 1/sqrt(fan-in). The configs' default (0.02) suits widths near
    2,000; at a width of 128 it leaves attention nearly uniform, and question-to-image matching
    (an equality of two inputs) then sits on a plateau for thousands of steps before it is learnt."""
    from torch import nn

    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            fan_in = module.weight[0].numel()
            module.weight.normal_(0.0, fan_in ** -0.5)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, module.embedding_dim ** -0.5)


def pixel_values(images: np.ndarray) -> torch.Tensor:
    """(N, 64, 64, 3) uint8 -> the processor's pixel values, without the per-image PIL round trip."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def n_parameters(model) -> int:
    # The language model's head is tied to its embeddings: count each weight once.
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
