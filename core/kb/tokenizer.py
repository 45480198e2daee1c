"""A jieba tokenizer on the compact dictionary (`core.kb.dictionary`), loaded once per process.

`CompactTokenizer` is jieba's own ``Tokenizer`` (its cut, search mode, tokenize, add_word and
suggest_freq unchanged) whose ``FREQ`` answers the same questions from the shared trie plus a
small dict of the words added to that tokenizer; only the DAG of a sentence is read from the
trie directly. It cuts text exactly as jieba does with its default dictionary
(tests/unit/kb/test_dictionary.py compares the two).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.machinery
import importlib.util
import sys
import types
from functools import lru_cache
from typing import Any

from core.kb.dictionary import Dictionary


def _import_jieba() -> Any:
    """jieba, imported without pkg_resources (10 MB): jieba then opens its files directly; and
    with its HMM model (``jieba.finalseg``: 3 MB of probability tables) loaded only if something
    uses it, which our cuts (``HMM=False``) never do."""
    if "jieba" not in sys.modules:
        _lazy_hmm_model()
    if "jieba" not in sys.modules and "pkg_resources" not in sys.modules:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]
        try:
            import jieba
        finally:
            del sys.modules["pkg_resources"]
    import jieba

    jieba.setLogLevel(60)  # jieba prints its dictionary loading to stderr otherwise
    return jieba


class _OnFirstUse(types.ModuleType):
    """A module that runs (the real one taking its place) when first asked for a name it has
    not got; until then, only its import attributes (``__spec__``, ``__path__``) exist."""

    def __getattr__(self, name: str) -> Any:
        spec = self.__spec__
        assert spec is not None and spec.loader is not None
        real = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = real
        try:
            spec.loader.exec_module(real)
        except BaseException:
            sys.modules[spec.name] = self
            raise
        self.__dict__.update(real.__dict__)  # who imported this one sees the real names now
        return getattr(real, name)


def _lazy_hmm_model() -> None:
    """``jieba.finalseg`` as a module that runs (loading its tables) at its first use: jieba's
    HMM cuts and ``add_word(w, 0)`` still work, loading it then."""
    found = importlib.util.find_spec("jieba")
    if found is None or not found.submodule_search_locations:
        return
    spec = importlib.machinery.PathFinder.find_spec(
        "jieba.finalseg", list(found.submodule_search_locations)
    )
    if spec is None or spec.loader is None:
        return
    module = _OnFirstUse(spec.name)
    module.__spec__, module.__loader__ = spec, spec.loader
    module.__package__, module.__path__ = spec.name, list(spec.submodule_search_locations or [])
    module.__file__ = spec.origin
    sys.modules[spec.name] = module


jieba = _import_jieba()


@lru_cache(maxsize=1)
def default_dictionary() -> Dictionary:
    """jieba's default dictionary (the file jieba itself reads), once per process."""
    dictionary = Dictionary(jieba.Tokenizer().get_dict_file)
    release_free_memory()
    return dictionary


def release_free_memory() -> None:
    """Hand the heap that building freed back to the system: glibc keeps it otherwise (some 16
    MB after the trie's builder, counted in the process's RSS). Elsewhere, nothing happens."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


class Frequencies:
    """A tokenizer's ``FREQ``: the shared dictionary, overlaid with its own added words."""

    def __init__(self, base: Dictionary) -> None:
        self.base = base
        self.own: dict[str, int] = {}
        self.own_by_first: dict[str, list[str]] = {}

    def get(self, key: str, default: int | None = None) -> int | None:
        if key in self.own:
            return self.own[key]
        found = self.base.frequency(key)
        return default if found is None else found

    def __contains__(self, key: str) -> bool:
        return key in self.own or self.base.frequency(key) is not None

    def __getitem__(self, key: str) -> int:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __setitem__(self, key: str, value: int) -> None:
        if key not in self.own:
            self.own_by_first.setdefault(key[0], []).append(key)
        self.own[key] = value


class CompactTokenizer(jieba.Tokenizer):  # type: ignore[misc]
    """jieba's tokenizer on the compact dictionary, ready to cut (no words of its own yet)."""

    def __init__(self, dictionary: Dictionary | None = None) -> None:
        super().__init__()
        self.base = dictionary or default_dictionary()
        self.FREQ = Frequencies(self.base)
        self.total = self.base.total
        self.initialized = True

    def get_DAG(self, sentence: str) -> dict[int, list[int]]:  # jieba's name
        """jieba's DAG: for each position, the ends of the words that start there.

        jieba walks ever longer fragments while they are in FREQ; as FREQ holds every prefix
        of every word, that walk finds exactly the words (non-zero frequency) that begin the
        rest of the sentence, which the trie lists at once. Added words override the trie's."""
        own, own_by_first = self.FREQ.own, self.FREQ.own_by_first
        trie, freqs, longest = self.base.words, self.base.freq, self.base.longest
        zeros = self.base.zeros
        dag: dict[int, list[int]] = {}
        for k in range(len(sentence)):
            rest = sentence[k : k + longest]
            added = own_by_first.get(sentence[k])
            if added is None and not zeros:  # prefixes come shortest first
                ends = [k + len(word) - 1 for word in trie.prefixes(rest)]
            else:
                found = {k + len(w) - 1: freqs[key] for w, key in trie.iter_prefixes_with_ids(rest)}
                for word in added or ():
                    if sentence.startswith(word, k):
                        found[k + len(word) - 1] = own[word]
                ends = sorted(end for end, f in found.items() if f)
            dag[k] = ends or [k]
        return dag
