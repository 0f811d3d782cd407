"""A result mapping whose values are computed on first access (numpy only, no state beyond the
values): a layout search evaluates every term over tens of thousands of layouts but ranks on two of
them; the rest are reported for a handful of winners only."""

from __future__ import annotations

from typing import Any, Callable


class LazyResults(dict):
    """Mapping of name -> array where some values are zero-argument callables run once, on first
    access. Iteration order is insertion order of `put`/`lazy`; reading any key gives the value."""

    def __init__(self) -> None:
        super().__init__()
        self._thunks: dict[str, Callable[[], Any]] = {}
        self._order: list[str] = []

    def put(self, key: str, value: Any) -> None:
        if key not in self:
            self._order.append(key)
        self._thunks.pop(key, None)
        dict.__setitem__(self, key, value)

    def lazy(self, key: str, fn: Callable[[], Any]) -> None:
        if key not in self:
            self._order.append(key)
        self._thunks[key] = fn

    def __getitem__(self, key: str) -> Any:
        if not dict.__contains__(self, key):
            if key not in self._thunks:
                raise KeyError(key)
            dict.__setitem__(self, key, self._thunks.pop(key)())
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.put(key, value)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self._thunks

    def __iter__(self):
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def keys(self):
        return list(self._order)

    def items(self):
        return [(k, self[k]) for k in self._order]

    def values(self):
        return [self[k] for k in self._order]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def absorb(self, other: "LazyResults") -> None:
        """Take over another result's values and pending thunks without running them."""
        for k in other._order:
            if dict.__contains__(other, k):
                self.put(k, dict.__getitem__(other, k))
            else:
                self.lazy(k, other._thunks[k])
