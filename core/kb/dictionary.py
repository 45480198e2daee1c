"""jieba's main dictionary in compact form: words, frequencies and part-of-speech classes.

jieba keeps its dictionary as a Python dict of every word and every prefix of a word (about
500,000 strings, some 65 MB), and jieba.posseg its part-of-speech table as a second dict (50
MB more, and 50 MB of tagging model on import). Here the words live in one MARISA trie (a few
MB), their frequencies and the one thing the ranking needs of their part of speech in arrays
indexed by the trie's key ids. `core.kb.tokenizer` cuts text with it exactly as jieba does.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from typing import IO

import marisa_trie

# jieba part-of-speech tags (first letter) of words that set the scene rather than name a
# fault: time, numeral, locality, onomatopoeia, state, pronoun, adverb, place, measure, ...
CONTEXT_TAGS = frozenset("tmfozrdsqupcye")
OTHER, CONTEXT, VERB_OR_ADJECTIVE = 0, 1, 2  # part-of-speech classes (what the ranking needs)


def tag_class(tag: str) -> int:
    tag = tag or "x"
    if tag[0] in CONTEXT_TAGS:
        return CONTEXT
    if tag[0] in "va" and tag != "vn":
        return VERB_OR_ADJECTIVE
    return OTHER


def _entries(f: IO[bytes]) -> Iterator[tuple[str, int, str]]:
    """(word, frequency, tag) of each line of a jieba dictionary file, as jieba reads them."""
    with f:
        for line in f:
            word, freq, tag = line.strip().decode("utf-8").split(" ")
            yield word, int(freq), tag  # (jieba splits on " " too: no spaces in a word)


class Dictionary:
    """jieba's default dictionary: words, frequencies, total and part-of-speech classes."""

    def __init__(self, open_file: Callable[[], IO[bytes]]) -> None:
        with open_file() as f:
            self.words = marisa_trie.Trie(line.strip().split(b" ")[0].decode() for line in f)
        self.freq = array("q", bytes(8 * len(self.words)))
        self.tag = array("b", bytes(len(self.words)))
        self.total = 0
        self.longest = 1  # characters of the longest word
        for word, freq, tag in _entries(open_file()):  # the last of a repeated word wins
            key = self.words[word]
            self.freq[key], self.tag[key] = freq, tag_class(tag)
            self.total += freq  # jieba adds every line, repeated words too
            self.longest = max(self.longest, len(word))
        self.zeros = 0 in self.freq  # words of frequency 0 (none in jieba's own dictionary)

    def frequency(self, word: str) -> int | None:
        """jieba's FREQ: a word's frequency, 0 for a prefix of a word, None for anything else."""
        key = self.words.get(word)
        if key is not None:
            return self.freq[key]
        return 0 if next(self.words.iterkeys(word), None) is not None else None

    def word_class(self, word: str) -> int | None:
        key = self.words.get(word)
        return None if key is None else self.tag[key]
