"""The shapes model: a tiny latent-diffusion pipeline built from standard diffusers components.

Because it is an ordinary Stable Diffusion layout on disk (model_index.json, unet/, vae/,
text_encoder/, tokenizer/, scheduler/), the engine loads it exactly as it loads any checkpoint.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools.shapes.vocab import tokenizer_words

IMAGE_SIZE = 64
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


@dataclass(frozen=True)
class ShapesModelConfig:
    image_size: int = IMAGE_SIZE
    latent_channels: int = 4
    vae_channels: tuple[int, ...] = (32, 64, 64)  # 3 levels: 64x64 images -> 16x16 latents
    unet_channels: tuple[int, ...] = (64, 96, 128)
    unet_attention: tuple[bool, ...] = (False, True, True)  # cross-attention only at 8x8 and 4x4
    unet_heads: int = 4
    text_width: int = 128
    text_layers: int = 2
    text_heads: int = 4
    max_tokens: int = 40

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ShapesModelConfig":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def write_tokenizer_files(folder: Path, words: list[str] | None = None) -> None:
    """Write CLIP-format vocab.json and merges.txt in which every shapes word is one token.

    The merges are learnt with the ``tokenizers`` BPE trainer on the word list itself, with CLIP's
    conventions (lower case, ``</w>`` marks a word's end), so CLIPTokenizer reads them as is.
    Unknown words fall back to single characters rather than failing.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    words = words if words is not None else tokenizer_words()
    alphabet = sorted(set("abcdefghijklmnopqrstuvwxyz0123456789,.-'!?") | {c for w in words for c in w})
    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=10_000, min_frequency=1, show_progress=False,
                                  initial_alphabet=alphabet, end_of_word_suffix="</w>",
                                  special_tokens=[])
    bpe.train_from_iterator(words, trainer=trainer)
    learnt = json.loads(bpe.to_str())["model"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in learnt["merges"]]
    # CLIP's vocabulary: every character alone and word-final, then each merge result, then specials.
    tokens: list[str] = []
    for c in alphabet:
        tokens += [c, c + "</w>"]
    for m in merges:
        tok = m.replace(" ", "")
        if tok not in tokens:
            tokens.append(tok)
    tokens += [BOS, EOS]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}, indent=0))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def build_tokenizer(folder: Path, max_tokens: int):
    from transformers import CLIPTokenizer

    write_tokenizer_files(folder)
    # Loading from the folder is the path every real checkpoint takes, so the files are what counts.
    return CLIPTokenizer.from_pretrained(folder, model_max_length=max_tokens)


def build_text_encoder(cfg: ShapesModelConfig, vocab_size: int):
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=cfg.text_width, intermediate_size=cfg.text_width * 2,
        num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.text_heads,
        max_position_embeddings=cfg.max_tokens, projection_dim=cfg.text_width,
        bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1,
    ))


def build_vae(cfg: ShapesModelConfig):
    from diffusers import AutoencoderKL

    n = len(cfg.vae_channels)
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=cfg.latent_channels,
        down_block_types=("DownEncoderBlock2D",) * n, up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=cfg.vae_channels, layers_per_block=1, norm_num_groups=16,
        sample_size=cfg.image_size,
    )


def build_unet(cfg: ShapesModelConfig):
    from diffusers import UNet2DConditionModel

    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in cfg.unet_attention)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(cfg.unet_attention))
    factor = 2 ** (len(cfg.vae_channels) - 1)
    return UNet2DConditionModel(
        sample_size=cfg.image_size // factor, in_channels=cfg.latent_channels,
        out_channels=cfg.latent_channels, down_block_types=down, up_block_types=up,
        block_out_channels=cfg.unet_channels, layers_per_block=1, norm_num_groups=16,
        cross_attention_dim=cfg.text_width,
        # diffusers' historical name: for this UNet "attention_head_dim" is the number of heads.
        attention_head_dim=cfg.unet_heads,
    )


def build_scheduler():
    """Zero terminal SNR with v-prediction: the first sampling step sees pure noise, as in training,
    which matters here because the background is a flat colour (a global mean the model must set)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
        prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing",
        clip_sample=False, set_alpha_to_one=False, steps_offset=1,
    )


@dataclass
class ShapesComponents:
    vae: object
    unet: object
    text_encoder: object
    tokenizer: object
    scheduler: object
    config: ShapesModelConfig = field(default_factory=ShapesModelConfig)


def save_pipeline(components: ShapesComponents, folder: Path, half: bool = True) -> None:
    """Write the components as a standard StableDiffusionPipeline folder.

    Weights are stored in float16 by default, halving the shipped size; loading with
    dtype=float32 (the engine's choice on a CPU) casts them back.
    """
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=components.vae, text_encoder=components.text_encoder, tokenizer=components.tokenizer,
        unet=components.unet, scheduler=components.scheduler, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )
    if half:
        pipe.to(torch.float16)
    pipe.save_pretrained(folder, safe_serialization=True)
