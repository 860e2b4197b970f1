"""Tiny diffusers checkpoints built in code and saved to disk like real ones, for fast tests."""
from __future__ import annotations

import json
import string
from pathlib import Path

import torch

TINY_SIZE = 16  # pixels; the VAE halves it once, so latents are 8x8


def write_tiny_tokenizer(folder: Path, max_length: int = 16) -> None:
    """CLIP-format vocab.json and merges.txt: every letter, word-final letters, a few merges."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(string.ascii_lowercase + string.digits + ",.")
    tokens = chars + [c + "</w>" for c in chars]
    merges = ["r e", "re d</w>", "b l", "bl u", "blu e</w>", "c i", "ci r"]
    tokens += ["re", "red</w>", "bl", "blu", "blue</w>", "ci", "cir", "<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": max_length}))


def build_tiny_pipeline(folder: Path, inpainting: bool = False) -> Path:
    from diffusers import (AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline,
                           StableDiffusionPipeline, UNet2DConditionModel)
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=TINY_SIZE // 2, in_channels=9 if inpainting else 4, out_channels=4,
        block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16, attention_head_dim=2,
    )
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=4, layers_per_block=1, sample_size=TINY_SIZE)
    tok_dir = folder.parent / (folder.name + "-tokenizer-src")
    write_tiny_tokenizer(tok_dir)
    tokenizer = CLIPTokenizer.from_pretrained(tok_dir)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=16, bos_token_id=len(tokenizer) - 2,
        eos_token_id=len(tokenizer) - 1, pad_token_id=len(tokenizer) - 1))
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    cls = StableDiffusionInpaintPipeline if inpainting else StableDiffusionPipeline
    pipe = cls(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
               safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


# -- every diffusers family, tiny ----------------------------------------------------------------------
# Shapes follow diffusers' own fast tests (tests/pipelines/{flux,stable_diffusion_3,...}) shrunk further:
# a two-block VAE (scale factor 2) so sizes stay small, one transformer layer, 16-32 wide.
FAMILY_PIPELINES: dict[str, str] = {  # the text-to-image class each loads as
    "sd1": "StableDiffusionPipeline", "sd2-v": "StableDiffusionPipeline", "sdxl": "StableDiffusionXLPipeline",
    "sd3": "StableDiffusion3Pipeline", "flux-schnell": "FluxPipeline", "flux-dev": "FluxPipeline",
    "sd1-inpaint": "StableDiffusionPipeline", "sdxl-inpaint": "StableDiffusionXLPipeline",
}


def write_tiny_t5_tokenizer(folder: Path) -> Path:
    """A SentencePiece-free T5 tokenizer (a Unigram model over letters and a few words), saved like a real one."""
    from transformers import T5TokenizerFast

    words = ["▁red", "▁blue", "▁circle", "▁square", "▁a", "▁the"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    vocab += [(w, -1.0) for w in words] + [(c, -3.0) for c in string.ascii_lowercase + string.digits + ",."]
    T5TokenizerFast(vocab=vocab, extra_ids=0).save_pretrained(folder)
    return folder


def _clip_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    write_tiny_tokenizer(folder)
    return CLIPTokenizer.from_pretrained(folder)


def _clip(tokenizer, hidden: int = 16, projection: int | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                            num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=16,
                            projection_dim=projection or hidden, hidden_act="gelu",
                            bos_token_id=len(tokenizer) - 2, eos_token_id=len(tokenizer) - 1,
                            pad_token_id=len(tokenizer) - 1)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def _t5(folder: Path, d_model: int = 32):
    from transformers import T5Config, T5EncoderModel, T5TokenizerFast

    tokenizer = T5TokenizerFast.from_pretrained(write_tiny_t5_tokenizer(folder))
    config = T5Config(vocab_size=len(tokenizer), d_model=d_model, d_ff=2 * d_model, d_kv=8, num_layers=1,
                      num_heads=2, relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1)
    return tokenizer, T5EncoderModel(config)


def _vae(latent_channels: int = 4, flow: bool = False):
    from diffusers import AutoencoderKL

    # Flow-matching families (SD3, Flux) use a shift and no quant convs, as their real VAEs do.
    extra = {"shift_factor": 0.0609, "scaling_factor": 1.5035, "use_quant_conv": False,
             "use_post_quant_conv": False} if flow else {}
    return AutoencoderKL(block_out_channels=(8, 16), latent_channels=latent_channels, norm_num_groups=4,
                         down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         layers_per_block=1, sample_size=32, **extra)


def _sd2_v(folder: Path):
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    # SD 2.x: linear attention projections, per-block head dims, and a v-prediction scheduler.
    unet = UNet2DConditionModel(
        sample_size=16, block_out_channels=(16, 32), layers_per_block=1, norm_num_groups=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=(2, 4), use_linear_projection=True)
    tokenizer = _clip_tokenizer(folder.parent / (folder.name + "-tok"))
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1, prediction_type="v_prediction")
    return StableDiffusionPipeline(vae=_vae(), text_encoder=_clip(tokenizer), tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def _sdxl(folder: Path, inpainting: bool = False):
    from diffusers import (EulerDiscreteScheduler, StableDiffusionXLInpaintPipeline, StableDiffusionXLPipeline,
                           UNet2DConditionModel)

    # Added conditioning: 6 time ids x 8 + the second encoder's 16-wide pooled embedding.
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=9 if inpainting else 4, out_channels=4, block_out_channels=(16, 32),
        layers_per_block=1, norm_num_groups=8, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4), use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=64,
        cross_attention_dim=32)
    tokenizer = _clip_tokenizer(folder.parent / (folder.name + "-tok"))
    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                       steps_offset=1, timestep_spacing="leading")
    cls = StableDiffusionXLInpaintPipeline if inpainting else StableDiffusionXLPipeline
    return cls(vae=_vae(), text_encoder=_clip(tokenizer), text_encoder_2=_clip(tokenizer, projection=16),
               tokenizer=tokenizer, tokenizer_2=tokenizer, unet=unet, scheduler=scheduler)


def _sd3(folder: Path):
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    # 16 latent channels as in SD3 (its inpaint pipeline insists on them); joint_attention_dim is T5's
    # width, which the two CLIPs' concatenated hidden states are padded up to.
    transformer = SD3Transformer2DModel(
        sample_size=16, patch_size=2, in_channels=16, out_channels=16, num_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=32, caption_projection_dim=16, pooled_projection_dim=32,
        pos_embed_max_size=32)
    tokenizer = _clip_tokenizer(folder.parent / (folder.name + "-tok"))
    t5_tokenizer, t5 = _t5(folder.parent / (folder.name + "-t5tok"))
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=_vae(16, flow=True),
        text_encoder=_clip(tokenizer, projection=16), tokenizer=tokenizer,
        text_encoder_2=_clip(tokenizer, projection=16), tokenizer_2=tokenizer,
        text_encoder_3=t5, tokenizer_3=t5_tokenizer)


def _flux(folder: Path, guidance_embeds: bool):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    # Packed 2x2 latent patches: the transformer sees 4 latent channels x 4 = 16.
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=16, guidance_embeds=guidance_embeds,
        axes_dims_rope=(4, 4, 8))
    tokenizer = _clip_tokenizer(folder.parent / (folder.name + "-tok"))
    t5_tokenizer, t5 = _t5(folder.parent / (folder.name + "-t5tok"))
    # schnell is timestep-distilled without shift; dev uses the resolution-dependent shift.
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=guidance_embeds,
                                                shift=3.0 if guidance_embeds else 1.0)
    return FluxPipeline(transformer=transformer, scheduler=scheduler, vae=_vae(flow=True),
                        text_encoder=_clip(tokenizer), tokenizer=tokenizer, text_encoder_2=t5, tokenizer_2=t5_tokenizer)


def build_family(family: str, folder: Path) -> Path:
    """A tiny random-weight checkpoint of one family, saved with save_pretrained like a real one."""
    if family == "sd1":
        return build_tiny_pipeline(folder)
    if family == "sd1-inpaint":
        return build_tiny_pipeline(folder, inpainting=True)
    torch.manual_seed(0)
    make = {"sd2-v": lambda: _sd2_v(folder), "sdxl": lambda: _sdxl(folder),
            "sdxl-inpaint": lambda: _sdxl(folder, inpainting=True), "sd3": lambda: _sd3(folder),
            "flux-schnell": lambda: _flux(folder, False), "flux-dev": lambda: _flux(folder, True)}[family]
    make().save_pretrained(folder, safe_serialization=True)
    return folder
