"""Tiny random-weight vision-language models and open-vocabulary detectors, built in code and saved
with ``save_pretrained`` like real ones, so tests load them only through ``hf:FOLDER``.

Three VLM families whose processors need no torchvision (Idefics3, LLaVA, PaliGemma) and two
detectors (OWLv2, Grounding DINO). Tokenizers are written here too: a byte-level BPE trained on a
few sentences (every byte is a token, so any JSON can be written), with the special tokens each
processor expects; the chat templates follow the real models'. Hidden sizes 16-32, one or two
layers, 32-pixel images: each builds in well under a second.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

VLM_FAMILIES = ("idefics3", "llava", "paligemma")
DETECTORS = ("owlv2", "grounding-dino")

_CORPUS = ['Does this figure show "a red circle"? Please answer Yes or No.', "Yes", "No", "yes", "no",
           "a red circle to the left of a blue square, yellow background", "detect red circle ; blue square",
           '{"verdicts": [{"id": "r1", "passed": true, "confidence": 0.9, "evidence": "", "box": null}]}']

# As the released Idefics3 and llava-hf templates render one user turn with an image.
IDEFICS3_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}")
LLAVA_TEMPLATE = (
    "{% for message in messages %}{{ message['role'].upper() + ': '}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}")


def byte_tokenizer(extra_special: tuple[str, ...] = ()):
    """A byte-level BPE tokenizer (GPT-2 style), trained in code; left padding as VLM batches need."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|bos|>", "<|eos|>", "<|pad|>", "<unk>", *extra_special]
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|eos|>",
                                   pad_token="<|pad|>", unk_token="<unk>", padding_side="left")


def _llama(vocab: int, pad: int):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096, pad_token_id=pad)


def _idefics3():
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3Processor, Idefics3VisionConfig
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    tok = byte_tokenizer(("<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"))
    images = Idefics3ImageProcessorPil(size={"longest_edge": 32}, max_image_size={"longest_edge": 32},
                                       do_image_splitting=False)
    # image_seq_len = (32 / 8) ** 2 patches / scale_factor ** 2
    processor = Idefics3Processor(image_processor=images, tokenizer=tok, image_seq_len=4,
                                  chat_template=IDEFICS3_TEMPLATE)
    vision = Idefics3VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                  image_size=32, patch_size=8)
    config = Idefics3Config(vision_config=vision, text_config=_llama(len(tok), tok.pad_token_id), scale_factor=2,
                            image_token_id=tok.convert_tokens_to_ids("<image>"))
    return Idefics3ForConditionalGeneration(config), processor


def _llava():
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tok = byte_tokenizer(("<image>",))
    images = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(image_processor=images, tokenizer=tok, patch_size=8, num_additional_image_tokens=1,
                               vision_feature_select_strategy="default", chat_template=LLAVA_TEMPLATE)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=32)
    config = LlavaConfig(vision_config=vision, text_config=_llama(len(tok), tok.pad_token_id),
                         image_token_index=tok.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-1)
    return LlavaForConditionalGeneration(config), processor


def _paligemma():
    from transformers import (GemmaConfig, PaliGemmaConfig, PaliGemmaForConditionalGeneration, PaliGemmaProcessor,
                              SiglipVisionConfig)
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tok = byte_tokenizer(("<image>",))
    images = SiglipImageProcessorPil(size={"height": 32, "width": 32})
    images.image_seq_length = 16  # (32 / 8) ** 2 patches
    processor = PaliGemmaProcessor(image_processor=images, tokenizer=tok)  # adds <loc0000>..<loc1023>, <seg...>
    vocab = len(processor.tokenizer)
    vision = SiglipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                image_size=32, patch_size=8)
    text = GemmaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=1, head_dim=16, pad_token_id=tok.pad_token_id)
    config = PaliGemmaConfig(vision_config=vision, text_config=text, vocab_size=vocab, projection_dim=32,
                             hidden_size=32, image_token_index=processor.tokenizer.convert_tokens_to_ids("<image>"))
    return PaliGemmaForConditionalGeneration(config), processor


def _owlv2(folder: Path):
    from transformers import CLIPTokenizerFast, Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor
    from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

    from tests.tiny_models import write_tiny_tokenizer

    write_tiny_tokenizer(folder.parent / (folder.name + "-tok"))
    tok = CLIPTokenizerFast.from_pretrained(folder.parent / (folder.name + "-tok"))
    processor = Owlv2Processor(image_processor=Owlv2ImageProcessorPil(size={"height": 32, "width": 32}), tokenizer=tok)
    text = dict(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=16, bos_token_id=len(tok) - 2, eos_token_id=len(tok) - 1,
                pad_token_id=len(tok) - 1)
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32,
                  patch_size=8)
    return Owlv2ForObjectDetection(Owlv2Config(text_config=text, vision_config=vision, projection_dim=16)), processor


def _grounding_dino(folder: Path):
    from transformers import (BertConfig, BertTokenizerFast, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoProcessor, SwinConfig)
    from transformers.models.grounding_dino.image_processing_pil_grounding_dino import GroundingDinoImageProcessorPil

    vocab_dir = folder.parent / (folder.name + "-tok")
    vocab_dir.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "red", "blue", "green", "circle", "square",
             "triangle", *"abcdefghijklmnopqrstuvwxyz"]
    (vocab_dir / "vocab.txt").write_text("\n".join(words) + "\n")
    tok = BertTokenizerFast(vocab_file=str(vocab_dir / "vocab.txt"))
    # 64 pixels: the smallest feature map of the last stage must hold more than one value.
    images = GroundingDinoImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 64})
    backbone = SwinConfig(window_size=2, image_size=64, embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
                          out_features=["stage2", "stage3", "stage4"])
    text = BertConfig(vocab_size=len(tok), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=16, max_position_embeddings=64)
    # Two decoder layers: the box heads are shared between layers, and one layer leaves nothing to share.
    config = GroundingDinoConfig(backbone_config=backbone, text_config=text, d_model=32, num_queries=8,
                                 encoder_layers=1, decoder_layers=2, encoder_ffn_dim=16, decoder_ffn_dim=16,
                                 encoder_attention_heads=2, decoder_attention_heads=2, num_feature_levels=3,
                                 encoder_n_points=2, decoder_n_points=2, max_text_len=32)
    return GroundingDinoForObjectDetection(config), GroundingDinoProcessor(image_processor=images, tokenizer=tok)


def build_vlm(family: str, folder: Path, chat_template: bool = True) -> Path:
    """A tiny random-weight VLM of ``family`` saved in ``folder``; ``chat_template=False`` leaves the
    processor without one (as a base model's)."""
    torch.manual_seed(0)
    model, processor = {"idefics3": _idefics3, "llava": _llava, "paligemma": _paligemma}[family]()
    if not chat_template:
        processor.chat_template = None
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    if not chat_template:
        for name in ("chat_template.jinja", "chat_template.json"):
            (folder / name).unlink(missing_ok=True)
        _drop_key(folder / "processor_config.json", "chat_template")
        _drop_key(folder / "tokenizer_config.json", "chat_template")
    return folder


def build_detector(family: str, folder: Path) -> Path:
    torch.manual_seed(0)
    model, processor = {"owlv2": _owlv2, "grounding-dino": _grounding_dino}[family](folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _drop_key(path: Path, key: str) -> None:
    if path.is_file():
        data = json.loads(path.read_text())
        data.pop(key, None)
        path.write_text(json.dumps(data))
