"""Reading text out of real-world mail: headers, bodies in any charset, and a reply's own words.

Everything here is defensive: mail in the wild has wrong charsets, broken encodings, HTML-only
bodies and quote headers in every language. Nothing here raises on bad input.
"""

from __future__ import annotations

import codecs
import re
from email.errors import MessageError
from email.header import decode_header, make_header
from email.message import Message
from html import unescape
from html.parser import HTMLParser

__all__ = ["words_pattern", "readable", "header", "headers", "decode_bytes", "part_text", "body_text", "html_to_text", "own_text", "strip_quotes", "strip_signature"]


# What decoding mail that lies about itself raises: unknown charsets, broken base64 or quoted-printable,
# malformed encoded words. Anything else is a bug and goes to classify_message's one catch.
_UNDECODABLE = (MessageError, LookupError, UnicodeError, ValueError, TypeError)


def readable(value: object) -> str:
    """A header value as readable text ('' for None): RFC 2047 words decoded, whitespace folded.
    Plain ASCII without encoded words (most headers) skips the decoder, which would return it as is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.isascii() and "=?" not in value:
        return " ".join(value.split())
    try:
        text = str(make_header(decode_header(str(value))))
    except _UNDECODABLE:
        text = str(value)  # an encoded word with a bad charset or broken base64: show it as sent
    return " ".join(text.split())


def header(msg: Message, name: str) -> str:
    """One header as readable text ('' when absent)."""
    return readable(msg.get(name))


def headers(msg: Message, name: str) -> list[str]:
    """Every occurrence of a header, decoded."""
    return [readable(value) for value in msg.get_all(name) or []]


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes to text with the declared charset, falling back sensibly when it lies or is unknown."""
    candidates = []
    if charset:
        charset = charset.strip().strip('"').lower()
        aliases = {"utf8": "utf-8", "unicode-1-1-utf-7": "utf-7", "x-unknown": "", "unknown-8bit": "", "ks_c_5601-1987": "cp949"}
        charset = aliases.get(charset, charset)
        if charset in {"iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"}:
            charset = "cp1252"  # Windows mislabels cp1252 as latin-1 all the time; superset for printables
        if charset:
            candidates.append(charset)
    candidates += ["utf-8", "cp1252"]
    for candidate in candidates:
        try:
            codecs.lookup(candidate)
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1", errors="replace")


def part_text(part: Message) -> str:
    """The decoded text of one non-multipart part ('' when it has none)."""
    try:
        payload = part.get_payload(decode=True)
    except _UNDECODABLE:
        payload = None  # a transfer encoding the library cannot undo: fall back to the raw text
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw
        return ""
    try:
        charset = part.get_content_charset()
    except _UNDECODABLE:
        charset = None  # an RFC 2231 charset parameter in an unknown encoding
    return decode_bytes(payload, charset)


def _walk_text(msg: Message, *, skip_attached: bool):
    """Yield (content_type, part) for text leaves, not descending into attached messages if asked."""
    stack = [msg]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        if part.is_multipart():
            if skip_attached and ctype.startswith("message/") and part is not msg:
                continue
            payload = part.get_payload()
            if isinstance(payload, list):
                stack = list(payload) + stack
            continue
        disposition = str(part.get("Content-Disposition", "")).lower()
        if ctype.startswith("text/") and "attachment" not in disposition:
            yield ctype, part
        elif ctype.startswith("multipart/") and isinstance(part.get_payload(), str):
            yield "text/plain", part  # a multipart whose boundary was lost: its raw text beats nothing


def body_text(msg: Message) -> str:
    """The readable body: text/plain parts, or HTML converted to text when there is no plain part."""
    plain, html = [], []
    for ctype, part in _walk_text(msg, skip_attached=True):
        if ctype == "text/plain":
            plain.append(part_text(part))
        elif ctype == "text/html":
            html.append(part_text(part))
    if any(p.strip() for p in plain):
        text = "\n".join(plain)
    elif html:
        text = "\n".join(html_to_text(h) for h in html)
    else:
        text = ""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")


def html_body_own_text(msg: Message) -> str | None:
    """The HTML body as text without its quoted blocks, or None when there is no HTML body."""
    html = [part_text(p) for ctype, p in _walk_text(msg, skip_attached=True) if ctype == "text/html"]
    if not html:
        return None
    return "\n".join(html_to_text(h, drop_quotes=True) for h in html).replace("\xa0", " ")


class _HTMLText(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr", "pre"}
    SKIP = {"style", "script", "head", "title"}
    QUOTE_MARKERS = ("gmail_quote", "divrplyfwdmsg", "appendonsend", "moz-cite-prefix", "yahoo_quoted", "x_divrplyfwdmsg", "outlookmessageheader", "ms-outlook-mobile-reference-message")

    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip_depth = 0
        self.drop_quotes = drop_quotes
        self.quote_depth = 0
        self.stack: list[tuple[str, bool]] = []
        self.stopped = False

    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if tag in self.BLOCK:
            self.out.append("\n")
        if tag in {"br", "hr", "img", "meta", "link", "input"}:
            return
        quote = False
        if self.drop_quotes:
            attr = " ".join(f"{k}={v}" for k, v in attrs if v).lower()
            if tag == "blockquote" or any(m in attr for m in self.QUOTE_MARKERS):
                quote = True
            if "divrplyfwdmsg" in attr or "appendonsend" in attr or "ms-outlook-mobile" in attr:
                self.stopped = True  # Outlook: everything after the reply header is history
        self.stack.append((tag, quote or tag in self.SKIP))
        if quote or tag in self.SKIP:
            self.skip_depth += 1

    def handle_endtag(self, tag):
        tag = tag.lower()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _, skipping in self.stack[i:]:
                    if skipping:
                        self.skip_depth -= 1
                del self.stack[i:]
                break
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip_depth or self.stopped:
            return
        self.out.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str, *, drop_quotes: bool = False) -> str:
    """HTML to plain text with line breaks at block elements; optionally drop quoted blocks."""
    parser = _HTMLText(drop_quotes)
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.out)
    except (AssertionError, ValueError, IndexError):  # html.parser on badly broken markup
        text = unescape(re.sub(r"<[^>]+>", " ", html))
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- a reply's own words -------------------------------------------------------------------------

_WROTE = r"(?:wrote|writes|schrieb|a\s+écrit|a\s+ecrit|escribió|escribio|escreveu|ha\s+scritto|schreef|skrev|napisał)"
_QUOTE_HEADER = re.compile(
    r"^[ \t]*(?:On|Am|Le|El|Em|Il|Op|Den|Den\s\S+|W\s+dniu|Dne)\b[^\n]{0,200}(?:\n[ \t]*[^\s][^\n]{0,200}){0,2}?" + _WROTE + r"[^\n]{0,40}:?[ \t]*$"
    r"|^[^\n]{0,120}\b" + _WROTE + r"\s*:[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL = re.compile(
    r"^[ \t]*[-_=*]{2,}[ \t]*(?:Original Message|Forwarded message|Ursprüngliche Nachricht|Originalnachricht|"
    r"Mensaje original|Message d'origine|Message original|Mensagem original|Messaggio originale|Oorspronkelijk bericht|"
    r"Weitergeleitete Nachricht|Mensaje reenviado|Message transféré|Mensagem encaminhada)[ \t]*[-_=*]*[ \t]*$"
    r"|^[ \t]*_{8,}[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_FROM_WORDS = r"(?:From|De|Von|Da|Van|Från|Fra|Od)"
_SENT_WORDS = r"(?:Sent|Date|Enviad[oa](?: em| el)?|Fecha|Envoyé|Envoye|Date|Gesendet|Datum|Inviato|Data|Verzonden|Skickat)"
_OUTLOOK = re.compile(
    r"^[ \t]*\*?" + _FROM_WORDS + r"\*?[ \t]*:[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*\*?" + _SENT_WORDS + r"\*?[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_MOBILE = re.compile(
    r"^[ \t]*(?:Sent from my \w+|Sent from (?:Outlook|Mail|Yahoo Mail|my mobile)[^\n]*|Get Outlook for \w+[^\n]*|"
    r"Enviado desde mi \w+|Enviado do meu \w+|Envoyé de mon \w+|Envoyé depuis mon \w+|Von meinem \w+ gesendet|"
    r"Inviato da[l]? (?:mio )?\w+)[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_SIGN_OFF = re.compile(
    r"^[ \t]*(?:best|best regards|best wishes|kind regards|regards|warm regards|warmly|many thanks|thanks|thank you|thanks again|"
    r"cheers|sincerely|yours sincerely|yours truly|respectfully|all the best|"
    r"saludos|un saludo|saludos cordiales|atentamente|cordialmente|gracias|muchas gracias|un abrazo|"
    r"cordialement|bien cordialement|bien à vous|salutations|merci|amicalement|"
    r"mit freundlichen grüßen|mit freundlichen gruessen|freundliche grüße|viele grüße|beste grüße|liebe grüße|mfg|gruß|grüße|danke|"
    r"atenciosamente|abraços|abraço|obrigad[oa]|cumprimentos|att|att\.|"
    r"cordiali saluti|distinti saluti|saluti|grazie)[ \t]*[,.!]?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def own_text(text: str) -> str:
    """The new words of a reply: quoted history, quote headers and signature removed."""
    return strip_signature(strip_quotes(text))


def strip_quotes(text: str) -> str:
    """The reply without its quoted history.

    Top-posted history (Outlook, Gmail, Apple Mail) is cut at its header; history quoted with ">"
    (Thunderbird, interleaved or bottom-posted answers) is dropped line by line so that the
    answers between the quotes stay.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = len(text)
    for match in _QUOTE_HEADER.finditer(text):
        following = text[match.end():].lstrip("\n ").split("\n", 1)[0]
        if following.lstrip().startswith(">"):
            text = text[: match.start()] + "\n" * match.group(0).count("\n") + text[match.end():]
            return strip_quotes(text)
        cut = match.start()
        break
    for pattern in (_ORIGINAL, _OUTLOOK, _MOBILE):
        for match in pattern.finditer(text, 0, cut):
            if text[: match.start()].strip():
                cut = min(cut, match.start())
                break
    text = text[:cut]
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def strip_signature(text: str) -> str:
    """The text without a "-- " signature, a sign-off and the name or title lines after it."""
    lines = text.split("\n")
    # "-- " signature separator (also "--" alone, which mailers often produce after trimming).
    for i, line in enumerate(lines):
        if line.rstrip() in {"--", "-- ", "—", "__"} and "\n".join(lines[:i]).strip():
            lines = lines[:i]
            break
    text = "\n".join(lines).strip()
    # A sign-off followed by a few short lines (name, title, phone) ends the message.
    for match in _SIGN_OFF.finditer(text):
        before, after = text[: match.start()].strip(), text[match.end():].strip()
        if not before:
            continue
        rest = [line for line in after.split("\n") if line.strip()]
        if len(rest) <= 8 and all(len(line) < 80 for line in rest):
            text = before
            break
    # A last paragraph that is only a name ("Amani", "Dr. Park", "J. Okafor") is a signature too.
    paragraphs = re.split(r"\n[ \t]*\n", text.strip())
    if len(paragraphs) > 1 and _NAME_LINE.fullmatch(paragraphs[-1].strip()) and paragraphs[-1].strip().lower().rstrip(".!") not in _NOT_NAMES:
        text = "\n\n".join(paragraphs[:-1])
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_NAME_LINE = re.compile(r"(?:(?:Dr|Prof|Mr|Mrs|Ms|Dra|Sr|Sra)\.?\s+)?[A-ZÀ-Ý][\w'’-]*\.?(?:\s+[A-ZÀ-Ý][\w'’-]*\.?){0,3}(?:,\s*(?:MD|PhD|DO|RN|MBBS))?")
_NOT_NAMES = {"yes", "no", "ok", "okay", "sure", "thanks", "thank you", "stop", "unsubscribe", "great", "perfect", "agreed", "sounds good"}


def words_pattern(words) -> str:
    """A regex matching any of `words`, shared prefixes factored out ("ab(?:c|d)"): the engine then
    tries one branch per letter instead of every word at every position."""
    trie: dict = {}
    for word in set(words):
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        if "" in node and len(node) == 1:
            return ""
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)
