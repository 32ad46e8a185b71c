#!/usr/bin/python3
"""A small pure-Python CLIP byte-level BPE tokenizer (Hugging Face CLIPTokenizer file format) and a builder for
the small vocabulary the shapes model uses.

The vocabulary holds every byte-level character and its word-final form ("</w>"), the merges that spell each
dataset word as one token, and <|startoftext|> / <|endoftext|> as the last two ids, so any text still tokenizes
(unknown words fall back to smaller pieces). diffscope's C++ tokenizer reads the same files.
"""
import functools
import html
import json
import re

PAT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.IGNORECASE)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def clean(text):
    text = html.unescape(html.unescape(text))
    return re.sub(r"\s+", " ", text).strip().lower()


class ClipBPE:
    def __init__(self, vocab, merges):
        self.encoder = vocab
        self.decoder = {v: k for k, v in vocab.items()}
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.bos = vocab["<|startoftext|>"]
        self.eos = vocab["<|endoftext|>"]

    @classmethod
    def from_files(cls, vocab_json, merges_txt):
        with open(vocab_json, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_txt, encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split()) for l in lines[1:] if l.strip() and not l.startswith("#")]
        return cls(vocab, merges)

    @functools.lru_cache(maxsize=4096)
    def bpe(self, token):
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        return word

    def encode(self, text):
        ids = []
        for piece in PAT.findall(clean(text)):
            if piece in ("<|startoftext|>", "<|endoftext|>"):
                ids.append(self.encoder[piece])
                continue
            token = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token))
        return ids

    def context(self, text, max_length=77):
        """SD 1.x style: [bos, tokens..., eos] truncated to max_length, padded with eos."""
        ids = [self.bos] + self.encode(text)[: max_length - 2] + [self.eos]
        return ids + [self.eos] * (max_length - len(ids))


def build_vocab(words):
    """Vocabulary + merges that spell each of `words` as one word-final token.

    Merges are added until every word's BPE ends in a single token: a merge appended later has a higher rank,
    so it never changes how an already-finished word splits."""
    be = bytes_to_unicode()
    chars = list(be.values())
    vocab_list = chars + [c + "</w>" for c in chars]
    merges = []
    seen = set(vocab_list)
    words = sorted(set(words))
    changed = True
    while changed:
        changed = False
        tmp = ClipBPE({t: i for i, t in enumerate(vocab_list + ["<|startoftext|>", "<|endoftext|>"])}, merges)
        for w in words:
            pieces = tmp.bpe("".join(be[b] for b in w.encode("utf-8")))
            if len(pieces) > 1:
                a, b = pieces[0], pieces[1]
                merges.append((a, b))
                if a + b not in seen:
                    seen.add(a + b)
                    vocab_list.append(a + b)
                changed = True
                break
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(vocab_list)}
    return vocab, merges


def write_vocab(folder, vocab, merges):
    import os
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")


def shapes_words():
    from shapes_dataset import PALETTE, SHAPES, SIZES, POSITIONS, FUNCTION_WORDS
    return list(PALETTE) + SHAPES + list(SIZES) + POSITIONS + sorted(FUNCTION_WORDS) + ["of", "in", "with", "an"]
