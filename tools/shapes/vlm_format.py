"""What the shapes critic model reads and writes: its questions, its answers and its tokenizer.

The formats are the ones any PaliGemma-style critic is asked in (agreed with the generic ``hf:``
critic, which loads this model like a hub VLM):

* VQAScore: ``Does this figure show "{text}"? Please answer Yes or No.`` -> ``Yes`` or ``No``, where
  ``{text}`` is a checklist requirement's text as ``tools/shapes/brief.py`` writes it.
* Localisation: ``detect {label}`` -> ``<locY0><locX0><locY1><locX1> {label}`` per instance, joined by
  `` ; ``, coordinates ``round(v * 1023)`` of the normalised box; ``none`` when nothing matches.

The tokenizer is word-level, in SentencePiece's convention (``▁`` marks a word that follows a
space, as Gemma's does), so decoding restores spacing exactly and ``Yes`` right after the prompt's
newline is one token, the one whose probability VQAScore reads.
"""
from __future__ import annotations

import re

from tools.shapes.vocab import tokenizer_words

QUESTION = 'Does this figure show "{text}"? Please answer Yes or No.'
YES, NO = "Yes", "No"
DETECT = "detect {label}"
NONE = "none"
SEPARATOR = " ; "
LOC_BINS = 1024

PAD, EOS, BOS, UNK, IMAGE = "<pad>", "<eos>", "<bos>", "<unk>", "<image>"
SPACE = "\u2581"
LOC_TOKENS = [f"<loc{i:04d}>" for i in range(LOC_BINS)]
# PaliGemma's processor adds these to any tokenizer it wraps; owning them keeps the ids fixed.
SEG_TOKENS = [f"<seg{i:03d}>" for i in range(128)]

# Requirement texts use the brief grammar's words plus these (tools/shapes/brief.py).
_REQUIREMENT_WORDS = ("exactly", "is", "are")
_PROMPT_WORDS = tuple(re.findall(r"[A-Za-z]+", QUESTION)) + ("detect", NONE)
_PUNCTUATION = ('"', "?", ".", ",", ";")

# The chat template: every image first (PaliGemma's prefix; its processor puts <bos> after the last
# image and ends the prompt with a newline, the cue to answer), then the question. One user turn.
CHAT_TEMPLATE = (
    "{%- if messages | length != 1 or messages[0]['role'] != 'user' -%}"
    "{{ raise_exception('the shapes critic answers one user turn: an image and a question') }}"
    "{%- endif -%}"
    "{%- set content = messages[0]['content'] -%}"
    "{%- if content is string -%}{{ content }}{%- else -%}"
    "{%- for part in content if part['type'] == 'image' -%}<image>{%- endfor -%}"
    "{%- for part in content if part['type'] == 'text' -%}{{ part['text'] }}{%- endfor -%}"
    "{%- endif -%}"
)


def vqa_question(text: str) -> str:
    return QUESTION.format(text=text)


def detect_question(label: str) -> str:
    return DETECT.format(label=label)


def loc_tokens(box: tuple[float, float, float, float]) -> str:
    """A normalised (x0, y0, x1, y1) box as PaliGemma's four tokens, y before x."""
    x0, y0, x1, y1 = (min(LOC_BINS - 1, max(0, round(v * (LOC_BINS - 1)))) for v in box)
    return "".join(LOC_TOKENS[v] for v in (y0, x0, y1, x1))


def detect_answer(label: str, boxes: list[tuple[float, float, float, float]]) -> str:
    if not boxes:
        return NONE
    return SEPARATOR.join(f"{loc_tokens(b)} {label}" for b in boxes)


_INSTANCE = re.compile(r"<loc(\d{4})><loc(\d{4})><loc(\d{4})><loc(\d{4})>\s*([^;<]*)")


def parse_detect_answer(text: str) -> list[tuple[tuple[float, float, float, float], str]]:
    """(normalised x0, y0, x1, y1 box, label) per instance in a localisation answer."""
    out = []
    for m in _INSTANCE.finditer(text):
        y0, x0, y1, x1 = (int(v) / (LOC_BINS - 1) for v in m.groups()[:4])
        out.append(((x0, y0, x1, y1), m.group(5).strip()))
    return out


def vocabulary() -> list[str]:
    """Every token, in id order: specials (Gemma's ids), the newline, words, locations."""
    words = sorted(set(tokenizer_words()) | set(_REQUIREMENT_WORDS) | set(_PROMPT_WORDS) | {YES, NO})
    pieces: list[str] = []
    for w in [*words, *_PUNCTUATION]:
        pieces += [w, SPACE + w]  # a word at the start of a segment, and after a space
    return [PAD, EOS, BOS, UNK, IMAGE, "\n", SPACE, *dict.fromkeys(pieces), *LOC_TOKENS, *SEG_TOKENS]


def build_tokenizer():
    """The word-level tokenizer as a transformers fast tokenizer (left padding: batched questions
    end at the last position, where the answer is read)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(vocabulary())}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.normalizer = normalizers.Replace(" ", SPACE)
    tok.pre_tokenizer = pre_tokenizers.Split(
        Regex(f"{SPACE}?[A-Za-z0-9]+|{SPACE}?[^A-Za-z0-9{SPACE}]|{SPACE}"), behavior="isolated")
    tok.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.Fuse()])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in (PAD, EOS, BOS, UNK, IMAGE)])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ["\n", *LOC_TOKENS, *SEG_TOKENS]])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   unk_token=UNK, padding_side="left", model_max_length=256,
                                   extra_special_tokens={"image_token": IMAGE})
