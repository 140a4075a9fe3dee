"""The composition root: builds the real components from settings, once."""

from __future__ import annotations

from dataclasses import dataclass

from orderloom.api.keys import KeyRing
from orderloom.core.clock import Clock, SystemClock
from orderloom.core.settings import Settings
from orderloom.dictionary import Dictionary, load_dictionary
from orderloom.packs.loading import pack_dictionaries
from orderloom.status.directory import OrderDirectory
from orderloom.status.intake import Intake
from orderloom.status.pauses import IntakePauses
from orderloom.status.reading import OrderReader
from orderloom.store import EventStore, open_store
from orderloom.views.factory import open_view_store
from orderloom.views.port import ViewStore


@dataclass(slots=True)
class Services:
    """Everything the API and the CLI use, wired together."""

    settings: Settings
    store: EventStore
    dictionary: Dictionary
    clock: Clock
    directory: OrderDirectory
    intake: Intake
    reader: OrderReader
    keys: KeyRing
    views: ViewStore

    def close(self) -> None:
        self.views.close()
        self.store.close()


def build_services(settings: Settings, *, store: EventStore | None = None, clock: Clock | None = None) -> Services:
    """Open the store and load the dictionary named by `settings`."""
    opened = store is None
    store = store or open_store(settings.db_url)
    try:
        # Installed industry packs add their event types on top of the user's files (see packs/loading.py).
        dictionary = load_dictionary([*settings.dictionary_paths, *pack_dictionaries(store)])
    except Exception:
        if opened:
            store.close()
        raise
    clock = clock or SystemClock()
    directory = OrderDirectory(store)
    intake = Intake(store, dictionary, clock, directory)
    intake.guards.append(IntakePauses(store).problem)
    return Services(
        settings=settings,
        store=store,
        dictionary=dictionary,
        clock=clock,
        directory=directory,
        intake=intake,
        reader=OrderReader(store, dictionary, directory),
        keys=KeyRing(intake),
        views=open_view_store("memory://" if settings.db_url.startswith("memory:") else settings.db_url),
    )
