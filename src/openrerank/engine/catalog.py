"""ModelCatalog: the models one process serves, by name and alias.

A request may only name a served model or one of its aliases; nothing here ever
resolves a path or downloads a model on a request's behalf.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

from openrerank.config import EngineConfig
from openrerank.engine.service import RerankService
from openrerank.errors import UnknownModelError

logger = logging.getLogger(__name__)

_QUOTED_CHARS = 100
"""Characters of an unknown requested model name repeated in the error message."""


@dataclass(frozen=True)
class CatalogEntry:
    """One served model: the name it was configured with, its aliases, its service."""

    name: str
    aliases: tuple[str, ...]
    service: RerankService


class ModelCatalog:
    """Starts, looks up and stops the services of every served model.

    Args:
        services: one service per model, keyed by the name requests use; the first is
            the default model.
        aliases: alias -> served name.

    Raises:
        ValueError: no services, or an alias that points at no served model or
            shadows a served name.
    """

    def __init__(
        self, services: Mapping[str, RerankService], aliases: Mapping[str, str] | None = None
    ) -> None:
        if not services:
            raise ValueError("a catalog needs at least one model")
        self._services = dict(services)
        self._aliases = dict(aliases or {})
        _check_aliases(self._aliases, self._services)
        self.default = next(iter(self._services))

    @classmethod
    def from_configs(
        cls, configs: Sequence[EngineConfig], aliases: Mapping[str, str] | None = None
    ) -> ModelCatalog:
        """A catalog with one :class:`RerankService` per config, named by its model."""
        services = {config.model.name: RerankService(config) for config in configs}
        if len(services) != len(configs):
            raise ValueError("the same model is configured twice")
        return cls(services, aliases)

    @property
    def entries(self) -> list[CatalogEntry]:
        """Every served model with its aliases, the default first."""
        return [
            CatalogEntry(name, self._aliases_of(name), service)
            for name, service in self._services.items()
        ]

    @property
    def ready(self) -> bool:
        """Every model is loaded and its worker alive."""
        return all(service.ready for service in self._services.values())

    async def check(self) -> bool:
        """:attr:`ready`, after probing any model that repeated failures marked not
        ready (see :meth:`RerankService.check`)."""
        results = await asyncio.gather(*(s.check() for s in self._services.values()))
        return all(results)

    def resolve(self, name: str | None) -> tuple[str, RerankService]:
        """The served name and service for a requested model (``None`` = the default).

        Raises:
            UnknownModelError: the name is neither served nor an alias; the message
                lists what is.
        """
        if name is None:
            return self.default, self._services[self.default]
        served = self._aliases.get(name, name)
        service = self._services.get(served)
        if service is None:
            raise UnknownModelError(
                f"model {_quoted(name)} is not served here; served models: "
                f"{', '.join(self._services)}; aliases: {', '.join(self._aliases) or 'none'}"
            )
        return served, service

    async def start(self) -> None:
        """Load every model (in order; a failure stops the ones already started)."""
        started: list[RerankService] = []
        try:
            for name, service in self._services.items():
                logger.info("loading model %s", name)
                await service.start()
                started.append(service)
        except BaseException:
            await asyncio.gather(*(service.stop() for service in started))
            raise

    async def stop(self) -> None:
        """Stop every model's service."""
        await asyncio.gather(*(service.stop() for service in self._services.values()))

    async def __aenter__(self) -> ModelCatalog:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _aliases_of(self, name: str) -> tuple[str, ...]:
        return tuple(alias for alias, target in self._aliases.items() if target == name)


def _quoted(name: str) -> str:
    """A requested name for a message: quoted, control characters escaped, long ones cut."""
    if len(name) <= _QUOTED_CHARS:
        return repr(name)
    return f"{name[:_QUOTED_CHARS]!r}... ({len(name):,} characters)"


def _check_aliases(aliases: Mapping[str, str], services: Mapping[str, RerankService]) -> None:
    for alias, target in aliases.items():
        if target not in services:
            raise ValueError(
                f"alias {alias!r} points at {target!r}, which is not served "
                f"(served: {', '.join(services)})"
            )
        if alias in services and alias != target:
            raise ValueError(f"alias {alias!r} would hide the served model of that name")
