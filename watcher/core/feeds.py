"""Atom and RSS 2.0 feeds of stored change events (pure).

Each new version that brought changes is one entry: its id names the trial, the version and
the version's content hash, so it never changes once published and a later revision of the
trial can never reuse it. The entry text is what was stored when the change was found (the
plain-English sentence of each change, and the exact old → new values), never recomputed, so
a feed reader sees the same words the email said. The XML is built with ElementTree and
written as its writer writes it (`_markup`), which escapes every text node and attribute:
trial text may hold `<script>` or `&`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from watcher.core.change import Change, ChangeEvent
from watcher.core.ids import registry_url
from watcher.core.wording import format_changes

ATOM = "http://www.w3.org/2005/Atom"
TITLE_WIDTH = 120
XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"  # as ElementTree writes it


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What a feed is about: its stable id, its title, where it is published (if anywhere)."""

    id: str
    title: str
    subtitle: str
    link: str  # a web page about the feed's subject
    self_url: str | None = None  # the feed's own public URL, when [web] base_url is set


@dataclass(frozen=True, slots=True)
class Entry:
    """One change event as a feed entry."""

    id: str
    title: str
    updated: datetime
    link: str
    text: str  # plain text: sentences, then the exact values
    html: str  # the same as HTML


def entry_id(event: ChangeEvent) -> str:
    """Stable and unique: trial, version and content hash."""
    return f"urn:trialwatch:{event.nct_id}:v{event.to_version}:{event.content_hash[:16]}"


# Entries already made, by entry id and the ids of the changes kept: a release's trial feed and
# the private feeds of its many subscribers show the same entries, made once (`entries`).
EntryMemo = dict[tuple[str, tuple[int, ...]], "Entry"]
# Entries written out, by format and entry: a release's private feeds show the entries of its
# trials' feeds, and entries are most of a feed's cost to write (an Atom and RSS pair of 11
# entries: 426 us, 103 us with the entries written out before).
Written = dict[tuple[str, "Entry"], str]


def entries(
    events: Sequence[ChangeEvent],
    keep: Callable[[str, Change], bool] | None = None,
    memo: EntryMemo | None = None,
) -> list[Entry]:
    """Entries for the events (newest first), with only the changes `keep` accepts; `memo`
    keeps the entries made, for the next feed that shows them."""
    made: list[Entry] = []
    for event in events:
        kept = [c for c in event.changes if keep is None or keep(event.nct_id, c.change)]
        if not kept:
            continue
        key = (entry_id(event), tuple(c.id for c in kept))
        if memo is not None and key in memo:
            made.append(memo[key])
            continue
        sentences = [c.sentence or "" for c in kept if c.sentence]
        exact = format_changes([c.change for c in kept])
        lead = sentences[0] if sentences else f"{len(kept)} change(s)"
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        title = f"{event.nct_id}: {lead}{more}"
        if len(title) > TITLE_WIDTH:
            title = title[: TITLE_WIDTH - 1] + "…"
        text = "\n".join(sentences) + ("\n\n" if sentences else "") + exact
        entry = Entry(
            id=entry_id(event),
            title=title,
            updated=datetime.fromisoformat(event.detected_at),
            link=registry_url(event.nct_id),
            text=text,
            html=_html(event, sentences, exact),
        )
        if memo is not None:
            memo[key] = entry
        made.append(entry)
    return made


def _html(event: ChangeEvent, sentences: Sequence[str], exact: str) -> str:
    """An XHTML-free fragment: escaped here once, as the feed's text content escapes it again."""
    body = ET.Element("div")
    if event.brief_title:
        ET.SubElement(body, "p").text = event.brief_title
    listing = ET.SubElement(body, "ul")
    for sentence in sentences:
        ET.SubElement(listing, "li").text = sentence
    ET.SubElement(body, "pre").text = exact
    link = ET.SubElement(ET.SubElement(body, "p"), "a", href=registry_url(event.nct_id))
    link.text = f"{event.nct_id} on ClinicalTrials.gov"
    return ET.tostring(body, encoding="unicode", method="html")


def atom(
    info: FeedInfo, items: Sequence[Entry], updated: datetime, written: Written | None = None
) -> bytes:
    """An Atom 1.0 document; `written` keeps the entries written out, for the next feed."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", info.id)
    _text(feed, "title", info.title)
    _text(feed, "subtitle", info.subtitle)
    _text(feed, "updated", _newest(items, updated).isoformat())
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=info.link)
    if info.self_url:
        link = ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=info.self_url)
        link.set("type", "application/atom+xml")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "trialwatch")
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "trialwatch"
    for item in items:
        feed.append(_entry("atom", item, written))
    return _document(feed)


def _atom_entry(item: Entry) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _text(entry, "id", item.id)
    _text(entry, "title", item.title)
    _text(entry, "updated", item.updated.isoformat())
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=item.link)
    _text(entry, "summary", item.text)
    content = ET.SubElement(entry, f"{{{ATOM}}}content", type="html")
    content.text = item.html
    return entry


def rss(
    info: FeedInfo, items: Sequence[Entry], updated: datetime, written: Written | None = None
) -> bytes:
    """An RSS 2.0 document; `written` keeps the entries written out, for the next feed."""
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = info.title
    ET.SubElement(channel, "link").text = info.link
    if info.self_url:  # the RSS Advisory Board's advice: a feed names its own address
        root.set("xmlns:atom", ATOM)  # a literal prefix: ElementTree's map is global
        self_link = ET.SubElement(channel, "atom:link", rel="self", href=info.self_url)
        self_link.set("type", "application/rss+xml")
    ET.SubElement(channel, "description").text = info.subtitle
    ET.SubElement(channel, "lastBuildDate").text = format_datetime(_newest(items, updated))
    ET.SubElement(channel, "generator").text = "trialwatch"
    for item in items:
        channel.append(_entry("rss", item, written))
    return _document(root)


def _rss_item(item: Entry) -> ET.Element:
    node = ET.Element("item")
    ET.SubElement(node, "title").text = item.title
    ET.SubElement(node, "link").text = item.link
    ET.SubElement(node, "guid", isPermaLink="false").text = item.id
    ET.SubElement(node, "pubDate").text = format_datetime(item.updated)
    ET.SubElement(node, "description").text = item.html
    return node


# Each format's entry element and its depth in the document (Atom: feed/entry; RSS:
# rss/channel/item), which its indentation is made of.
_ENTRIES = {"atom": (_atom_entry, 1), "rss": (_rss_item, 2)}


class _Written(ET.Element):
    """An entry already written out, in the document where its element would be."""

    def __init__(self, markup: str) -> None:
        super().__init__("written")
        self.markup = markup


def _entry(kind: str, item: Entry, written: Written | None) -> ET.Element:
    """The entry's element; with `written`, the entry as written out, once per format for
    every feed that shows it (its markup depends on nothing but the entry and its depth)."""
    make, depth = _ENTRIES[kind]
    if written is None:
        return make(item)
    markup = written.get((kind, item))
    if markup is None:
        element = make(item)
        ET.indent(element, level=depth)
        out: list[str] = []
        _markup(element, out)
        markup = written[kind, item] = "".join(out)
    return _Written(markup)


def _newest(items: Sequence[Entry], fallback: datetime) -> datetime:
    """A feed is as new as its newest entry, so rewriting it unchanged changes nothing."""
    return max((i.updated for i in items), default=fallback)


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}{tag}").text = value


def _document(root: ET.Element) -> bytes:
    """The UTF-8 document, indented: the bytes ElementTree's writer makes of these trees (a
    test holds the two equal), written by `_markup`. ElementTree's writer walks each tree twice
    (names, then markup) through a text stream: an empty Atom and RSS pair took 88 us against
    48, one of 20 entries 906 against 706, and a cold start writes a pair for every trial, a
    release one for each changed trial and each of its subscribers."""
    ET.indent(root)
    declared = f' xmlns="{ATOM}"' if root.tag.startswith(_IN_ATOM) else ""
    out = [XML_DECLARATION]
    _markup(root, out, declared)
    return "".join(out).encode("utf-8")


_IN_ATOM = f"{{{ATOM}}}"  # the Atom elements' tags; written unprefixed, in the default namespace


def _markup(element: ET.Element, out: list[str], declared: str = "") -> None:
    """`element` and what it holds as XML text, its tail too, as ElementTree writes them:
    attributes in the order set, `&`, `<` and `>` escaped (and quotes and line breaks in
    attribute values), an empty element closed as `<tag />`; an entry already written out as
    it was written."""
    if isinstance(element, _Written):
        out.append(element.markup)
    else:
        tag = element.tag.removeprefix(_IN_ATOM)
        out.append(f"<{tag}{declared}")
        for key, value in element.items():
            out.append(f' {key}="{_escape_attribute(value)}"')
        if element.text or len(element):
            out.append(">")
            if element.text:
                out.append(_escape_text(element.text))
            for child in element:
                _markup(child, out)
            out.append(f"</{tag}>")
        else:
            out.append(" />")
    if element.tail:
        out.append(_escape_text(element.tail))


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    for raw, entity in _ATTRIBUTE_ENTITIES:
        if raw in text:
            text = text.replace(raw, entity)
    return text


_ATTRIBUTE_ENTITIES = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
    ("\r", "&#13;"),
    ("\n", "&#10;"),
    ("\t", "&#09;"),
)
