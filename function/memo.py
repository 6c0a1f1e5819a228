"""A least-recently-used memo bounded by the bytes it holds, not by its number of entries.

An entry count says nothing about memory when one request's answer can be 10 kB or,
with a kubeconfig near its 1 MiB cap, more than 1 MB; a byte bound holds whatever the
requests carry.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# What Python spends on an entry beyond the bytes its size function counts: the
# OrderedDict slot and links, the key and the value's own object headers.
ENTRY_OVERHEAD = 400


class BoundedMemo(Generic[K, V]):
    """Remembers values until their total size would exceed max_bytes, oldest out first.

    A value larger than max_entry_bytes is not remembered at all: keeping it would push
    out many ordinary entries to serve one unusual request.
    """

    def __init__(
        self, max_bytes: int, size: Callable[[V], int], max_entry_bytes: int | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_bytes // 8 if max_entry_bytes is None else max_entry_bytes
        self._size = size
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self.bytes = 0
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        """The remembered value, now the most recently used; None when not remembered."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[0]

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
        self.bytes = 0

    def put(self, key: K, value: V) -> bool:
        """Remember value, forgetting the least recently used until it fits; False when
        it is too large to remember."""
        size = self._size(value) + ENTRY_OVERHEAD
        if size > self.max_entry_bytes:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._entries[key] = (value, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.bytes -= dropped
        return True
