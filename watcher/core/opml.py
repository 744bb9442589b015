"""The watched trials' feeds as one OPML 2.0 file: a feed reader imports it and follows them all.

OPML is what feed readers exchange subscription lists in (opml.org/spec2.opml): one `outline`
per feed, `type="rss"` (the spec's word for any feed, Atom included), with its `xmlUrl` and
`htmlUrl`. Pure: the URLs and the time are handed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET


@dataclass(frozen=True, slots=True)
class FeedLink:
    """One trial's feed: its title, the feed's address and its page's."""

    title: str
    xml_url: str
    html_url: str


def opml(title: str, feeds: Iterable[FeedLink], now: datetime) -> bytes:
    """The OPML document, UTF-8, one outline per feed in the order given."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=feed.title,
            title=feed.title,
            xmlUrl=feed.xml_url,
            htmlUrl=feed.html_url,
        )
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"
