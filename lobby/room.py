"""What one lobby serves: its gerai, its services, how it speaks and what its voice pack needs.

A ``[[lobby]]`` of the site file may be filtered to a room (``gerai`` and/or
``services``).  :class:`Room` turns that into one answer used by every panel of
the screen and by the voice, so a room's lobby never shows or says another
room's call:

* gerai listed: those gerai; services listed: the gerai serving them;
* services listed: those services; gerai listed: the services those gerai call;
* neither: the whole site.

It also knows the site's spoken names (``spoken`` forms of agencies and services)
and lists every clip the lobby can need (:meth:`Room.clips_needed`): the phrases,
the letters of every prefix, the number words up to the highest ticket number
(the daily quota, or the largest number the padding allows), every gerai, and
the agency or service names the zone's template says.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from antre.central.config import SiteConfig
from antre.lobby.speech import (
    LETTERS, PHRASES, Names, VoiceTemplate, agency_clip, gerai_clip, is_numbered, needs_spoken_form,
    number_words, numbers_vocabulary, said_as, service_clip,
)


@dataclass(frozen=True)
class Room:
    """One lobby's share of the site."""

    lobby: str
    name: str
    gerai: frozenset[str]
    services: frozenset[str]
    template: VoiceTemplate
    names: Names
    viewing_distance_m: float = 8.0
    screen_inches: float = 43.0
    logo: str = ""
    info: str = ""
    max_call_age_s: float = 120.0
    #: the whole site (no filter)
    everything: bool = True

    @classmethod
    def of(cls, site: SiteConfig, lobby: str | None) -> Room:
        conf = site.lobbies.get(lobby) if lobby else None
        gerai = set(site.gerai)
        services = set(site.services)
        everything = True
        if conf is not None and (conf.gerai or conf.services):
            everything = False
            if conf.gerai:
                gerai = set(conf.gerai)
            else:
                gerai = {g.id for g in site.gerai.values() if set(g.services) & set(conf.services)}
            if conf.services:
                services = set(conf.services)
            else:
                services = {s for g in gerai for s in site.gerai[g].services}
        names = Names(
            gerai_numbers={g.id: g.number for g in site.gerai.values()},
            gerai_names={g.id: said_as(g.name) for g in site.gerai.values() if not is_numbered(g.name, g.number)},
            gerai_agency={g.id: g.agency for g in site.gerai.values()},
            agencies={a.id: a.spoken or said_as(a.short) for a in site.agencies.values()},
            services={s.id: s.spoken or said_as(s.name) for s in site.services.values()},
        )
        template = VoiceTemplate(conf.announce_with, conf.repeat_number) if conf else VoiceTemplate()
        return cls(
            lobby=lobby or "", name=conf.name if conf else site.site.name, gerai=frozenset(gerai),
            services=frozenset(services), template=template, names=names,
            viewing_distance_m=conf.viewing_distance_m if conf else 8.0,
            screen_inches=conf.screen_inches if conf else 43.0, logo=conf.logo if conf else "",
            info=conf.info if conf else "", max_call_age_s=conf.max_call_age_s if conf else 120.0,
            everything=everything,
        )

    def shows_gerai(self, gerai: str) -> bool:
        return gerai in self.gerai

    def shows_service(self, service: str) -> bool:
        return service in self.services

    def shows_call(self, gerai: str, service: str | None = None) -> bool:
        """A call belongs to this room when its gerai does (and its service, when known and filtered)."""
        if gerai not in self.gerai:
            return False
        return self.everything or service is None or service in self.services or not self.services

    def clips_needed(self, site: SiteConfig) -> dict[str, str]:
        """Every clip this lobby can play and the text it says (for building and checking a pack)."""
        needed: dict[str, str] = dict(PHRASES)
        services = [site.services[s] for s in sorted(self.services | _called_by(site, self.gerai))]
        for svc in services:
            for letter in svc.prefix:
                name = LETTERS[letter]
                needed[f"letter_{name}"] = name
        highest = max((svc.daily_quota or 10 ** svc.padding - 1 for svc in services), default=999)
        for word in numbers_vocabulary(highest):
            needed[word] = word
        for gid in sorted(self.gerai):
            if gid in self.names.gerai_names:
                needed[gerai_clip(gid)] = self.names.gerai_names[gid]
            else:
                for word in number_words(site.gerai[gid].number):
                    needed[word] = word
        if self.template.announce_with == "agency":
            for aid in sorted({site.gerai[g].agency for g in self.gerai}):
                needed[agency_clip(aid)] = self.names.agencies[aid]
        elif self.template.announce_with == "service":
            for svc in services:
                needed[service_clip(svc.id)] = self.names.services[svc.id]
        return needed

    def unspoken_abbreviations(self, site: SiteConfig) -> list[str]:
        """Names the template says that look like abbreviations but have no ``spoken`` form."""
        found = []
        if self.template.announce_with == "agency":
            for aid in sorted({site.gerai[g].agency for g in self.gerai}):
                a = site.agencies[aid]
                if a.spoken is None and needs_spoken_form(a.short):
                    found.append(f"agency {aid} ({a.short!r})")
        elif self.template.announce_with == "service":
            for sid in sorted(self.services):
                s = site.services[sid]
                if s.spoken is None and needs_spoken_form(s.name):
                    found.append(f"service {sid} ({s.name!r})")
        return found


def _called_by(site: SiteConfig, gerai: frozenset[str]) -> set[str]:
    return {s for g in gerai for s in site.gerai[g].services}


def site_clips(site: SiteConfig) -> dict[str, str]:
    """Every clip any lobby of the site can need (every lobby, or the whole site without one)."""
    rooms = [Room.of(site, lid) for lid in site.lobbies] or [Room.of(site, None)]
    needed: dict[str, str] = {}
    for room in rooms:
        needed.update(room.clips_needed(site))
    return needed


def site_folder(site: SiteConfig) -> Path:
    return Path(site.source).resolve().parent
